// Network building (MODEL.md section 7): dense Gaussian ring and sparse fixed in-degree torus
// sheet, generated per target cell (O(K) each, OpenMP) and sorted into CSR by source.
#include "l5sim/network.hpp"

#include <fmt/format.h>
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numbers>

#include "l5sim/error.hpp"
#include "l5sim/model/connectivity.hpp"
#include "l5sim/model/synapse.hpp"
#include "l5sim/partition.hpp"

namespace l5sim {

namespace model {
double ring_distance(uint32_t i, uint32_t n_i, uint32_t j, uint32_t n_j) {
    const double a = 2 * std::numbers::pi * (static_cast<double>(i) / n_i);
    const double b = 2 * std::numbers::pi * (static_cast<double>(j) / n_j);
    return 2 * std::abs(std::sin((a - b) / 2));
}
}  // namespace model

uint64_t Connectivity::bytes() const {
    return row_ptr.size() * sizeof(uint64_t) + src_gid.size() * sizeof(uint32_t) +
           target.size() * sizeof(uint32_t) + weight.size() * sizeof(float) +
           delay.size() * sizeof(uint8_t) + rev.size() * sizeof(uint32_t) +
           rev_src.size() * sizeof(uint32_t);
}

double Connectivity::bytes_per_synapse() const {
    if (target.empty()) return 0;
    return static_cast<double>(bytes()) / static_cast<double>(target.size());
}

uint64_t Network::synapses() const {
    uint64_t n = 0;
    for (const auto& p : projections) n += p.size();
    return n;
}

uint64_t Network::bytes() const {
    uint64_t b = 0;
    for (const auto& p : projections) b += p.bytes();
    return b;
}

static double gaussian_weight(double A, double sigma, double d) {
    return A * std::exp(-d * d / (2 * sigma * sigma)) / (sigma * std::sqrt(2 * std::numbers::pi));
}

double dense_ring_total(double A, double sigma, uint32_t n, bool exclude_self) {
    double total = 0;
    for (uint32_t j = exclude_self ? 1 : 0; j < n; ++j)
        total += gaussian_weight(A, sigma, model::ring_distance(0, n, j, n));
    return total;
}

uint32_t grid_side(uint32_t n) {
    auto side = static_cast<uint32_t>(std::sqrt(static_cast<double>(n)));
    while (static_cast<uint64_t>(side) * side < n) ++side;
    while (side > 1 && static_cast<uint64_t>(side - 1) * (side - 1) >= n) --side;
    return side;
}

namespace {

// Per-target lists (target-major): src[t*K + k], w, delay.
struct Draws {
    uint32_t K = 0;
    std::vector<uint32_t> src;
    std::vector<float> w;
    std::vector<uint8_t> delay;
};

// The draws of `count` targets, the i-th being target_at(i) (a global id of the target
// population): every target of the projection (build_projection), or a rank's (its part).
template <class TargetAt>
Draws draw_dense_ring(const Config& cfg, const ProjectionConfig& p, uint32_t count,
                      TargetAt target_at) {
    const auto n_src = cfg.populations[p.source].n;
    const auto n_tgt = cfg.populations[p.target].n;
    const bool skip_self = p.source == p.target && !p.autapses;
    Draws d;
    d.K = n_src - (skip_self ? 1 : 0);
    const uint64_t total = static_cast<uint64_t>(d.K) * count;
    d.src.resize(total);
    d.w.resize(total);
    d.delay.assign(total, static_cast<uint8_t>(cfg.to_steps(p.delay_ms)));
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < int64_t(count); ++i) {
        const uint32_t t = target_at(i);
        uint64_t slot = static_cast<uint64_t>(i) * d.K;
        for (uint32_t j = 0; j < n_src; ++j) {
            if (skip_self && j == t) continue;
            const double dist = model::ring_distance(t, n_tgt, j, n_src);
            d.src[slot] = j;
            d.w[slot] = static_cast<float>(gaussian_weight(p.A, p.sigma, dist));
            ++slot;
        }
    }
    return d;
}

}  // namespace

