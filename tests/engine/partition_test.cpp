// The partition of a network over ranks (l5sim/partition.hpp): every cell owned once, balanced
// ranges and tiles, sheet tiles that keep Gaussian neighbours together, and rank-local builds
// whose rows merged by global target are the full build's, synapse for synapse.
#include "l5sim/partition.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "io/spike_file.hpp"
#include "l5sim/error.hpp"
#include "l5sim/network.hpp"
#include "test_util.hpp"

using namespace l5sim;

namespace {

const char* kRing = R"(
populations:
  PYR: {type: pyramidal, n: 101}
  PV: {type: pv, n: 23}
projections:
  PYR_PYR: {source: PYR, target: PYR, receptors: {ampa: 1}, connectivity: {A: 3.5, sigma: 0.5}, stdp: {}}
  PYR_PV: {source: PYR, target: PV, receptors: {ampa: 1}, connectivity: {A: 1, sigma: 2, autapses: false}}
  PV_PYR: {source: PV, target: PYR, receptors: {gaba_a: 1}, connectivity: {A: 5, sigma: 2}}
)";

std::string sheet(const std::string& positions) {
    return "network: {layout: sheet, positions: " + positions + R"(}
populations:
  PYR: {type: pyramidal, n: 1600}
  PV: {type: pv, n: 200}
projections:
  PYR_PYR: {source: PYR, target: PYR, receptors: {ampa: 1}, stdp: {},
            connectivity: {rule: sparse, K: 40, sigma: 0.05, A: 3.5, dense_equivalent_sigma: 0.5,
                           dense_equivalent_sources: 1600}}
  PYR_PV: {source: PYR, target: PV, receptors: {ampa: 1},
           connectivity: {rule: sparse, K: 20, sigma: 0.1, A: 1, dense_equivalent_sigma: 2,
                          dense_equivalent_sources: 1600}}
  PV_PYR: {source: PV, target: PYR, receptors: {gaba_a: 1},
           connectivity: {rule: sparse, K: 10, sigma: 0.1, A: 5, dense_equivalent_sigma: 2,
                          dense_equivalent_sources: 200}}
)";
}

// One synapse of a full-build row, by global target id.
struct Syn {
    uint32_t target;
    float weight;
    uint8_t delay;
    bool operator==(const Syn&) const = default;
};

// Synapses [first, second) of a part's row of global source s (empty when it has no row).
std::pair<uint64_t, uint64_t> row_of_source(const Connectivity& c, uint32_t s) {
    if (c.src_gid.empty()) return {c.row_ptr[s], c.row_ptr[s + 1]};
    const auto at = std::lower_bound(c.src_gid.begin(), c.src_gid.end(), s);
    if (at == c.src_gid.end() || *at != s) return {0, 0};
    const auto r = static_cast<size_t>(at - c.src_gid.begin());
    return {c.row_ptr[r], c.row_ptr[r + 1]};
}

