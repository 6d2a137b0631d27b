// The engines of ranks (make_cpu_engine and make_cuda_engine over a rank's cells and parts,
// docs/SCALING.md) run in one process, the exchange by hand (tests/distributed_util.hpp): the
// spikes and final weights of R ranks equal those of one CPU engine holding every cell, bit
// for bit, on either engine (RankEngines.*/cpu, RankEngines.*/cuda); a rank's state moves
// between the two engines between steps (what a checkpoint carries under MPI) and the run
// goes on unchanged. The cuda instances skip without a device and fail instead under
// L5SIM_REQUIRE_GPU=1 (bench/gpu_check.sh runs them).
#include <gtest/gtest.h>

#include <string>

#include "distributed_util.hpp"
#include "run/controls.hpp"

using namespace l5sim;
using namespace l5sim::test;
using namespace l5sim::test::dist;

namespace {

std::unique_ptr<Engine> cuda_rank(const Config& cfg, Network net, LocalCells cells) {
    return make_cuda_engine(cfg, std::move(net), std::move(cells));
}

// The sheet with 3 PV cells: over 4 or 5 ranks some rank holds none of them; with
// `plastic_pv`, PYR -> PV learns too, so that such a rank holds a plastic projection without a
// synapse, a target or a post-side trace.
std::string small_pv(const std::string& rule, bool plastic_pv) {
    std::string text = sheet(rule);
    auto swap = [&](const std::string& from, const std::string& to) {
        const auto at = text.find(from);
        if (at == std::string::npos) throw Error("ranks_sheet.yaml: no '" + from + "'");
        text.replace(at, from.size(), to);
    };
    swap("PV: {type: pv, n: 60", "PV: {type: pv, n: 3");
    swap("cells: [0, 31, 59]", "cells: [0, 2]");
    if (plastic_pv)
        swap("dense_equivalent_sources: 200}}\n  PYR_SOM",
             "dense_equivalent_sources: 200}, stdp: {eta: 5}}\n  PYR_SOM");
    return text;
}

class RankEngines : public EngineTest {
  protected:
    RankEngineMaker maker() const {
        return GetParam() == EngineKind::cuda ? RankEngineMaker(cuda_rank)
                                              : RankEngineMaker(cpu_rank);
    }
};

}  // namespace

// Every STDP rule on 1-4 ranks (the CPU instance: 3 ranks; Distributed.* covers the rest).
TEST_P(RankEngines, SheetOnRanksEqualsOneCpuEngine) {
    for (const char* rule : {"pair_all", "nearest", "triplet"}) {
        const Config cfg = config_from(sheet(rule));
        const Outcome one = whole(cfg);
        const auto& w = one.synapses[0];
        EXPECT_TRUE(
            std::any_of(w.begin(), w.end(), [&](const Synapse& s) { return s.w != w[0].w; }));
        const std::vector<uint32_t> counts = GetParam() == EngineKind::cuda
                                                 ? std::vector<uint32_t>{1, 2, 3, 4}
                                                 : std::vector<uint32_t>{3};
        for (const uint32_t ranks : counts) {
            SCOPED_TRACE(std::string(rule) + ", " + std::to_string(ranks) + " ranks");
            expect_same(one, split(cfg, ranks, 0, maker()));
        }
    }
}

// Windows shorter than the shortest delay (7 steps; 1 step) give the same run.
TEST_P(RankEngines, AnyWindowLengthGivesTheSameRun) {
    const Config cfg = config_from(sheet("triplet"));
    const Outcome one = whole(cfg);
    for (const int64_t window : {7, 1}) {
        SCOPED_TRACE(std::to_string(window) + "-step windows");
        expect_same(one, split(cfg, 3, window, maker()));
    }
}

// Profiling (the CUDA engine: no graphs, each stage synchronised; the CPU engine: phases
// unfused) changes nothing; a rank's engine refuses to step as one process does.
TEST_P(RankEngines, ProfilingChangesNothingAndSingleStepsAreRefused) {
    const Config cfg = config_from(sheet("triplet"));
    const Outcome one = whole(cfg);
    Ranks rk = make_ranks(cfg, 2, maker());
    for (Engine* e : rk.engines) e->set_profiling(true);
    run_ranks(cfg, rk, rk.longest, 0, cfg.steps());
    expect_same(one, outcome_of(cfg, rk.engines, rk.cells));
    EXPECT_THROW(rk.engines[0]->run_window(cfg.steps(), 1), Error);
    EXPECT_THROW(rk.engines[0]->detect_spikes(cfg.steps()), Error);
}

