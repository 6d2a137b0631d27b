#pragma once
// A rank of a distributed run over MPI (docs/SCALING.md): its share of the network, built from
// the partition with the bounds the ranks agree on, and the exchange of each step's spikes.
// Built only where CMake finds MPI (libopenmpi-dev); the rest of l5sim never includes it.
#include <mpi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "l5sim/engine.hpp"
#include "l5sim/error.hpp"

namespace l5sim::mpi {

/// Throws an Error naming `what` unless an MPI call succeeded.
void check(int rc, const char* what);

/// The failure of one rank at a step every rank takes, thrown on every rank (agree_on) so that
/// no rank goes on into a collective the failed one never reaches: the lowest failing rank's
/// message, its rank, and whether it was a ConfigError (exit code 2) or not (1).
class RankError : public Error {
  public:
    RankError(const std::string& what, int from_rank, bool config_error)
        : Error(what), rank(from_rank), config(config_error) {}
    int rank;
    bool config;
};

/// Runs `f`: 0 when it returned, else the exit code of what it threw (2 for a ConfigError or
/// an agreed one, 1 for any other exception) with its message and the rank it came from (a
/// RankError's; else `rank`).
int run_caught(const std::function<void()>& f, int rank, std::string* what, int* origin);

/// Runs `f` (local work, no collective inside) on every rank of `comm`, then agrees on the
/// outcome: when `f` threw on any rank, every rank throws the RankError of the lowest failing
/// one. Collective.
void agree_on(MPI_Comm comm, const std::function<void()>& f);

/// This process's rank and the number of ranks of `comm`.
int rank_of(MPI_Comm comm);
int size_of(MPI_Comm comm);

/// The largest `x` over the ranks (MPI_Allreduce).
float max_over_ranks(float x, MPI_Comm comm);

/// What a rank needs from the others: per population, the source cells whose spikes its
/// synapses need (subscribed_sources of its parts, ascending global ids).
using Needs = std::vector<std::vector<uint32_t>>;

/// Refuses (a ConfigError on every rank, naming the rank: agree_on) a share of the network
/// that this rank cannot hold (estimate_rank_bytes against host_available_bytes), or shares
/// that the ranks on one node cannot hold together (against what the node has available),
/// before anything of the network is allocated. Collective.
/// `counts`: the rank's cells per population; `extra_bytes`: what it needs besides (a resume:
/// its read buffer and share of the largest checkpoint block); `cuda`: the ranks build parts
/// for the CUDA engine (the message says host memory).
void check_rank_memory(const Config& cfg, const std::vector<uint64_t>& counts, uint64_t extra_bytes,
                       MPI_Comm comm, bool cuda = false);

/// The engine each rank runs: the CPU engine, the CUDA engine (one device per rank: the
/// rank's index among the ranks of its node, modulo the devices it sees), or the CUDA engine
/// when every rank sees a device and no delay is shorter than one step, else the CPU engine.
enum class RankBackend { cpu, cuda, automatic };

/// The engine over this rank's cells (cells_of) and the parts of every projection
/// (build_projection_part; the ring's scale and the STDP bound from the largest initial weight
/// over the ranks, the window from the shortest delay over the ranks); `cells` receives the
/// cells, `needs` the sources its synapses need. CUDA ranks: the parts are built on the host and
/// copied to the device after the ranks sharing a device have checked that it holds them all
/// (a ConfigError on every rank otherwise), and a delay of 0 steps anywhere is refused.
std::unique_ptr<Engine> make_rank_engine(const Config& cfg, MPI_Comm comm, RankBackend backend,
                                         LocalCells* cells, Needs* needs = nullptr,
                                         uint64_t extra_bytes = 0);
/// make_rank_engine with the CPU engine.
std::unique_ptr<Engine> make_rank_cpu_engine(const Config& cfg, MPI_Comm comm, LocalCells* cells,
                                             Needs* needs = nullptr, uint64_t extra_bytes = 0);

/// The Engine of a rank of `l5sim run` under mpiexec: the rank's CPU engine stepping windows,
/// the window's spikes exchanged between its two halves, every read (spikes, counts, probes,
/// weights, health, checkpoint blocks) gathered to rank 0 in the single process's order, so
/// that the Simulation and the writers on rank 0 produce the single process's files. Every
/// rank must make the same calls (they are collective).
/// `extra_bytes`: memory each rank needs besides its share (check_rank_memory).
std::unique_ptr<Engine> make_mpi_engine(const Config& cfg, MPI_Comm comm, uint64_t extra_bytes = 0,
                                        RankBackend backend = RankBackend::cpu);

/// The exchange of a window's spikes (docs/SCALING.md): each spike goes only to the ranks that
/// subscribed to its cell. At construction every rank tells each owner which of its cells it
/// needs (MPI_Alltoall of counts, MPI_Alltoallv of the cells); the ranks that connect form a
/// distributed graph topology (MPI_Dist_graph_create_adjacent), and each window is one
/// MPI_Neighbor_alltoall of counts and one MPI_Neighbor_alltoallv of (cell, step and
/// population) pairs, 8 bytes per spike and receiving rank. A rank's own spikes are always
/// part of what it receives (its presynaptic traces of its own cells are the ones checkpoints
/// take).
class SpikeExchange {
  public:
    /// `cells`: this rank's (make_rank_cpu_engine's); `needs`: the sources its synapses need.
    SpikeExchange(const Config& cfg, MPI_Comm comm, const LocalCells& cells, const Needs& needs);
    ~SpikeExchange();
    SpikeExchange(const SpikeExchange&) = delete;
    SpikeExchange& operator=(const SpikeExchange&) = delete;
    /// `all` = `mine` plus every subscribed cell's spikes of the same window from the other
    /// ranks. Collective over the graph.
    void exchange(const WindowSpikes& mine, WindowSpikes* all);
    /// Bytes this rank has sent, messages (non-empty sends) and the exchanges made.
    uint64_t bytes_sent() const { return bytes_; }
    uint64_t messages() const { return messages_; }
    uint64_t exchanges() const { return exchanges_; }
    /// Wall seconds spent in the exchange (packing, collectives and unpacking).
    double seconds() const { return seconds_; }
    /// The ranks this rank sends to and receives from, and the remote cells it receives.
    size_t destinations() const { return dests_.size(); }
    size_t sources() const { return srcs_.size(); }
    uint64_t subscribed_cells() const { return subscribed_; }

  private:
    MPI_Comm graph_ = MPI_COMM_NULL;
    uint32_t pops_;
    std::vector<int> dests_, srcs_;  // ranks, ascending
    // Per population, per local cell (rank of cells_of order): the destinations (indices into
    // dests_) that subscribed to it, CSR.
    std::vector<std::vector<uint32_t>> sub_ptr_, sub_dest_;
    std::vector<std::vector<uint32_t>> gid_;  // this rank's cells per population (cells_of)
    std::vector<int> send_counts_, send_displs_, recv_counts_, recv_displs_;
    std::vector<std::vector<uint32_t>> out_;  // per destination: (gid, step * pops + pop)
    std::vector<uint32_t> send_, recv_;
    uint64_t bytes_ = 0, messages_ = 0, exchanges_ = 0, subscribed_ = 0;
    double seconds_ = 0;
};

}  // namespace l5sim::mpi