// The rows of every rank's part merged by global target equal the full build's rows; the ranks'
// largest initial weight is the full build's, and with it every part's fixed exponent and w_max.
// A part has rows only for the sources with a synapse in it (none empty, ascending ids).
void expect_parts_rebuild_the_network(const Config& cfg, uint32_t ranks) {
    for (uint32_t j = 0; j < cfg.projections.size(); ++j) {
        SCOPED_TRACE("projection " + cfg.projections[j].name + ", " + std::to_string(ranks) +
                     " ranks");
        const Connectivity full = build_projection(cfg, j);
        const uint32_t tpop = cfg.projections[j].target;
        std::vector<std::vector<uint32_t>> cells(ranks);
        std::vector<Connectivity> parts;
        float w_init_max = 0;
        uint64_t synapses = 0;
        for (uint32_t r = 0; r < ranks; ++r) {
            cells[r] = cells_of(cfg, tpop, r, ranks);
            parts.push_back(build_projection_part(cfg, j, cells[r]));
            w_init_max = std::max(w_init_max, parts.back().w_init_max);
            synapses += parts.back().size();
            const Connectivity& part = parts.back();
            EXPECT_EQ(part.in_degree, full.in_degree);
            ASSERT_EQ(part.row_ptr.size(), part.src_gid.size() + 1);
            EXPECT_TRUE(std::is_sorted(part.src_gid.begin(), part.src_gid.end()));
            for (uint32_t row = 0; row < part.rows(); ++row)
                EXPECT_GT(part.row_ptr[row + 1], part.row_ptr[row]) << "an empty row " << row;
            EXPECT_EQ(subscribed_sources(part), part.src_gid);
            // The reverse index names each synapse's row.
            for (uint64_t i = 0; i < part.rev.size(); ++i) {
                const uint32_t row = part.rev_src[i];
                EXPECT_TRUE(part.row_ptr[row] <= part.rev[i] &&
                            part.rev[i] < part.row_ptr[row + 1]);
            }
        }
        EXPECT_EQ(synapses, full.size());
        EXPECT_EQ(w_init_max, full.w_init_max);
        for (auto& part : parts) {
            set_global_bounds(cfg, j, w_init_max, &part);
            EXPECT_EQ(part.fixed_exponent, full.fixed_exponent);
            EXPECT_EQ(part.w_max, full.w_max);
        }
        for (uint32_t s = 0; s < full.n_src; ++s) {
            std::vector<Syn> want, got;
            for (uint64_t i = full.row_ptr[s]; i < full.row_ptr[s + 1]; ++i)
                want.push_back({full.target[i], full.weight[i], full.delay[i]});
            for (uint32_t r = 0; r < ranks; ++r) {
                const auto [b, e] = row_of_source(parts[r], s);
                for (uint64_t i = b; i < e; ++i)
                    got.push_back(
                        {cells[r][parts[r].target[i]], parts[r].weight[i], parts[r].delay[i]});
            }
            // A row holds a target's synapses together, in the order of its draws k: sort by
            // target only (stable), never within a target.
            std::stable_sort(got.begin(), got.end(),
                             [](const Syn& a, const Syn& b) { return a.target < b.target; });
            ASSERT_EQ(got, want) << "source " << s;
        }
    }
}

}  // namespace

TEST(Partition, EveryCellHasOneOwnerAndRangesAreBalanced) {
    const Config cfg = test::config_from(kRing);
    for (uint32_t ranks : {1u, 2u, 3u, 4u, 7u}) {
        for (uint32_t p = 0; p < cfg.populations.size(); ++p) {
            const uint32_t n = cfg.populations[p].n;
            std::vector<int> owners(n, 0);
            for (uint32_t r = 0; r < ranks; ++r) {
                const auto cells = cells_of(cfg, p, r, ranks);
                // floor(n r / R) to floor(n (r + 1) / R): sizes n / R rounded down or up.
                EXPECT_EQ(cells.size(), uint64_t(n) * (r + 1) / ranks - uint64_t(n) * r / ranks);
                for (uint32_t c : cells) {
                    ++owners[c];
                    EXPECT_EQ(rank_of(cfg, p, c, ranks), r) << "cell " << c;
                }
            }
            EXPECT_EQ(std::count(owners.begin(), owners.end(), 1), int(n));
        }
    }
}

TEST(Partition, RankGridIsAsSquareAsTheCountAllows) {
    const uint32_t want[][3] = {{1, 1, 1}, {2, 1, 2}, {3, 1, 3}, {4, 2, 2},
                                {6, 2, 3}, {8, 2, 4}, {9, 3, 3}, {12, 3, 4}};
    for (const auto& w : want) {
        uint32_t rx = 0, ry = 0;
        rank_grid(w[0], &rx, &ry);
        EXPECT_EQ(rx, w[1]) << w[0];
        EXPECT_EQ(ry, w[2]) << w[0];
    }
}

