#pragma once
/// Checkpoints (docs/CHECKPOINTS.md): the complete state of a run between two steps, in one file
/// written atomically (a .part file, fsync, rename) and ending in a CRC-32 that resume verifies.
/// Resuming gives outputs byte-identical to the run that was not interrupted.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "l5sim/simulation.hpp"

namespace l5sim {

/// The checkpoint of a run directory.
inline constexpr const char* kCheckpointFile = "checkpoint.l5ck";
/// The spikes of a run in progress (l5sim/spike_stream.hpp), next to the checkpoint.
inline constexpr const char* kSpikeStream = "spikes.stream";

/// What a checkpoint says about itself (its header), read after the checksum is verified.
struct CheckpointInfo {
    std::string config_yaml;          // the resolved config of the run
    std::string source_config;        // the config file the run started from
    std::string engine;               // engine that wrote it
    int64_t step = 0;                 // the next step to run
    int64_t steps = 0;                // steps of the whole run
    double wall_s = 0;                // wall time simulated so far (all segments)
    uint64_t bytes = 0;               // file size
    int64_t spike_stream_bytes = -1;  // length of the run's spike stream (-1: spikes inside)
    bool frames_streamed = false;     // probe samples and weight snapshots in streams
    std::vector<uint64_t> probe_frames, weight_frames;  // their frame counts
    /// CRC-32 of the streams' kept prefixes (the recordings the checkpoint relies on); absent
    /// in checkpoints of l5sim before 2026-12-06, whose streams are then not checked.
    bool stream_crcs = false;
    uint32_t spike_stream_crc = 0;
    std::vector<uint32_t> probe_crcs, weight_crcs;
    /// Why a health check stopped the run at this checkpoint ("" if none): resuming past it
    /// needs --ignore-health.
    std::string health_stop;
    /// Health stops that a resume was told to ignore so far (recorded in summary.json).
    std::vector<std::string> health_ignored;
    /// The time a Python session's run(ms) pieces added up to (ms; -1: not written by one).
    /// A piece ends at the step nearest to the sum, so the sum is kept apart from the step.
    double run_ms = -1;
};

/// The checkpoint's streams in `dir` (spikes.stream, probes_<k>.stream, weights_<k>.stream)
/// hold exactly the prefixes it was written with; ConfigError naming the first that does not.
void check_streams(const std::filesystem::path& dir, const CheckpointInfo& info,
                   const Simulation& sim);

/// Write `sim`'s state to `path` (atomically; an Error names the file and the cause on failure,
/// and the previous checkpoint, if any, stays). `health_stop`: the reason a health check
/// stopped the run here ("" if none); `health_ignored`: earlier stops a resume ignored;
/// `run_ms`: the Python session's sum of run(ms) pieces (CheckpointInfo::run_ms; -1: none).
void write_checkpoint(const std::filesystem::path& path, Simulation& sim,
                      const std::string& health_stop = "",
                      const std::vector<std::string>& health_ignored = {}, double run_ms = -1);

/// Verify a checkpoint (size, trailer, CRC-32) and read its header; Error naming the file and
/// what is wrong when it is missing, truncated, corrupt or of another format version.
CheckpointInfo read_checkpoint_info(const std::filesystem::path& path);

/// Bring `sim`, built from the checkpoint's config and not yet stepped, to the checkpoint whose
/// header read_checkpoint_info returned (the file is verified once, there).
void restore_checkpoint(const std::filesystem::path& path, const CheckpointInfo& info,
                        Simulation& sim);

}  // namespace l5sim