model::SheetDraw sheet_draw_params(const Config& cfg, uint32_t proj_index) {
    const auto& p = cfg.projections[proj_index];
    const auto n_src = cfg.populations[p.source].n;
    const auto n_tgt = cfg.populations[p.target].n;
    model::SheetDraw sd{};
    sd.seed = cfg.seed;
    sd.stream = model::stream_id(model::StreamKind::connect, proj_index);
    sd.n_src = n_src;
    sd.side_src = grid_side(n_src);
    sd.n_tgt = n_tgt;
    sd.side_tgt = grid_side(n_tgt);
    sd.sigma = static_cast<float>(p.sigma);
    sd.jitter = cfg.sheet.positions == "jittered" ? 1.0f : 0.0f;
    sd.pos_stream_src = model::stream_id(model::StreamKind::positions, p.source);
    sd.pos_stream_tgt = model::stream_id(model::StreamKind::positions, p.target);
    sd.same_population = p.source == p.target;
    sd.autapses = p.autapses;
    sd.delay_min_steps = static_cast<uint32_t>(cfg.to_steps(p.delay_min_ms));
    sd.steps_per_unit = static_cast<float>(1.0 / (p.conduction_speed * cfg.dt_ms));
    sd.delay_max_steps = 255;
    return sd;
}

model::SourceRule source_rule(const Config& cfg, uint32_t j) {
    const auto& p = cfg.projections[j];
    model::SourceRule r{};
    r.sheet = p.rule == ConnRule::sparse;
    r.skip_self = p.rule == ConnRule::dense && p.source == p.target && !p.autapses;
    if (r.sheet) r.draw = sheet_draw_params(cfg, j);
    return r;
}

float sparse_weight(const ProjectionConfig& p) {
    const bool exclude_self = p.source == p.target && !p.autapses;
    return static_cast<float>(
        dense_ring_total(p.A, p.dense_equivalent_sigma, p.dense_equivalent_sources, exclude_self) /
        p.K);
}

namespace {

template <class TargetAt>
Draws draw_sparse_sheet(const Config& cfg, const ProjectionConfig& p, uint32_t proj_index,
                        uint32_t count, TargetAt target_at) {
    const model::SheetDraw sd = sheet_draw_params(cfg, proj_index);
    Draws d;
    d.K = p.K;
    const uint64_t total = static_cast<uint64_t>(d.K) * count;
    d.src.resize(total);
    d.delay.resize(total);
    d.w.assign(total, sparse_weight(p));
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < int64_t(count); ++i) {
        const uint32_t t = target_at(i);
        for (uint32_t k = 0; k < d.K; ++k) {
            uint32_t s, steps;
            model::sheet_draw_source(sd, t, k, &s, &steps);
            const uint64_t slot = static_cast<uint64_t>(i) * d.K + k;
            d.src[slot] = s;
            d.delay[slot] = static_cast<uint8_t>(steps);
        }
    }
    return d;
}

// Stable counting sort of the target-major draws into CSR by source; the reverse index is the
// CSR position of each (target, k) draw.
// `compact`: rows only for the sources that occur (a rank's part: src_gid, and d.src turned
// into row numbers), else one row per source cell.
Connectivity to_csr(Draws&& d, uint32_t n_src, uint32_t n_tgt, bool plastic, bool compact) {
    Connectivity c;
    c.n_src = n_src;
    c.n_tgt = n_tgt;
    c.in_degree = d.K;
    const uint64_t total = d.src.size();
    if (total >= (uint64_t(1) << 32) && plastic)
        throw Error("a plastic projection has " + std::to_string(total) +
                    " synapses; the reverse index holds at most 2^32 - 1 per projection");
    uint32_t rows = n_src;
    if (compact) {
        c.src_gid = d.src;
        std::sort(c.src_gid.begin(), c.src_gid.end());
        c.src_gid.erase(std::unique(c.src_gid.begin(), c.src_gid.end()), c.src_gid.end());
        c.src_gid.shrink_to_fit();
        rows = static_cast<uint32_t>(c.src_gid.size());
#pragma omp parallel for schedule(static) if (total >= 65536)
        for (int64_t i = 0; i < static_cast<int64_t>(total); ++i)
            d.src[i] = static_cast<uint32_t>(
                std::lower_bound(c.src_gid.begin(), c.src_gid.end(), d.src[i]) - c.src_gid.begin());
    }
    c.row_ptr.assign(static_cast<size_t>(rows) + 1, 0);
    for (uint64_t i = 0; i < total; ++i) ++c.row_ptr[d.src[i] + 1];
    for (uint32_t s = 0; s < rows; ++s) c.row_ptr[s + 1] += c.row_ptr[s];
    std::vector<uint64_t> cursor(c.row_ptr.begin(), c.row_ptr.end() - 1);
    c.target.resize(total);
    c.weight.resize(total);
    c.delay.resize(total);
    if (plastic) c.rev.resize(total);
    if (plastic) c.rev_src.resize(total);
    for (uint64_t i = 0; i < total; ++i) {
        const uint64_t pos = cursor[d.src[i]]++;
        c.target[pos] = static_cast<uint32_t>(i / d.K);
        c.weight[pos] = d.w[i];
        c.delay[pos] = d.delay[i];
        if (plastic) {
            c.rev[i] = static_cast<uint32_t>(pos);
            c.rev_src[i] = d.src[i];
        }
    }
    c.max_delay_steps = 0;
    c.w_init_max = 0;
    for (uint64_t i = 0; i < total; ++i) {
        c.max_delay_steps = std::max<uint32_t>(c.max_delay_steps, c.delay[i]);
        c.w_init_max = std::max(c.w_init_max, c.weight[i]);
    }
    return c;
}

}  // namespace

