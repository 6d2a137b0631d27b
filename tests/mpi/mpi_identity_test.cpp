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

void expect_ranks_equal_one_engine(const Config& cfg) {
    LocalCells cells;
    auto engine = mpi::make_rank_cpu_engine(cfg, MPI_COMM_WORLD, &cells);
    mpi::SpikeExchange exchange(MPI_COMM_WORLD, static_cast<uint32_t>(cfg.populations.size()));
    step_all(cfg, {engine.get()}, [&] { exchange.exchange(*engine); });
    EXPECT_EQ(exchange.exchanges(), static_cast<uint64_t>(cfg.steps()));
    const Outcome all = gather(outcome_of(cfg, {engine.get()}, {cells}));
    if (mpi::rank_of(MPI_COMM_WORLD) == 0) expect_same(whole(cfg), all);
}

}  // namespace

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
