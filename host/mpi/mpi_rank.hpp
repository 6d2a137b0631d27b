#pragma once
// A rank of a distributed run over MPI (docs/SCALING.md): its share of the network, built from
// the partition with the bounds the ranks agree on, and the exchange of each step's spikes.
// Built only where CMake finds MPI (libopenmpi-dev); the rest of l5sim never includes it.
#include <mpi.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "l5sim/engine.hpp"

namespace l5sim::mpi {

/// Throws an Error naming `what` unless an MPI call succeeded.
void check(int rc, const char* what);

/// This process's rank and the number of ranks of `comm`.
int rank_of(MPI_Comm comm);
int size_of(MPI_Comm comm);

/// The largest `x` over the ranks (MPI_Allreduce).
float max_over_ranks(float x, MPI_Comm comm);

/// The CPU engine over this rank's cells (cells_of) and the parts of every projection
/// (build_projection_part; the ring's scale and the STDP bound from the largest initial weight
/// over the ranks); `cells` receives the cells.
std::unique_ptr<Engine> make_rank_cpu_engine(const Config& cfg, MPI_Comm comm, LocalCells* cells);

/// The Engine of a rank of `l5sim run` under mpiexec: the rank's CPU engine with the exchange
/// after each detection, every read (spikes, counts, probes, weights, health) gathered to rank 0
/// in the single process's order, so that the Simulation and the writers on rank 0 produce the
/// single process's files. Every rank must make the same calls (they are collective).
/// Checkpoints are refused (not built yet).
std::unique_ptr<Engine> make_mpi_engine(const Config& cfg, MPI_Comm comm);

/// Every rank's spikes of a step to every rank's engine, between detect_spikes and propagate:
/// one MPI_Allgather of the per-population counts and one MPI_Allgatherv of the global ids (the
/// first exchange; the sparse neighbour exchange of docs/SCALING.md is next).
class SpikeExchange {
  public:
    SpikeExchange(MPI_Comm comm, uint32_t populations);
    void exchange(Engine& engine);
    /// Bytes this rank has sent (ids x the other ranks) and the exchanges made.
    uint64_t bytes_sent() const { return bytes_; }
    uint64_t exchanges() const { return exchanges_; }
    /// Wall seconds spent in the exchange (collectives and unpacking).
    double seconds() const { return seconds_; }

  private:
    MPI_Comm comm_;
    uint32_t pops_;
    int size_ = 1;
    std::vector<int> counts_;  // [rank][population]
    std::vector<int> totals_, displs_;
    std::vector<uint32_t> mine_, all_;
    uint64_t bytes_ = 0, exchanges_ = 0;
    double seconds_ = 0;
};

}  // namespace l5sim::mpi