// A population with fewer cells than there are ranks: some ranks hold none of it, nor any
// synapse of the projections into it (a plastic one too).
TEST_P(RankEngines, RanksWithoutCellsOfAPopulation) {
    for (const bool plastic_pv : {false, true}) {
        const Config cfg = config_from(small_pv("pair_all", plastic_pv));
        const Outcome one = whole(cfg);
        for (const uint32_t ranks : {4u, 5u}) {
            SCOPED_TRACE(std::to_string(ranks) + " ranks" + (plastic_pv ? ", PYR_PV plastic" : ""));
            expect_same(one, split(cfg, ranks, 0, maker()));
        }
    }
}

// Half the run on one engine kind, the state of every rank moved block by block (state_layout,
// each rank's share) into fresh engines of the other kind (or of the same kind, on the CPU),
// the rest of the run there: the whole run's spikes and weights.
TEST_P(RankEngines, StateMovesBetweenEnginesOfARankMidRun) {
    // 4 ranks, one without PV cells (a plastic part without synapses: blocks of 0 bytes).
    const Config cfg = config_from(small_pv("triplet", true));
    const Outcome one = whole(cfg);
    const int64_t mid = cfg.steps() / 2 + 3;  // not at a window's end of 10 steps
    const bool cuda = GetParam() == EngineKind::cuda;
    for (const bool cuda_first : cuda ? std::vector<bool>{true, false} : std::vector<bool>{false}) {
        SCOPED_TRACE(cuda_first ? "cuda, then cpu" : cuda ? "cpu, then cuda" : "cpu, then cpu");
        const RankEngineMaker first = cuda_first ? RankEngineMaker(cuda_rank) : cpu_rank;
        const RankEngineMaker second = cuda && !cuda_first ? RankEngineMaker(cuda_rank) : cpu_rank;
        Ranks a = make_ranks(cfg, 4, first);
        run_ranks(cfg, a, std::min(a.longest, int64_t{10}), 0, mid);
        Outcome before;
        before.spikes.resize(cfg.populations.size());
        for (uint32_t p = 0; p < cfg.populations.size(); ++p)
            for (Engine* e : a.engines) {
                SpikeRecord rec;
                e->take_spikes(p, &rec);
                for (size_t k = 0; k < rec.ids.size(); ++k)
                    before.spikes[p].emplace_back(rec.steps[k], rec.ids[k]);
            }
        Ranks b = make_ranks(cfg, 4, second);
        // The knobs as they were (a resume sets them before the state), then the state.
        for (Engine* e : b.engines) Controls(cfg, *e).resume_at(mid);
        move_state(cfg, a, b, mid);
        run_ranks(cfg, b, b.longest, mid, cfg.steps());
        Outcome after = outcome_of(cfg, b.engines, b.cells);
        for (uint32_t p = 0; p < cfg.populations.size(); ++p)
            after.spikes[p].insert(after.spikes[p].end(), before.spikes[p].begin(),
                                   before.spikes[p].end());
        canonical(&after);
        expect_same(one, after);
    }
}

// A delay of 0 steps: the CPU ranks step windows of one step; the CUDA engine of a rank
// refuses the network (the ranks of `l5sim run` check it first and say so together).
TEST_P(RankEngines, ZeroDelaysRunOnCpuRanksAndAreRefusedOnCudaRanks) {
    const Config cfg = config_from(ring());
    if (GetParam() == EngineKind::cuda) {
        try {
            split(cfg, 2, 0, maker());
            FAIL() << "a CUDA rank ran a network with a delay of 0 steps";
        } catch (const ConfigError& e) {
            EXPECT_NE(std::string(e.what()).find("delay of 0 steps"), std::string::npos)
                << e.what();
        }
        return;
    }
    expect_same(whole(cfg), split(cfg, 2, 0, maker()));
}

L5_ENGINE_TEST_SUITE(RankEngines);
