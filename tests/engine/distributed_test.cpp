// A network split over ranks (l5sim/partition.hpp) and run as R CPU engines in one process,
// stepped in lockstep window by window, each engine handed its own spikes and those of the
// cells its synapses need after the window's cells (what the MPI exchange carries,
// docs/SCALING.md): the spikes and the final weights equal those of one engine holding every
// cell stepping singly, bit for bit, for 1-5 ranks, 1 or 2 threads and any window length.
#include <gtest/gtest.h>
#include <omp.h>

#include <string>

#include "distributed_util.hpp"

using namespace l5sim;
using namespace l5sim::test::dist;

TEST(Distributed, SheetOnRanksEqualsOneEngineForEveryRankCountAndRule) {
    for (const char* rule : {"pair_all", "triplet"}) {
        const Config cfg = test::config_from(sheet(rule));
        const Outcome one = whole(cfg);
        // Plasticity really moved the weights (else the weight comparison shows nothing).
        const auto& w = one.synapses[0];
        EXPECT_TRUE(
            std::any_of(w.begin(), w.end(), [&](const Synapse& s) { return s.w != w[0].w; }));
        for (uint32_t ranks : {1u, 2u, 3u, 4u}) {
            SCOPED_TRACE(std::string(rule) + ", " + std::to_string(ranks) + " ranks");
            expect_same(one, split(cfg, ranks));
        }
    }
}

TEST(Distributed, RingWithZeroDelaysOnRanksEqualsOneEngine) {
    const Config cfg = test::config_from(ring());
    const Outcome one = whole(cfg);
    for (uint32_t ranks : {2u, 3u}) {
        SCOPED_TRACE(std::to_string(ranks) + " ranks");
        expect_same(one, split(cfg, ranks));
    }
}

// Windows shorter than the shortest delay (7 steps, no divisor of anything in the config; 1
// step) give the same run as the windows of the full 10 steps.
TEST(Distributed, AnyWindowLengthGivesTheSameRun) {
    const Config cfg = test::config_from(sheet("triplet"));
    const Outcome one = whole(cfg);
    for (const int64_t window : {7, 1}) {
        SCOPED_TRACE(std::to_string(window) + "-step windows");
        expect_same(one, split(cfg, 3, window));
    }
}

TEST(Distributed, TwoThreadsPerRankChangeNothing) {
    Config cfg = test::config_from(sheet("pair_all"));
    const Outcome one = whole(cfg);
    const int before = omp_get_max_threads();
    omp_set_num_threads(2);
    cfg.threads = 2;
    const Outcome two = split(cfg, 2);
    omp_set_num_threads(before);
    expect_same(one, two);
}

// A population with fewer cells than there are ranks: some ranks hold none of it (their knobs,
// keys and records must still be those of their (no) cells).
TEST(Distributed, RanksWithoutCellsOfAPopulation) {
    std::string text = ring();
    const std::string pv = "PV: {type: pv, n: 20";
    text.replace(text.find(pv), pv.size(), "PV: {type: pv, n: 3");
    const Config cfg = test::config_from(text);
    const Outcome one = whole(cfg);
    for (uint32_t ranks : {4u, 5u}) {
        SCOPED_TRACE(std::to_string(ranks) + " ranks");
        expect_same(one, split(cfg, ranks));
    }
}