float stdp_w_max(const ProjectionConfig& p, float w_init_max) {
    if (!p.stdp) return 0;
    return static_cast<float>(p.stdp->w_max_nS > 0 ? p.stdp->w_max_nS
                                                   : p.stdp->w_max_factor * w_init_max);
}

namespace {

// The projection's draws for `count` targets (target_at(i): the i-th), in CSR by source.
template <class TargetAt>
Connectivity build_targets(const Config& cfg, uint32_t j, uint32_t count, TargetAt target_at,
                           bool compact) {
    const auto& p = cfg.projections[j];
    Draws d = p.rule == ConnRule::dense ? draw_dense_ring(cfg, p, count, target_at)
                                        : draw_sparse_sheet(cfg, p, j, count, target_at);
    return to_csr(std::move(d), cfg.populations[p.source].n, count, p.stdp.has_value(), compact);
}

}  // namespace

void set_global_bounds(const Config& cfg, uint32_t j, float w_init_max, Connectivity* c) {
    const auto& p = cfg.projections[j];
    c->w_max = stdp_w_max(p, w_init_max);
    c->fixed_exponent =
        ring_fixed_exponent(p.location, c->in_degree, std::max(w_init_max, c->w_max));
}

Connectivity build_projection(const Config& cfg, uint32_t j) {
    Connectivity c = build_targets(
        cfg, j, cfg.populations[cfg.projections[j].target].n,
        [](int64_t i) { return static_cast<uint32_t>(i); }, false);
    set_global_bounds(cfg, j, c.w_init_max, &c);
    return c;
}

Connectivity build_projection_part(const Config& cfg, uint32_t j,
                                   const std::vector<uint32_t>& targets) {
    const uint32_t n_tgt = cfg.populations[cfg.projections[j].target].n;
    for (size_t i = 0; i < targets.size(); ++i)
        if (targets[i] >= n_tgt || (i > 0 && targets[i] <= targets[i - 1]))
            throw Error("build_projection_part: targets must be ascending ids below " +
                        std::to_string(n_tgt));
    Connectivity c = build_targets(
        cfg, j, static_cast<uint32_t>(targets.size()), [&](int64_t i) { return targets[i]; }, true);
    set_global_bounds(cfg, j, c.w_init_max, &c);  // the part's own until the ranks agree
    return c;
}

int ring_fixed_exponent(const std::string& where, uint32_t in_degree, float w_peak) {
    // Each arrival is truncated toward zero, so a step's sum is at most in_degree * w_peak * 2^e
    // (the product is exact in double).
    const double most = static_cast<double>(in_degree) * static_cast<double>(w_peak);
    for (int e = model::kMaxFixedExponent; e >= 0; --e)
        if (std::ldexp(most, e) <= 2147483647.0) return e;
    // A property of the config alone (K or the source count, A, w_max): a config error, exit 2.
    throw ConfigError(fmt::format(
        "{}: up to {:.4g} nS can arrive at one cell in one step ({} synapses of up to {:.4g} nS); "
        "the delay ring holds at most 2^31 - 1 nS per cell and step: reduce K or the weights "
        "(connectivity.A, stdp.w_max_nS or w_max_factor)",
        where, most, in_degree, w_peak));
}

