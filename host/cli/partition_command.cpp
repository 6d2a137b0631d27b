// l5sim partition (cli/commands.hpp): how a config would split over ranks, and, from a run's
// spikes.h5, what the ranks would send each other (docs/SCALING.md).
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "io/spike_file.hpp"
#include "l5sim/error.hpp"
#include "l5sim/output.hpp"
#include "l5sim/partition.hpp"

namespace l5sim::cli {

namespace {

double mib(uint64_t b) { return double(b) / (1024.0 * 1024.0); }

nlohmann::json to_json(const Config& cfg, const PartitionReport& r) {
    nlohmann::json j;
    j["ranks"] = r.ranks;
    j["layout"] = cfg.layout == Layout::ring ? "ring" : "sheet";
    j["min_delay_steps"] = r.min_delay_steps;
    for (const RankLoad& l : r.rank) {
        nlohmann::json x;
        for (size_t p = 0; p < cfg.populations.size(); ++p)
            x["cells"][cfg.populations[p].name] = l.cells[p];
        x["synapses"] = l.synapses;
        x["local_inputs"] = l.local_inputs;
        x["connectivity_bytes"] = l.connectivity_bytes;
        x["row_index_bytes"] = l.row_index_bytes;
        x["state_bytes"] = l.state_bytes;
        x["pre_trace_bytes"] = l.pre_trace_bytes;
        x["subscribed"] = l.subscribed;
        x["held_sources"] = l.held_sources;
        j["rank"].push_back(x);
    }
    if (r.has_exchange) {
        const ExchangeLoad& e = r.exchange;
        j["exchange"] = {
            {"window_steps", e.window_steps},           {"windows", e.windows},
            {"sparse_mean_bytes", e.sparse_mean},       {"sparse_max_bytes", e.sparse_max},
            {"allgather_mean_bytes", e.allgather_mean}, {"allgather_max_bytes", e.allgather_max}};
    }
    return j;
}

}  // namespace

int cmd_partition(const PartitionArgs& a) {
    const Batch batch = load(a.config, a.sets, "", 0);
    if (batch.is_sweep) throw ConfigError(a.config + ": partition takes a single run, not a sweep");
    const Config& cfg = batch.configs.front();
    std::vector<SpikeTrain> spikes;
    if (!a.spikes.empty()) {
        if (!std::filesystem::is_regular_file(a.spikes))
            throw ConfigError("--spikes " + a.spikes + ": no such file (a spikes.h5 of a run of " +
                              a.config + ")");
        std::vector<std::string> names;
        for (const auto& p : cfg.populations) names.push_back(p.name);
        spikes = read_spike_file(a.spikes, names);
    }
    const PartitionReport r = partition_report(cfg, a.ranks, a.spikes.empty() ? nullptr : &spikes);
    uint32_t rx = 1, ry = a.ranks;
    rank_grid(a.ranks, &rx, &ry);
    std::cout << fmt::format("{} over {} ranks ({}); shortest delay {} steps\n", a.config, a.ranks,
                             cfg.layout == Layout::ring
                                 ? std::string("ring: contiguous ranges of ids")
                                 : fmt::format("sheet: {} x {} tiles of the torus", rx, ry),
                             r.min_delay_steps);
    std::cout << fmt::format("{:>4} {:>9} {:>11} {:>7} {:>12} {:>10} {:>9} {:>10} {:>11}\n", "rank",
                             "cells", "synapses", "local", "conn. MiB", "row idx", "state",
                             "pre tr.", "subscribed");
    for (uint32_t k = 0; k < r.ranks; ++k) {
        const RankLoad& l = r.rank[k];
        uint64_t cells = 0;
        for (uint32_t c : l.cells) cells += c;
        std::cout << fmt::format(
            "{:>4} {:>9} {:>11} {:>6.1f}% {:>12.2f} {:>10.2f} {:>9.2f} {:>10.2f} {:>11}\n", k,
            cells, l.synapses,
            l.synapses ? 100.0 * double(l.local_inputs) / double(l.synapses) : 0.0,
            mib(l.connectivity_bytes), mib(l.row_index_bytes), mib(l.state_bytes),
            mib(l.pre_trace_bytes), l.subscribed);
    }
    if (r.has_exchange) {
        const ExchangeLoad& e = r.exchange;
        std::cout << fmt::format(
            "exchange per window of {} steps ({} windows), bytes sent per rank (8 per spike and "
            "receiving rank):\n{:>4} {:>13} {:>12} {:>16} {:>15}\n",
            e.window_steps, e.windows, "rank", "sparse mean", "sparse max", "allgather mean",
            "allgather max");
        for (uint32_t k = 0; k < r.ranks; ++k)
            std::cout << fmt::format("{:>4} {:>13.1f} {:>12} {:>16.1f} {:>15}\n", k,
                                     e.sparse_mean[k], e.sparse_max[k], e.allgather_mean[k],
                                     e.allgather_max[k]);
    }
    if (!a.json.empty()) write_text(a.json, to_json(cfg, r).dump(2) + "\n");
    return 0;
}

}  // namespace l5sim::cli
