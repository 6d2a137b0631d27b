// A rank of a distributed run over MPI (mpi/mpi_rank.hpp).
#include "mpi/mpi_rank.hpp"

#include <chrono>
#include <string>

#include "l5sim/error.hpp"
#include "l5sim/network.hpp"
#include "l5sim/partition.hpp"

namespace l5sim::mpi {

void check(int rc, const char* what) {
    if (rc == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    throw Error(std::string("MPI: ") + what + ": " + std::string(text, static_cast<size_t>(len)));
}

int rank_of(MPI_Comm comm) {
    int r = 0;
    check(MPI_Comm_rank(comm, &r), "MPI_Comm_rank");
    return r;
}

int size_of(MPI_Comm comm) {
    int n = 1;
    check(MPI_Comm_size(comm, &n), "MPI_Comm_size");
    return n;
}

float max_over_ranks(float x, MPI_Comm comm) {
    float out = x;
    check(MPI_Allreduce(&x, &out, 1, MPI_FLOAT, MPI_MAX, comm), "MPI_Allreduce");
    return out;
}

std::unique_ptr<Engine> make_rank_cpu_engine(const Config& cfg, MPI_Comm comm, LocalCells* cells) {
    const auto rank = static_cast<uint32_t>(rank_of(comm));
    const auto ranks = static_cast<uint32_t>(size_of(comm));
    LocalCells mine;
    for (uint32_t p = 0; p < cfg.populations.size(); ++p)
        mine.gid.push_back(cells_of(cfg, p, rank, ranks));
    Network net;
    for (uint32_t j = 0; j < cfg.projections.size(); ++j) {
        net.projections.push_back(
            build_projection_part(cfg, j, mine.gid[cfg.projections[j].target]));
        Connectivity& c = net.projections.back();
        set_global_bounds(cfg, j, max_over_ranks(c.w_init_max, comm), &c);
    }
    if (cells) *cells = mine;
    return make_cpu_engine(cfg, std::move(net), std::move(mine));
}

SpikeExchange::SpikeExchange(MPI_Comm comm, uint32_t populations)
    : comm_(comm), pops_(populations), size_(size_of(comm)) {
    counts_.resize(static_cast<size_t>(size_) * pops_);
    totals_.resize(static_cast<size_t>(size_));
    displs_.resize(static_cast<size_t>(size_));
}

void SpikeExchange::exchange(Engine& engine) {
    const auto t0 = std::chrono::steady_clock::now();
    mine_.clear();
    std::vector<int> my_counts(pops_);
    for (uint32_t p = 0; p < pops_; ++p) {
        const auto ids = engine.local_spike_gids(p);
        my_counts[p] = static_cast<int>(ids.size());
        mine_.insert(mine_.end(), ids.begin(), ids.end());
    }
    check(MPI_Allgather(my_counts.data(), static_cast<int>(pops_), MPI_INT, counts_.data(),
                        static_cast<int>(pops_), MPI_INT, comm_),
          "MPI_Allgather (spike counts)");
    int total = 0;
    for (int r = 0; r < size_; ++r) {
        int t = 0;
        for (uint32_t p = 0; p < pops_; ++p) t += counts_[static_cast<size_t>(r) * pops_ + p];
        totals_[r] = t;
        displs_[r] = total;
        total += t;
    }
    all_.resize(static_cast<size_t>(total));
    check(MPI_Allgatherv(mine_.data(), static_cast<int>(mine_.size()), MPI_UINT32_T, all_.data(),
                         totals_.data(), displs_.data(), MPI_UINT32_T, comm_),
          "MPI_Allgatherv (spikes)");
    // Rank r's block holds its spikes population after population.
    std::vector<std::vector<uint32_t>> per_pop(pops_);
    for (int r = 0; r < size_; ++r) {
        size_t at = static_cast<size_t>(displs_[r]);
        for (uint32_t p = 0; p < pops_; ++p) {
            const auto n = static_cast<size_t>(counts_[static_cast<size_t>(r) * pops_ + p]);
            per_pop[p].insert(per_pop[p].end(), all_.begin() + static_cast<ptrdiff_t>(at),
                              all_.begin() + static_cast<ptrdiff_t>(at + n));
            at += n;
        }
    }
    for (uint32_t p = 0; p < pops_; ++p) engine.set_all_spikes(p, per_pop[p]);
    bytes_ += uint64_t(mine_.size()) * sizeof(uint32_t) * uint64_t(size_ - 1);
    ++exchanges_;
    seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace l5sim::mpi