TEST(Partition, SheetTilesAreEqualOnTheGridAndKeepNeighboursTogether) {
    const Config cfg = test::config_from(sheet("grid"));
    // 1600 PYR on a 40 x 40 grid: 2 x 2 tiles of 20 x 20 cells each.
    for (uint32_t r = 0; r < 4; ++r) {
        const auto cells = cells_of(cfg, 0, r, 4);
        EXPECT_EQ(cells.size(), 400u);
        for (uint32_t c : cells) {
            const uint32_t col = (c % 40) / 20, row = (c / 40) / 20;
            EXPECT_EQ(row * 2 + col, r) << "cell " << c;
        }
    }
    // PYR -> PYR (sigma 0.05) onto rank 0's tile: most inputs come from rank 0's own cells
    // (a 0.5 x 0.5 tile; a Gaussian step of sigma 0.05 per axis from a uniform point of it
    // leaves along one axis with probability 2 sigma / (L sqrt(2 pi)) = 0.080, so it stays with
    // (1 - 0.080)^2 = 0.847), against 1/4 for a random split of the cells.
    const auto mine = cells_of(cfg, 0, 0, 4);
    const Connectivity part = build_projection_part(cfg, 0, mine);
    uint64_t local = 0;
    for (uint32_t row = 0; row < part.rows(); ++row)
        if (rank_of(cfg, 0, part.source_of_row(row), 4) == 0)
            local += part.row_ptr[row + 1] - part.row_ptr[row];
    const double share = double(local) / double(part.size());
    EXPECT_GT(share, 0.82);
    EXPECT_LT(share, 0.87);
    // Subscriptions: the sources with a synapse onto the part, no more.
    const auto subs = subscribed_sources(part);
    uint64_t in_subs = 0;
    for (uint32_t s : subs) {
        const auto [b, e] = row_of_source(part, s);
        in_subs += e - b;
    }
    EXPECT_EQ(in_subs, part.size());
    EXPECT_LT(subs.size(), 1600u * 3 / 4);  // a tile and its border, not the sheet
    // The part's row index is over those sources only: 8 bytes of row pointer and 4 of source
    // id per row, not 8 per cell of the sheet.
    EXPECT_EQ(part.rows(), subs.size());
    EXPECT_EQ(part.row_ptr.size(), subs.size() + 1);
}

// The memory check's estimate of a rank's share bounds what the rank really holds (the
// partition report measures the parts as a rank builds them): with one population feeding
// several projections (every part from it gets the union of their sources as rows, even a part
// without synapses), and on the sheet.
TEST(Partition, RankEstimateBoundsWhatTheRankHolds) {
    std::string fan = R"(
populations:
  S: {type: pv, n: 20000}
  U: {type: pv, n: 8}
)";
    std::string projections =
        "projections:\n  SU: {source: S, target: U, receptors: {ampa: 1}, "
        "connectivity: {A: 0.001, sigma: 0.5}}\n";
    for (int k = 0; k < 6; ++k) {
        fan += "  T" + std::to_string(k) + ": {type: pv, n: 1}\n";
        projections += "  ST" + std::to_string(k) + ": {source: S, target: T" + std::to_string(k) +
                       ", receptors: {ampa: 1}, connectivity: {A: 0.001, sigma: 0.5}, stdp: {}}\n";
    }
    for (const std::string& text : {fan + projections, sheet("jittered")}) {
        const Config cfg = test::config_from(text);
        for (uint32_t ranks : {2u, 4u, 8u}) {
            const PartitionReport r = partition_report(cfg, ranks, nullptr);
            for (uint32_t k = 0; k < ranks; ++k) {
                const RankLoad& l = r.rank[k];
                std::vector<uint64_t> counts(l.cells.begin(), l.cells.end());
                for (uint32_t p = 0; p < cfg.populations.size(); ++p)
                    EXPECT_EQ(counts[p], count_cells_of(cfg, p, k, ranks));
                const uint64_t held = l.connectivity_bytes + l.state_bytes + l.pre_trace_bytes;
                EXPECT_GE(estimate_rank_bytes(cfg, counts), held)
                    << "rank " << k << " of " << ranks << ": holds " << held;
            }
        }
    }
}

