#pragma once
// What the distributed tests share (tests/engine/distributed_test.cpp, in one process;
// tests/mpi/, over MPI): a sheet and a ring that exercise every path of a step, running engines
// in lockstep window by window with each rank's spikes handed to the engines that need them,
// and the outcome to compare (the
// spikes of every population and every synapse's final weight, by global ids).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "l5sim/engine.hpp"
#include "l5sim/error.hpp"
#include "l5sim/network.hpp"
#include "l5sim/partition.hpp"
#include "run/controls.hpp"
#include "test_util.hpp"

namespace l5sim::test::dist {

// A config of tests/configs/ (shared with tests/python/test_mpi.py).
inline std::string ranks_config(const std::string& name) {
    std::ifstream in(std::string(L5SIM_SOURCE_DIR) + "/tests/configs/" + name);
    if (!in) throw Error("cannot read tests/configs/" + name);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// The sheet (tests/configs/ranks_sheet.yaml: jittered, delays 1-5 ms, a schedule, an injection,
// recordings) with STDP rule `rule`.
inline std::string sheet(const std::string& rule) {
    std::string text = ranks_config("ranks_sheet.yaml");
    const std::string plain = "stdp: {eta: 5}";
    const auto at = text.find(plain);
    if (at == std::string::npos) throw Error("ranks_sheet.yaml: no '" + plain + "'");
    return text.replace(at, plain.size(), "stdp: {rule: " + rule + ", eta: 5}");
}

// The ring with zero delays (tests/configs/ranks_ring.yaml).
inline std::string ring() { return ranks_config("ranks_ring.yaml"); }

struct Synapse {
    uint32_t src, tgt;
    float w;
    bool operator==(const Synapse&) const = default;
};

struct Outcome {
    std::vector<std::vector<std::pair<int64_t, uint32_t>>> spikes;  // per population, sorted
    std::vector<std::vector<Synapse>> synapses;                     // per projection, CSR order
    uint64_t events = 0;
};

// Steps `engines` (one process's, or a distributed engine's that maps single steps onto
// windows of one step) through steps [from, to) phase by phase.
inline void step_range(const Config& cfg, const std::vector<Engine*>& engines, int64_t from,
                       int64_t to) {
    std::vector<std::unique_ptr<Controls>> controls;
    for (Engine* e : engines) {
        controls.push_back(std::make_unique<Controls>(cfg, *e));
        controls.back()->resume_at(from);  // the knobs as they were before step `from`
    }
    for (int64_t n = from; n < to; ++n) {
        for (size_t r = 0; r < engines.size(); ++r) {
            controls[r]->apply(n);
            engines[r]->detect_spikes(n);
        }
        for (Engine* e : engines) {
            e->propagate(n);
            e->deliver(n);
            e->integrate_dendrites(n);
            e->integrate_somata(n);
            e->plasticity(n);
        }
    }
}

// Steps `engines` through [from, to) in windows of at most `window` steps, none across a knob
// change (as the Simulation places them): the knobs of each window's first step, then
// `run(step, count)`.
inline void window_range(const Config& cfg, const std::vector<Engine*>& engines, int64_t window,
                         const std::function<void(int64_t, int64_t)>& run, int64_t from,
                         int64_t to) {
    std::vector<std::unique_ptr<Controls>> controls;
    for (Engine* e : engines) {
        controls.push_back(std::make_unique<Controls>(cfg, *e));
        controls.back()->resume_at(from);
    }
    for (int64_t n = from; n < to;) {
        for (auto& c : controls) c->apply(n);
        const int64_t k = controls.front()->steady_steps(n, std::min(window, to - n));
        run(n, k);
        n += k;
    }
}

// Spikes and synapses in a canonical order: spikes by (step, id); synapses in the full CSR order
// (by source, then target; one target's draws in draw order, which each rank's rows keep, so the
// sort is stable).
inline void canonical(Outcome* out) {
    for (auto& sp : out->spikes) std::sort(sp.begin(), sp.end());
    for (auto& syn : out->synapses)
        std::stable_sort(syn.begin(), syn.end(), [](const Synapse& a, const Synapse& b) {
            return std::tie(a.src, a.tgt) < std::tie(b.src, b.tgt);
        });
}

// What `engines` hold after a run, by global ids (`cells[r]`: engine r's; empty: all cells).
inline Outcome outcome_of(const Config& cfg, const std::vector<Engine*>& engines,
                          const std::vector<LocalCells>& cells) {
    Outcome out;
    out.spikes.resize(cfg.populations.size());
    for (uint32_t p = 0; p < cfg.populations.size(); ++p) {
        for (Engine* e : engines) {
            SpikeRecord rec;
            e->take_spikes(p, &rec);
            for (size_t k = 0; k < rec.ids.size(); ++k)
                out.spikes[p].emplace_back(rec.steps[k], rec.ids[k]);
        }
    }
    out.synapses.resize(cfg.projections.size());
    for (uint32_t j = 0; j < cfg.projections.size(); ++j) {
        const uint32_t tpop = cfg.projections[j].target;
        for (size_t r = 0; r < engines.size(); ++r) {
            const uint64_t m = engines[r]->synapse_count(j);
            std::vector<uint32_t> src(m), tgt(m);
            std::vector<float> w(m);
            engines[r]->read_synapses(j, 1, m, src.data(), tgt.data());
            engines[r]->read_weights(j, 1, m, w.data());
            for (uint64_t i = 0; i < m; ++i) {
                const uint32_t t = cells.empty() ? tgt[i] : cells[r].gid[tpop][tgt[i]];
                out.synapses[j].push_back({src[i], t, w[i]});
            }
        }
    }
    for (Engine* e : engines) out.events += e->synaptic_events();
    canonical(&out);
    return out;
}

// A rank's share of cfg: its cells and the parts of every projection, with the bounds the ranks
// agree on (`w_init_max(j, local)`: the largest over the ranks, an all-reduce under MPI), and
// per population the sources its synapses need (subscribed_sources).
struct Share {
    LocalCells cells;
    Network net;
    std::vector<std::vector<uint32_t>> needs;
};
inline Share rank_share(const Config& cfg, uint32_t rank, uint32_t ranks,
                        const std::function<float(uint32_t, float)>& w_init_max) {
    Share sh;
    for (uint32_t p = 0; p < cfg.populations.size(); ++p)
        sh.cells.gid.push_back(cells_of(cfg, p, rank, ranks));
    for (uint32_t j = 0; j < cfg.projections.size(); ++j) {
        sh.net.projections.push_back(
            build_projection_part(cfg, j, sh.cells.gid[cfg.projections[j].target]));
        set_global_bounds(cfg, j, w_init_max(j, sh.net.projections.back().w_init_max),
                          &sh.net.projections.back());
    }
    sh.needs = set_rank_sources(cfg, &sh.cells, &sh.net);
    return sh;
}

inline Outcome whole(const Config& cfg) {
    auto engine = make_cpu_engine(cfg, build_network(cfg));
    step_range(cfg, {engine.get()}, 0, cfg.steps());
    return outcome_of(cfg, {engine.get()}, {});
}

// The engine of a rank: make_cpu_engine or make_cuda_engine over its cells and parts.
using RankEngineMaker = std::function<std::unique_ptr<Engine>(const Config&, Network, LocalCells)>;
inline std::unique_ptr<Engine> cpu_rank(const Config& cfg, Network net, LocalCells cells) {
    return make_cpu_engine(cfg, std::move(net), std::move(cells));
}

// R ranks' engines in this process: their cells, what their synapses need, and the longest
// window every one of them takes.
struct Ranks {
    std::vector<LocalCells> cells;
    std::vector<std::vector<std::vector<uint32_t>>> needs;
    std::vector<std::unique_ptr<Engine>> owned;
    std::vector<Engine*> engines;
    int64_t longest = 32;
};

// The engines of `ranks` ranks (`make`: the CPU engine's by default), with the bounds the ranks
// agree on.
inline Ranks make_ranks(const Config& cfg, uint32_t ranks, const RankEngineMaker& make = cpu_rank) {
    std::vector<float> agreed(cfg.projections.size(), 0);
    for (uint32_t r = 0; r < ranks; ++r)
        rank_share(cfg, r, ranks, [&](uint32_t j, float w) {
            agreed[j] = std::max(agreed[j], w);
            return w;
        });
    Ranks out;
    for (uint32_t r = 0; r < ranks; ++r) {
        auto sh = rank_share(cfg, r, ranks, [&](uint32_t j, float) { return agreed[j]; });
        out.owned.push_back(make(cfg, std::move(sh.net), sh.cells));
        out.engines.push_back(out.owned.back().get());
        out.longest = std::min(out.longest, out.engines.back()->max_window());
        out.cells.push_back(std::move(sh.cells));
        out.needs.push_back(std::move(sh.needs));
    }
    return out;
}

// Steps the ranks through [from, to) in windows of at most `window` steps, the exchange by
// hand: after each window's cells, each engine receives its own spikes and those of the cells
// its synapses need (what the MPI exchange carries), merged from the ranks in reverse order
// (any order must do).
inline void run_ranks(const Config& cfg, Ranks& rk, int64_t window, int64_t from, int64_t to) {
    const auto ranks = static_cast<uint32_t>(rk.engines.size());
    const size_t pops = cfg.populations.size();
    auto& engines = rk.engines;
    auto& needs = rk.needs;
    window_range(
        cfg, engines, window,
        [&](int64_t step, int64_t k) {
            for (Engine* e : engines) e->window_cells(step, k);
            for (uint32_t r = 0; r < ranks; ++r) {
                std::vector<std::vector<std::pair<int64_t, uint32_t>>> got(pops);
                for (uint32_t q = ranks; q-- > 0;) {
                    const WindowSpikes& w = engines[q]->window_spikes();
                    for (size_t p = 0; p < pops; ++p)
                        for (int64_t s = 0; s < k; ++s)
                            for (uint32_t i = w.start[p][s]; i < w.start[p][s + 1]; ++i) {
                                const uint32_t g = w.ids[p][i];
                                if (q == r ||
                                    std::binary_search(needs[r][p].begin(), needs[r][p].end(), g))
                                    got[p].emplace_back(s, g);
                            }
                }
                WindowSpikes all;
                all.reset(pops, step, k);
                for (size_t p = 0; p < pops; ++p) {
                    std::sort(got[p].begin(), got[p].end());
                    for (const auto& [s, g] : got[p]) {
                        all.ids[p].push_back(g);
                        ++all.start[p][s + 1];
                    }
                    for (int64_t s = 0; s < k; ++s) all.start[p][s + 1] += all.start[p][s];
                }
                engines[r]->window_synapses(all);
            }
        },
        from, to);
}

// Every rank in this process (run_ranks) through the whole run: windows of the engines' (the
// network's shortest delay), or of `window` steps when given; the ranks' engines from `make`
// (the CPU engine's by default).
inline Outcome split(const Config& cfg, uint32_t ranks, int64_t window = 0,
                     const RankEngineMaker& make = cpu_rank) {
    Ranks rk = make_ranks(cfg, ranks, make);
    run_ranks(cfg, rk, window > 0 ? window : rk.longest, 0, cfg.steps());
    return outcome_of(cfg, rk.engines, rk.cells);
}

// Block b of the whole network's layout (state_layout) as the engine of a rank holding `cells`
// (and `engine`'s synapses) has it: the rank's cells' share of per-cell blocks and rings, its
// rows' presynaptic traces, its synapses' weights; the counters whole (the rank's own counts).
inline StateBlock rank_block(const Config& cfg, const StateBlock& b, const LocalCells& cells,
                             const Engine& engine) {
    StateBlock local = b;
    if (b.kind == StateBlock::Kind::global) return local;
    if (b.kind == StateBlock::Kind::population) {
        if (b.var == "spikes" || b.var == "calcium_spikes") return local;
        local.count = b.count / cfg.populations[b.index].n * cells.gid[b.index].size();
        return local;
    }
    const auto& pc = cfg.projections[b.index];
    if (b.var == "ring")
        local.count = b.count / cfg.populations[pc.target].n * cells.gid[pc.target].size();
    else if (b.var == "y" || b.var == "o2")
        local.count = cells.gid[pc.target].size();
    else if (b.var == "x" || b.var == "r2")
        local.count = cells.sources[pc.source].size();
    else if (b.var == "weight")
        local.count = engine.synapse_count(b.index);
    return local;
}

// Every rank's state moved from one set of engines to another of the same shares between
// steps (what a checkpoint carries), block by block; `step`: the next step. Spikes must have
// been taken.
inline void move_state(const Config& cfg, Ranks& from, Ranks& to, int64_t step) {
    for (size_t r = 0; r < from.engines.size(); ++r) {
        for (const StateBlock& b : state_layout(cfg)) {
            const StateBlock local = rank_block(cfg, b, from.cells[r], *from.engines[r]);
            std::vector<uint8_t> bytes(local.bytes());
            from.engines[r]->read_block(local, step, bytes.data());
            to.engines[r]->write_block(local, step, bytes.data());
        }
    }
}

inline void expect_same(const Outcome& a, const Outcome& b) {
    ASSERT_EQ(a.spikes.size(), b.spikes.size());
    for (size_t p = 0; p < a.spikes.size(); ++p) {
        EXPECT_GT(a.spikes[p].size(), 20u) << "population " << p << " barely fires: a weak test";
        EXPECT_EQ(a.spikes[p], b.spikes[p]) << "population " << p;
    }
    for (size_t j = 0; j < a.synapses.size(); ++j)
        EXPECT_EQ(a.synapses[j], b.synapses[j]) << "projection " << j;
    EXPECT_EQ(a.events, b.events);
}

}  // namespace l5sim::test::dist
