// The distributed CPU engine over MPI, run by ctest under `mpiexec -n N` (N = 1-4): every rank
// builds only its share (partition, parts, bounds agreed by MPI_Allreduce), steps with the MPI
// spike exchange, and sends its spikes and synapses to rank 0, which compares them with one
// engine holding every cell: identical spikes and final weights, bit for bit.
#include <gtest/gtest.h>
#include <mpi.h>
#include <omp.h>

#include <string>
#include <vector>

#include "distributed_util.hpp"
#include "mpi/mpi_rank.hpp"

using namespace l5sim;
using namespace l5sim::test::dist;

namespace {

// Everything every rank has of `v` on rank 0 (MPI_Gatherv), in rank order.
template <class T>
std::vector<T> gather(const std::vector<T>& v, MPI_Datatype type) {
    const int size = mpi::size_of(MPI_COMM_WORLD);
    int n = static_cast<int>(v.size());
    std::vector<int> counts(size), displs(size);
    mpi::check(MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD),
               "MPI_Gather");
    int total = 0;
    for (int r = 0; r < size; ++r) {
        displs[r] = total;
        total += counts[r];
    }
    std::vector<T> all(static_cast<size_t>(total));
    mpi::check(MPI_Gatherv(v.data(), n, type, all.data(), counts.data(), displs.data(), type, 0,
                           MPI_COMM_WORLD),
               "MPI_Gatherv");
    return all;
}

// This rank's outcome, gathered on rank 0 (empty elsewhere).
Outcome gather(const Outcome& mine) {
    Outcome all;
    for (const auto& sp : mine.spikes) {
        std::vector<int64_t> steps;
        std::vector<uint32_t> ids;
        for (const auto& [s, i] : sp) {
            steps.push_back(s);
            ids.push_back(i);
        }
        const auto s_all = gather(steps, MPI_INT64_T);
        const auto i_all = gather(ids, MPI_UINT32_T);
        all.spikes.emplace_back();
        for (size_t k = 0; k < s_all.size(); ++k)
            all.spikes.back().emplace_back(s_all[k], i_all[k]);
    }
    for (const auto& syn : mine.synapses) {
        std::vector<uint32_t> src, tgt;
        std::vector<float> w;
        for (const Synapse& x : syn) {
            src.push_back(x.src);
            tgt.push_back(x.tgt);
            w.push_back(x.w);
        }
        const auto s_all = gather(src, MPI_UINT32_T);
        const auto t_all = gather(tgt, MPI_UINT32_T);
        const auto w_all = gather(w, MPI_FLOAT);
        all.synapses.emplace_back();
        for (size_t k = 0; k < s_all.size(); ++k)
            all.synapses.back().push_back({s_all[k], t_all[k], w_all[k]});
    }
    unsigned long long events = mine.events, total = 0;
    mpi::check(MPI_Reduce(&events, &total, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD),
               "MPI_Reduce");
    all.events = total;
    canonical(&all);
    return all;
}

// Windows of the network's shortest delay, the MPI exchange between their halves: the one
// engine's spikes and weights; one exchange per window; and every spike sent exactly to the
// other ranks that have a synapse from its cell (counted here from every rank's parts).
void expect_ranks_equal_one_engine(const Config& cfg) {
    LocalCells cells;
    mpi::Needs needs;
    auto engine = mpi::make_rank_cpu_engine(cfg, MPI_COMM_WORLD, &cells, &needs);
    mpi::SpikeExchange exchange(cfg, MPI_COMM_WORLD, cells, needs);
    const int64_t window = engine->max_window();
    uint64_t windows = 0, expected_bytes = 0;
    const int me = mpi::rank_of(MPI_COMM_WORLD), size = mpi::size_of(MPI_COMM_WORLD);
    std::vector<std::vector<std::vector<uint32_t>>> needs_of;  // [rank][population]
    for (int r = 0; r < size; ++r)
        needs_of.push_back(rank_share(cfg, static_cast<uint32_t>(r), static_cast<uint32_t>(size),
                                      [](uint32_t, float w) { return w; })
                               .needs);
    WindowSpikes all;
    window_range(
        cfg, {engine.get()}, window,
        [&](int64_t step, int64_t k) {
            engine->window_cells(step, k);
            const WindowSpikes& mine = engine->window_spikes();
            for (size_t p = 0; p < mine.ids.size(); ++p)
                for (const uint32_t g : mine.ids[p])
                    for (int r = 0; r < size; ++r)
                        if (r != me &&
                            std::binary_search(needs_of[r][p].begin(), needs_of[r][p].end(), g))
                            expected_bytes += 8;
            exchange.exchange(mine, &all);
            engine->window_synapses(all);
            ++windows;
        },
        0, cfg.steps());
    EXPECT_EQ(exchange.exchanges(), windows);
    EXPECT_EQ(exchange.bytes_sent(), expected_bytes);
    if (size > 1) {
        EXPECT_GT(expected_bytes, 0u) << "no spike crossed a rank: a weak test";
    }
    const Outcome all_ranks = gather(outcome_of(cfg, {engine.get()}, {cells}));
    if (me == 0) expect_same(whole(cfg), all_ranks);
}

}  // namespace