Network build_network(const Config& cfg) {
    Network net;
    for (uint32_t j = 0; j < cfg.projections.size(); ++j)
        net.projections.push_back(build_projection(cfg, j));
    return net;
}

uint64_t projection_synapses(const Config& cfg, const ProjectionConfig& p) {
    const uint64_t n_src = cfg.populations[p.source].n, n_tgt = cfg.populations[p.target].n;
    const bool skip_self = p.source == p.target && !p.autapses;
    return (p.rule == ConnRule::dense ? n_src - (skip_self ? 1 : 0) : p.K) * n_tgt;
}

uint64_t max_ring_slots(const Config& cfg, const ProjectionConfig& p) {
    if (p.rule == ConnRule::dense) return uint64_t(cfg.to_steps(p.delay_ms)) + 1;
    // The farthest torus point is sqrt(2)/2 away.
    return uint64_t(cfg.to_steps(p.delay_min_ms)) +
           uint64_t(std::ceil(0.70711 / (p.conduction_speed * cfg.dt_ms))) + 2;
}

namespace {

// estimate_bytes of a process holding cells[p] cells of each population (`rank`: a rank's
// share, whose rows carry a source id and cover at most its cells plus one per synapse).
uint64_t estimate_held_bytes(const Config& cfg, const std::vector<uint64_t>& cells, bool rank) {
    // In 128 bits, saturated at 2^64 - 1: a huge n times a huge K must not wrap to a small
    // estimate (and pass the check).
    using wide = unsigned __int128;
    wide bytes = 0;
    for (uint32_t p = 0; p < cfg.populations.size(); ++p) bytes += wide(cells.at(p)) * 96;  // state
    auto synapses = [&](const ProjectionConfig& p) {
        const wide n_src = cfg.populations[p.source].n, n_tgt = cells.at(p.target);
        return p.rule == ConnRule::dense
                   ? (n_src - (p.source == p.target && !p.autapses ? 1 : 0)) * n_tgt
                   : wide(p.K) * n_tgt;
    };
    // A rank gives every part from a population the same rows (set_rank_sources): its cells
    // and every source of any of those parts.
    std::vector<wide> rows_of(cfg.populations.size());
    for (uint32_t q = 0; q < cfg.populations.size(); ++q) rows_of[q] = cells.at(q);
    for (const auto& p : cfg.projections) rows_of[p.source] += synapses(p);
    // A rank finds its synapses' places in the single process's CSR (weight snapshots, the
    // weight blocks of checkpoints) one projection at a time, holding for a while 20 bytes per
    // synapse (their sources, targets, places and an order) and the buffers of one round of
    // 2^21 runs (mpi_engine.cpp positions_of): the largest such projection counts.
    wide placing = 0;
    if (rank) {
        std::vector<bool> placed(cfg.projections.size(), false);
        for (const auto& w : cfg.recording.weights)
            if (w.projection < placed.size()) placed[w.projection] = true;
        for (uint32_t j = 0; j < cfg.projections.size(); ++j)
            if (placed[j] || cfg.projections[j].stdp)
                placing = std::max(placing, synapses(cfg.projections[j]) * 20);
        if (placing) placing += wide(96) << 20;
    }
    bytes += placing;
    // A checkpoint (periodic, or at a signal or a health stop) takes a rank's share of each
    // block in turn (MpiEngine::read_block_to): the largest, a ring's rows for its cells, is
    // copied while rank 0 gathers pieces of at most 16 MiB (with their places: about 5 pieces).
    if (rank) {
        wide share = 0;
        for (const auto& p : cfg.projections)
            share = std::max(
                share, wide(max_ring_slots(cfg, p)) * cells.at(p.target) * sizeof(model::RingCell));
        bytes += share + (wide(96) << 20);
    }
    for (const auto& p : cfg.projections) {
        const wide n_src = cfg.populations[p.source].n, n_tgt = cells.at(p.target);
        const wide syn = synapses(p);
        const wide rows = rank ? std::min(n_src, rows_of[p.source]) : n_src;
        // draws (4+4+1) during the build + CSR (4+4+1) + reverse index and its sources + row
        // pointers (and a rank's rows' source ids).
        bytes += syn * (9 + 9 + (p.stdp ? 8 : 0)) + (rows + 1) * 8 + (rank ? rows * 4 : 0);
        // STDP traces: x and r2 per row, y and o2 per target (4 bytes each).
        bytes += wide(max_ring_slots(cfg, p)) * n_tgt * sizeof(model::RingCell) +
                 (p.stdp ? (rows + n_tgt) * 8 : 0);
    }
    // The cell lists of the config itself.
    for (const auto& i : cfg.injections) bytes += wide(i.cells.size()) * 4;
    for (const auto& e : cfg.schedule) bytes += wide(e.cells.size()) * 4;
    for (const auto& r : cfg.recording.probes) bytes += wide(r.cells.size()) * 4;
    return bytes > wide(UINT64_MAX) ? UINT64_MAX : static_cast<uint64_t>(bytes);
}

}  // namespace

