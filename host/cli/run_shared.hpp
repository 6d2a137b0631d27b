#pragma once
// What `run` and `resume` share with their MPI variants (run_commands.cpp, mpi_commands.cpp):
// the checkpoint interval, the held signals, the drive loop and the resume plan.
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "io/output_lock.hpp"
#include "l5sim/checkpoint.hpp"
#include "l5sim/config.hpp"
#include "l5sim/output.hpp"
#include "l5sim/simulation.hpp"
#include "l5sim/sweep.hpp"

namespace l5sim::cli {

/// --checkpoint-every: "30min", "2h", "90s" (wall clock) or "500ms-bio", "2s-bio" (biological).
struct Interval {
    double seconds = 0;  // 0: none
    bool bio = false;
};
Interval parse_interval(const std::string& text);
/// A biological interval shorter than a step would checkpoint every step: refused.
void check_interval(const Interval& every, const Config& cfg, const std::string& text);

/// The options of a sweep's run from the command line (--pack, --max-pack, --threads as the
/// replicas at a time); ConfigError for what a sweep does not take (--checkpoint-every).
SweepRunOptions sweep_options(const RunArgs& a, const Batch& batch, Simulation::Backend backend,
                              const std::string& command_line);

/// From the start of `run` and `resume` to the end of the process, SIGINT and SIGTERM are only
/// recorded: the run stops at its next step boundary with a checkpoint, and a signal during the
/// final write waits until the last file is renamed. Idempotent.
void hold_signals();

/// Runs `sim` to its end with checkpoints every `every` and on a signal, writing the results
/// into `dir`; the exit code (0, 3 after a health stop, 130 / 143 after a signal). `agree`
/// (MPI): the signal every rank acts on, from this rank's.
int drive(Simulation& sim, const std::filesystem::path& dir, Provenance prov, const Interval& every,
          bool quiet, const std::function<int(int)>& agree = nullptr);

/// What `l5sim resume` resumes, checked: the checkpoint belongs to this directory's run, is
/// whole, fits its config, and the run is not complete (nor stopped by a health check unless
/// --ignore-health); the directory's lock when `take_lock`.
struct ResumePlan {
    CheckpointInfo info;
    Config cfg;
    std::unique_ptr<OutputLock> lock;
};
ResumePlan plan_resume(const ResumeArgs& a, bool take_lock);

}  // namespace l5sim::cli