// A checkpoint of a run over ranks: every state block, read half way, is the one engine's (so the
// file is the single process's checkpoint); blocks written into fresh ranks continue the run as
// the one engine continues it, to the same spikes and final weights.
TEST(Mpi, CheckpointBlocksAreOneProcesssAndContinueTheRun) {
    const Config cfg = test::config_from(sheet("triplet"));
    const int64_t half = cfg.steps() / 2;
    auto one = make_cpu_engine(cfg, build_network(cfg));  // on every rank: the same run
    auto ranks = mpi::make_mpi_engine(cfg, MPI_COMM_WORLD);
    step_range(cfg, {one.get()}, 0, half);
    window_range(
        cfg, {ranks.get()}, ranks->max_window(),
        [&](int64_t step, int64_t k) { ranks->run_window(step, k); }, 0, half);
    const bool root = mpi::rank_of(MPI_COMM_WORLD) == 0;
    const Outcome first_one = outcome_of(cfg, {one.get()}, {});
    const Outcome first_ranks = outcome_of(cfg, {ranks.get()}, {});
    if (root) expect_same(first_one, first_ranks);
    std::vector<std::vector<uint8_t>> blocks;
    for (const StateBlock& b : state_layout(cfg)) {
        std::vector<uint8_t> a(b.bytes()), c(b.bytes());
        one->read_block(b, half, a.data());
        ranks->read_block(b, half, c.data());
        if (root) {
            EXPECT_TRUE(a == c) << "block " << b.name;
        }
        blocks.push_back(std::move(a));
    }
    // As restore_checkpoint does: the knobs of the step first (the first drive starts the
    // background sources), then the blocks over them.
    auto resumed = mpi::make_mpi_engine(cfg, MPI_COMM_WORLD);
    Controls(cfg, *resumed).resume_at(half);
    const auto layout = state_layout(cfg);
    for (size_t k = 0; k < layout.size(); ++k)
        resumed->write_block(layout[k], half, blocks[k].data());
    step_range(cfg, {one.get()}, half, cfg.steps());
    step_range(cfg, {resumed.get()}, half, cfg.steps());  // single steps: windows of one step
    const Outcome end_one = outcome_of(cfg, {one.get()}, {});
    const Outcome end_resumed = outcome_of(cfg, {resumed.get()}, {});
    if (root) expect_same(end_one, end_resumed);
}

TEST(Mpi, SheetWithPairStdpOverRanksEqualsOneEngine) {
    expect_ranks_equal_one_engine(test::config_from(sheet("pair_all")));
}

TEST(Mpi, SheetWithTripletStdpOverRanksEqualsOneEngine) {
    expect_ranks_equal_one_engine(test::config_from(sheet("triplet")));
}

TEST(Mpi, RingWithZeroDelaysOverRanksEqualsOneEngine) {
    expect_ranks_equal_one_engine(test::config_from(ring()));
}

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    ::testing::InitGoogleTest(&argc, argv);
    // Only rank 0 prints (every rank runs every test; a failure on any rank fails its exit code).
    if (l5sim::mpi::rank_of(MPI_COMM_WORLD) != 0) {
        auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
        delete listeners.Release(listeners.default_result_printer());
    }
    const int rc = RUN_ALL_TESTS();
    int worst = 0;
    MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return worst;
}