TEST(Partition, SetSourceRowsGivesEveryPartTheRanksSourcesAsRows) {
    const Config cfg = test::config_from(sheet("grid"));
    const auto mine = cells_of(cfg, 0, 1, 4);
    const Connectivity part = build_projection_part(cfg, 0, mine);  // PYR_PYR, plastic
    // Rows over the rank's own cells and the sources it subscribes to, and over every cell (a
    // superset with many sources that have no synapse here).
    const auto subs = subscribed_sources(part);
    std::vector<uint32_t> own_and_subs;
    std::set_union(mine.begin(), mine.end(), subs.begin(), subs.end(),
                   std::back_inserter(own_and_subs));
    EXPECT_EQ(own_and_subs, subs);  // every PYR cell of the tile has a PYR input in it
    std::vector<uint32_t> rows(1600);
    std::iota(rows.begin(), rows.end(), 0u);
    Connectivity wide = part;
    set_source_rows(&wide, rows);
    EXPECT_TRUE(wide.src_gid.empty());  // every cell: row s is cell s, no list kept
    Connectivity same = part;
    set_source_rows(&same, own_and_subs);
    EXPECT_EQ(same.src_gid, own_and_subs);
    EXPECT_EQ(same.row_ptr, part.row_ptr);
    ASSERT_EQ(wide.rows(), rows.size());
    // The synapses stay where they were; each source's row holds the same ones, an own cell
    // without synapses in the part has an empty row.
    EXPECT_EQ(wide.target, part.target);
    EXPECT_EQ(wide.rev, part.rev);
    uint64_t empty = 0;
    for (uint32_t row = 0; row < wide.rows(); ++row) {
        const uint32_t s = wide.source_of_row(row);
        const auto [b, e] = row_of_source(part, s);
        if (e == b) {
            EXPECT_EQ(wide.row_ptr[row + 1], wide.row_ptr[row]) << s;
            ++empty;
        } else {
            EXPECT_EQ(std::make_pair(wide.row_ptr[row], wide.row_ptr[row + 1]),
                      std::make_pair(b, e))
                << s;
        }
    }
    EXPECT_EQ(empty, rows.size() - subs.size());
    EXPECT_GT(empty, 0u);
    // rev_src names the new row of the same source.
    for (uint64_t i = 0; i < wide.rev_src.size(); ++i)
        EXPECT_EQ(wide.source_of_row(wide.rev_src[i]), part.source_of_row(part.rev_src[i]));
    // Refused: a source of the part left out, or rows not ascending.
    std::vector<uint32_t> missing(rows.begin() + 1, rows.end());
    Connectivity c = part;
    if (std::binary_search(subs.begin(), subs.end(), rows.front())) {
        EXPECT_THROW(set_source_rows(&c, missing), Error);
    }
    std::vector<uint32_t> backwards(rows.rbegin(), rows.rend());
    EXPECT_THROW(set_source_rows(&c, backwards), Error);
    c = part;
    std::vector<uint32_t> with_missing_sub = rows;
    with_missing_sub.erase(std::find(with_missing_sub.begin(), with_missing_sub.end(), subs[0]));
    EXPECT_THROW(set_source_rows(&c, with_missing_sub), Error);
}

TEST(Partition, RingPartsRebuildTheFullNetworkSynapseForSynapse) {
    const Config cfg = test::config_from(kRing);
    for (uint32_t ranks : {1u, 2u, 3u, 4u}) expect_parts_rebuild_the_network(cfg, ranks);
}

TEST(Partition, SheetPartsRebuildTheFullNetworkSynapseForSynapse) {
    for (const char* positions : {"grid", "jittered"}) {
        SCOPED_TRACE(positions);
        const Config cfg = test::config_from(sheet(positions));
        for (uint32_t ranks : {1u, 2u, 3u, 4u}) expect_parts_rebuild_the_network(cfg, ranks);
    }
}

TEST(Partition, PartTargetsMustBeAscendingIdsOfThePopulation) {
    const Config cfg = test::config_from(kRing);
    EXPECT_THROW(build_projection_part(cfg, 0, {3, 2}), Error);
    EXPECT_THROW(build_projection_part(cfg, 0, {101}), Error);
    EXPECT_THROW(cells_of(cfg, 0, 4, 4), Error);
    EXPECT_THROW(rank_of(cfg, 0, 0, 0), Error);
}

