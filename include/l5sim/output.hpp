#pragma once
/// The output directory (DESIGN.md section 6): resolved config with provenance, SONATA spike
/// report, probes and weight snapshots (HDF5), summary.json. Every file is written under a
/// temporary name and renamed when complete, summary.json last: a directory without
/// summary.json is an interrupted run.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "l5sim/simulation.hpp"

namespace l5sim {

struct Provenance {
    Provenance(std::string engine_name, std::string command)
        : engine(std::move(engine_name)), command_line(std::move(command)) {}
    std::string engine;
    std::string command_line;
    /// Health checks on (simulation.health), and the health stops a resume was told to
    /// ignore (`l5sim resume --ignore-health`): summary.json records both.
    bool health_checks = true;
    std::vector<std::string> health_ignored;
};

/// The list of what l5sim wrote into an output directory (one name per line), which --force
/// removes, and nothing else of the directory's.
inline constexpr const char* kManifestFile = ".l5sim.manifest";

/// Time of step n in ms as every output file writes it: n / (1/dt) when 1/dt is a whole number
/// (0.1 ms -> 39.4, not 39.400000000000006), else n * dt.
inline double step_ms(int64_t n, double dt) {
    const double inv = std::round(1.0 / dt);
    if (std::abs(inv * dt - 1.0) < 1e-12) return static_cast<double>(n) / inv;
    return static_cast<double>(n) * dt;
}

/// `text` as a double-quoted YAML scalar (escapes for '"', '\\', newlines, control bytes).
std::string yaml_quoted(const std::string& text);

/// Write `text` to `path` atomically: into `path.part`, renamed when complete; Error on failure.
void write_text(const std::filesystem::path& path, const std::string& text);

/// A wall-clock duration for progress lines: "42 s", "3.5 min", "2.1 h".
std::string format_duration(double seconds);

/// Check that `dir` may be written (absent, empty but for l5sim's lock and manifest, or
/// `force`), is a writable directory or can be created, and is no dangling symbolic link;
/// throws ConfigError otherwise.
void check_output_dir(const std::filesystem::path& dir, bool force);
/// Create `dir` (and parents); with `force`, remove what an earlier l5sim run wrote there (its
/// manifest's names; nothing else); then write this run's manifest, `names`.
void prepare_output_dir(const std::filesystem::path& dir, bool force,
                        const std::vector<std::string>& names);
/// The files a single run of `cfg` writes into its directory (its manifest).
std::vector<std::string> run_outputs(const Config& cfg);
/// config.resolved.yaml (every value, defaults filled in) with provenance; written at the start.
void write_resolved_config(const std::filesystem::path& dir, const Config& cfg,
                           const Provenance& prov);
/// Remove the recording streams of `sim` (its DIR/*.stream), once the final files hold them.
void remove_streams(const Simulation& sim);
/// Spikes, probes and weights recorded so far, without summary.json (an interrupted run).
void write_recordings(const std::filesystem::path& dir, const Simulation& sim);
/// Spikes, probes, weights, then summary.json; throws Error on an I/O failure (a file being
/// written stays under its .part name).
/// Returns the populations' statistics written into summary.json.
std::vector<PopulationSummary> write_results(const std::filesystem::path& dir,
                                             const Simulation& sim, const Provenance& prov);

}  // namespace l5sim
