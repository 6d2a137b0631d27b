#pragma once
/// The output directory (DESIGN.md section 6): resolved config with provenance, SONATA spike
/// report, probes and weight snapshots (HDF5), summary.json. Every file is written under a
/// temporary name and renamed when complete, summary.json last: a directory without
/// summary.json is an interrupted run.
#include <filesystem>
#include <string>

#include "l5sim/simulation.hpp"

namespace l5sim {

struct Provenance {
    std::string engine;
    std::string command_line;
};

/// Write `text` to `path` atomically: into `path.part`, renamed when complete; Error on failure.
void write_text(const std::filesystem::path& path, const std::string& text);

/// A wall-clock duration for progress lines: "42 s", "3.5 min", "2.1 h".
std::string format_duration(double seconds);

/// Check that `dir` may be written (absent, empty, or `force`); throws ConfigError otherwise.
void check_output_dir(const std::filesystem::path& dir, bool force);
/// Create `dir` (and parents) and clear the files a previous run left there when `force`.
void prepare_output_dir(const std::filesystem::path& dir, bool force);
/// config.resolved.yaml (every value, defaults filled in) with provenance; written at the start.
void write_resolved_config(const std::filesystem::path& dir, const Config& cfg,
                           const Provenance& prov);
/// Spikes, probes and weights recorded so far, without summary.json (an interrupted run).
/// Remove the recording streams of a run in progress (DIR/*.stream).
void remove_streams(const std::filesystem::path& dir);
void write_recordings(const std::filesystem::path& dir, const Simulation& sim);
/// Spikes, probes, weights, then summary.json; throws Error on an I/O failure (a file being
/// written stays under its .part name).
void write_results(const std::filesystem::path& dir, const Simulation& sim, const Provenance& prov);

}  // namespace l5sim