TEST(PartitionReport, DenseRingSubscribesEveryForeignCellAndSendsEachSpikeOnce) {
    // Two ranks, dense all-to-all projections: every rank needs every cell of the other, so the
    // sparse exchange is the allgather: each spike 8 bytes to the one other rank.
    const Config cfg = test::config_from(kRing);
    std::vector<SpikeTrain> spikes(2);
    spikes[0] = {"PYR", {0.0, 0.1, 0.1, 2.5}, {0, 3, 60, 100}};  // steps 0, 1, 1, 25
    spikes[1] = {"PV", {0.2}, {22}};                             // step 2
    const PartitionReport r = partition_report(cfg, 2, &spikes);
    ASSERT_EQ(r.rank.size(), 2u);
    EXPECT_EQ(r.rank[0].cells, (std::vector<uint32_t>{50, 11}));
    EXPECT_EQ(r.rank[1].cells, (std::vector<uint32_t>{51, 12}));
    // Rank 0: PYR_PYR 101 x 50, PYR_PV 100 x 11 (no autapses across populations: K = 101),
    // PV_PYR 23 x 50.
    EXPECT_EQ(r.rank[0].synapses, 101u * 50 + 101u * 11 + 23u * 50);
    EXPECT_EQ(r.rank[0].local_inputs, 50u * 50 + 50u * 11 + 11u * 50);
    EXPECT_EQ(r.rank[0].subscribed, 51u + 12u);  // every PYR and PV cell of rank 1
    EXPECT_EQ(r.min_delay_steps, 0);
    ASSERT_TRUE(r.has_exchange);
    EXPECT_EQ(r.exchange.window_steps, 1);  // zero delays: every step
    EXPECT_EQ(r.exchange.windows, 10000u);  // the default 1000 ms at 0.1 ms
    // Rank 0 owns PYR 0, 3 (steps 0, 1); rank 1 owns PYR 60, 100 (steps 1, 25) and PV 22.
    EXPECT_DOUBLE_EQ(r.exchange.sparse_mean[0], 16.0 / 10000);
    EXPECT_DOUBLE_EQ(r.exchange.sparse_mean[1], 24.0 / 10000);
    EXPECT_EQ(r.exchange.sparse_max[0], 8u);
    EXPECT_EQ(r.exchange.sparse_max[1], 8u);
    EXPECT_EQ(r.exchange.allgather_mean, r.exchange.sparse_mean);
}

TEST(PartitionReport, SheetSendsOnlyToSubscribersAndOneRankSendsNothing) {
    const Config cfg = test::config_from(sheet("grid"));
    // Spikes of every PYR cell once, at step 0 (window 0).
    std::vector<SpikeTrain> spikes(2);
    spikes[1].population = "PV";
    spikes[0].population = "PYR";
    for (uint32_t c = 0; c < 1600; ++c) {
        spikes[0].t_ms.push_back(0.0);
        spikes[0].ids.push_back(c);
    }
    const PartitionReport one = partition_report(cfg, 1, &spikes);
    EXPECT_EQ(one.rank[0].subscribed, 0u);
    EXPECT_EQ(one.exchange.sparse_max[0], 0u);
    const PartitionReport four = partition_report(cfg, 4, &spikes);
    uint64_t subscribed = 0, sparse = 0, gather = 0;
    for (uint32_t r = 0; r < 4; ++r) {
        subscribed += four.rank[r].subscribed;
        sparse += four.exchange.sparse_max[r];
        gather += four.exchange.allgather_max[r];
    }
    // Every PYR spike is sent (8 bytes) once per rank subscribing to its cell, so window 0's
    // bytes are 8 x the PYR subscriptions; the allgather sends each to all 3 others.
    uint64_t pyr_subscriptions = 0;
    for (uint32_t r = 0; r < 4; ++r) {
        const auto cells = cells_of(cfg, 0, r, 4);
        std::vector<bool> needed(1600, false);
        for (uint32_t j : {0u, 1u}) {  // the projections from PYR
            const auto tgt = cfg.projections[j].target;
            const Connectivity part = build_projection_part(cfg, j, cells_of(cfg, tgt, r, 4));
            for (uint32_t s : subscribed_sources(part))
                if (rank_of(cfg, 0, s, 4) != r) needed[s] = true;
        }
        pyr_subscriptions += std::count(needed.begin(), needed.end(), true);
    }
    EXPECT_EQ(sparse, 8 * pyr_subscriptions);
    EXPECT_EQ(gather, 8u * 3 * 1600);
    EXPECT_LT(sparse, gather);
    EXPECT_GE(subscribed, pyr_subscriptions);  // PV cells are subscribed too
    // Spikes of a cell the config does not have: the file belongs to another network.
    spikes[0].ids.back() = 1600;
    EXPECT_THROW(partition_report(cfg, 4, &spikes), Error);
    EXPECT_THROW(partition_report(cfg, 65, nullptr), Error);
}