uint64_t estimate_bytes(const Config& cfg) {
    std::vector<uint64_t> all;
    for (const auto& pop : cfg.populations) all.push_back(pop.n);
    return estimate_held_bytes(cfg, all, false);
}

uint64_t estimate_rank_bytes(const Config& cfg, const std::vector<uint64_t>& cells) {
    return estimate_held_bytes(cfg, cells, true);
}

namespace {

// A number from the first line of a file (cgroup files: "max" or bytes); 0 when absent.
uint64_t read_number(const std::string& path, bool* unlimited = nullptr) {
    std::ifstream in(path);
    std::string word;
    if (!(in >> word)) return 0;
    if (word == "max") {
        if (unlimited) *unlimited = true;
        return 0;
    }
    try {
        return std::stoull(word);
    } catch (...) {
        return 0;
    }
}

// This process's cgroup (v2: "0::/path"; v1: the memory controller's line).
std::pair<std::string, bool> cgroup_path() {
    std::ifstream in("/proc/self/cgroup");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("0::", 0) == 0) return {line.substr(3), true};
        const auto a = line.find(':'), b = line.find(':', a + 1);
        if (a != std::string::npos && b != std::string::npos) {
            const std::string ctl = line.substr(a + 1, b - a - 1);
            if (ctl.find("memory") != std::string::npos) return {line.substr(b + 1), false};
        }
    }
    return {"", true};
}

}  // namespace

uint64_t host_available_bytes(bool address_space) {
    uint64_t have = 0;
    {
        std::ifstream meminfo("/proc/meminfo");
        std::string key;
        uint64_t kib = 0;
        while (meminfo >> key >> kib) {
            if (key == "MemAvailable:") {
                have = kib * 1024;
                break;
            }
            meminfo.ignore(256, '\n');
        }
    }
    auto limit = [&](uint64_t room) { have = have == 0 ? room : std::min(have, room); };
    // ulimit -v (RLIMIT_AS): what the address space may still grow by.
    rlimit rl{};
    if (address_space && getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        std::ifstream status("/proc/self/status");
        std::string key;
        uint64_t vm_kib = 0;
        for (uint64_t kib = 0; status >> key;) {
            if (key == "VmSize:" && status >> kib) {
                vm_kib = kib;
                break;
            }
            status.ignore(1 << 12, '\n');
        }
        const uint64_t used = vm_kib * 1024;
        limit(rl.rlim_cur > used ? rl.rlim_cur - used : 1);
    }
    // A cgroup's memory limit (containers, systemd slices): what it still allows.
    const auto [path, v2] = cgroup_path();
    const std::string base = v2 ? "/sys/fs/cgroup" + path : "/sys/fs/cgroup/memory" + path;
    bool unlimited = false;
    const uint64_t max =
        read_number(base + (v2 ? "/memory.max" : "/memory.limit_in_bytes"), &unlimited);
    // cgroup v1 says "no limit" with a number near 2^63.
    if (!unlimited && max > 0 && max < (uint64_t(1) << 60)) {
        const uint64_t cur =
            read_number(base + (v2 ? "/memory.current" : "/memory.usage_in_bytes"));
        limit(max > cur ? max - cur : 1);
    }
    return have;
}

}  // namespace l5sim
