#pragma once
/// Sweeps and trials as batched replicas (DESIGN.md section 5): a config's `sweep:` block asks
/// for a grid of parameter values (and optional named conditions) times a number of trials;
/// each combination is one independent replica of the network with its own seed, run in one
/// `l5sim run` and labelled by replica, condition and parameter values.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "l5sim/config.hpp"
#include "l5sim/simulation.hpp"

namespace l5sim {

/// One replica: which condition, grid point and trial it is, and the overrides that make it.
struct ReplicaSpec {
    uint32_t index = 0;
    uint32_t trial = 0;
    uint32_t point = 0;     // condition-and-grid point (replicas of one point differ by trial)
    uint64_t seed = 0;      // simulation.seed of this replica = base seed + trial
    std::string condition;  // label of the condition ("" without conditions)
    /// Grid values, in axis order: key path and value as YAML text ("150", "0.25").
    std::vector<std::pair<std::string, std::string>> params;
};

/// A loaded config: one run (no `sweep:` block) or a sweep of replicas.
struct Batch {
    bool is_sweep = false;
    uint32_t trials = 1;
    std::vector<std::string> axes;        // grid key paths, in file order (first varies slowest)
    std::vector<std::string> conditions;  // condition labels, in file order
    std::vector<ReplicaSpec> replicas;    // condition (slowest), grid axes, trial (fastest)
    std::vector<Config> configs;          // validated config of each replica (one if no sweep)
};

/// Load a config that may hold a `sweep:` block; every replica's config is built and validated
/// up front, and an error names the file:line of the sweep entry that caused it. Seeds: replica
/// of trial t runs with simulation.seed + t (the same noise at every grid point: common random
/// numbers, so differences between grid points are not blurred by independent noise).
Batch load_batch(const std::string& path, const std::vector<Override>& overrides = {});
/// The same from YAML text (tests).
Batch parse_batch(const std::string& yaml_text, const std::string& name,
                  const std::vector<Override>& overrides = {});

/// "replicas/r00012": where replica 12 of a sweep writes its outputs, relative to the sweep's.
std::string replica_dir_name(uint32_t index);

struct SweepRunOptions {
    Simulation::Backend backend = Simulation::Backend::cpu;
    /// Packed: the replicas stepped together as one simulation (l5sim/packed.hpp; on the CUDA
    /// engine one kernel launch per stage for all of them). Automatic: unpacked (one replica per
    /// thread on the CPU engine, faster there; on the CUDA engine until the packed path has
    /// been measured on a GPU).
    enum class Pack { automatic, on, off };
    Pack pack = Pack::automatic;
    /// Packed: at most this many replicas per pack (0: as many as memory allows).
    int max_pack = 0;
    /// Unpacked: replicas run at once (CPU engine: each on one thread; CUDA engine: each with
    /// its own engine and stream, driven by its own host thread); packed on the CPU engine: the
    /// threads stepping the pack. 0 = the number of host cores.
    int parallel = 0;
    bool quiet = false;
    bool force = false;
    std::string command_line;
    /// Asked before each replica (unpacked, from any of the replicas' threads) or each pack
    /// starts; true stops the sweep there (the replicas running finish and are written; the
    /// sweep then fails with "interrupted"). The Python module checks for Ctrl-C with it; a
    /// sweep over MPI, for another rank's failure.
    std::function<bool()> stop;
    /// Called once, on the first failure of this process's replicas (a sweep over MPI tells
    /// the other ranks with it, so that they stop too).
    std::function<void()> on_failure;
    /// Processes on this node that share its memory (a sweep over MPI: the ranks on the node):
    /// unpacked CPU replicas run at most as many at a time as this process's share holds.
    int memory_sharers = 1;
};

/// sweep.json's text: the replicas and their labels.
std::string sweep_json(const Batch& batch);

/// Which replicas a process runs when several share a sweep (`l5sim run` under mpiexec):
/// replica i goes to rank i % ranks (round robin, so that every rank gets the same mix of grid
/// points).
struct SweepShare {
    int rank = 0, ranks = 1;
};
/// What a process's part of a sweep produced: each replica's summary.json entry (JSON text, by
/// replica index), or the first replica failure (the others run on).
struct SweepPart {
    std::vector<std::pair<uint32_t, std::string>> summaries;
    bool failed = false, config_error = false;
    int64_t failed_replica = -1;  // -1: a failure not of one replica (a pack's)
    std::string error;
    bool packed = false;
    int packs = 0, at_once = 0;
};
/// Runs this process's replicas of `batch` (`share`), each writing its directory under `dir`
/// (which exists, sweep.json written); a replica's failure is returned, not thrown.
SweepPart run_sweep_part(const Batch& batch, const std::filesystem::path& dir,
                         const SweepRunOptions& opt, const SweepShare& share);
/// summary.json of a sweep from every replica's entry (replica order) and the `timing` object
/// (JSON text).
void write_sweep_summary(const Batch& batch, const std::filesystem::path& dir,
                         const std::vector<std::string>& entries, const std::string& timing);

/// Run every replica of a sweep and write `dir`: sweep.json (the replicas and their labels,
/// first), replicas/rNNNNN/ (each a complete output directory of its own, as `l5sim run` writes
/// for one config), summary.json (per-replica population statistics, last). Replicas run in
/// parallel: on the CPU engine one per thread, on the CUDA engine one engine and stream per
/// host thread, sharing the device. A replica's
/// spikes, probes and weights are byte-identical to a plain run of its config.resolved.yaml.
void run_sweep(const Batch& batch, const std::filesystem::path& dir, const SweepRunOptions& opt);

}  // namespace l5sim
