// What each rank of a partition would hold and send (l5sim/partition.hpp: partition_report).
#include <algorithm>
#include <bit>
#include <cmath>

#include "io/spike_file.hpp"
#include "l5sim/error.hpp"
#include "l5sim/partition.hpp"
#include "l5sim/state_vars.hpp"

namespace l5sim {

PartitionReport partition_report(const Config& cfg, uint32_t ranks,
                                 const std::vector<SpikeTrain>* spikes) {
    if (ranks == 0 || ranks > 64) throw Error("--ranks: expected 1 to 64");
    PartitionReport out;
    out.ranks = ranks;
    out.rank.resize(ranks);
    const size_t n_pops = cfg.populations.size();
    // Per population and cell: its owner, and the other ranks that subscribe to it (bit r).
    std::vector<std::vector<uint32_t>> owner(n_pops);
    std::vector<std::vector<uint64_t>> subscribers(n_pops);
    for (uint32_t p = 0; p < n_pops; ++p) {
        subscribers[p].assign(cfg.populations[p].n, 0);
        owner[p].resize(cfg.populations[p].n);
        for (uint32_t c = 0; c < cfg.populations[p].n; ++c) owner[p][c] = rank_of(cfg, p, c, ranks);
    }
    int64_t min_delay = 255;
    for (uint32_t r = 0; r < ranks; ++r) {
        RankLoad& load = out.rank[r];
        std::vector<std::vector<uint32_t>> cells(n_pops);
        for (uint32_t p = 0; p < n_pops; ++p) {
            for (uint32_t c = 0; c < cfg.populations[p].n; ++c)  // cells_of, from the owners
                if (owner[p][c] == r) cells[p].push_back(c);
            load.cells.push_back(static_cast<uint32_t>(cells[p].size()));
            uint64_t per_cell = 1 + 8;  // spiked flag, spike list entry
            for (const VarInfo& v : kVarTable)
                if (has_var(v, cfg.populations[p].caps.has_dendrite,
                            cfg.populations[p].all_receptors))
                    per_cell += var_bytes(v);
            load.state_bytes += per_cell * cells[p].size();
        }
        // The rank's parts, then their rows as the rank holds them (make_rank_cpu_engine): a
        // population's own cells and the sources it subscribes to, the same for every part.
        Network net;
        for (uint32_t j = 0; j < cfg.projections.size(); ++j)
            net.projections.push_back(
                build_projection_part(cfg, j, cells[cfg.projections[j].target]));
        LocalCells local;
        local.gid = cells;
        set_rank_sources(cfg, &local, &net);
        for (uint32_t j = 0; j < cfg.projections.size(); ++j) {
            const auto& pc = cfg.projections[j];
            const Connectivity& part = net.projections[j];
            load.synapses += part.size();
            load.connectivity_bytes += part.bytes();
            load.row_index_bytes +=
                part.row_ptr.size() * sizeof(uint64_t) + part.src_gid.size() * sizeof(uint32_t);
            load.state_bytes += uint64_t(part.max_delay_steps + 1) * part.n_tgt * 4;  // ring
            if (pc.stdp) {
                load.state_bytes += uint64_t(part.n_tgt) * 8;       // y, o2
                load.pre_trace_bytes += uint64_t(part.rows()) * 8;  // x, r2
            }
            for (uint32_t row = 0; row < part.rows(); ++row) {
                const uint64_t len = part.row_ptr[row + 1] - part.row_ptr[row];
                if (!len) continue;
                const uint32_t s = part.source_of_row(row);
                if (owner[pc.source][s] == r) {
                    load.local_inputs += len;
                } else {
                    subscribers[pc.source][s] |= uint64_t(1) << r;
                }
            }
            if (part.size())
                min_delay = std::min<int64_t>(
                    min_delay, *std::min_element(part.delay.begin(), part.delay.end()));
        }
        for (uint32_t p = 0; p < n_pops; ++p) load.held_sources += local.sources[p].size();
    }
    for (uint32_t p = 0; p < n_pops; ++p)
        for (uint32_t c = 0; c < cfg.populations[p].n; ++c)
            for (uint64_t m = subscribers[p][c]; m; m &= m - 1)
                ++out.rank[std::countr_zero(m)].subscribed;
    out.min_delay_steps = cfg.projections.empty() ? 0 : min_delay;
    if (!spikes) return out;
    // The exchange: once per window of the shortest delay (every step with a zero delay).
    ExchangeLoad& x = out.exchange;
    out.has_exchange = true;
    x.window_steps = std::max<int64_t>(1, out.min_delay_steps);
    x.windows = static_cast<uint64_t>((cfg.steps() + x.window_steps - 1) / x.window_steps);
    std::vector<std::vector<uint64_t>> sparse(ranks, std::vector<uint64_t>(x.windows, 0));
    std::vector<std::vector<uint64_t>> gather(ranks, std::vector<uint64_t>(x.windows, 0));
    constexpr uint64_t kSpikeBytes = 8;  // cell id and step, 32 bits each
    for (uint32_t p = 0; p < n_pops && p < spikes->size(); ++p) {
        const SpikeTrain& s = (*spikes)[p];
        for (size_t k = 0; k < s.ids.size(); ++k) {
            if (s.ids[k] >= cfg.populations[p].n)
                throw Error("spikes of " + s.population + ": cell " + std::to_string(s.ids[k]) +
                            " beyond the config's " + std::to_string(cfg.populations[p].n));
            const auto step = static_cast<int64_t>(std::llround(s.t_ms[k] / cfg.dt_ms));
            const auto w = std::min<uint64_t>(x.windows - 1, uint64_t(step / x.window_steps));
            const uint32_t o = owner[p][s.ids[k]];
            sparse[o][w] += kSpikeBytes * uint64_t(std::popcount(subscribers[p][s.ids[k]]));
            gather[o][w] += kSpikeBytes * (ranks - 1);
        }
    }
    for (uint32_t r = 0; r < ranks; ++r) {
        auto mean = [&](const std::vector<uint64_t>& v) {
            double t = 0;
            for (uint64_t b : v) t += double(b);
            return v.empty() ? 0.0 : t / double(v.size());
        };
        x.sparse_mean.push_back(mean(sparse[r]));
        x.allgather_mean.push_back(mean(gather[r]));
        x.sparse_max.push_back(
            sparse[r].empty() ? 0 : *std::max_element(sparse[r].begin(), sparse[r].end()));
        x.allgather_max.push_back(
            gather[r].empty() ? 0 : *std::max_element(gather[r].begin(), gather[r].end()));
    }
    return out;
}

}  // namespace l5sim
