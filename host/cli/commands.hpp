#pragma once
// The l5sim subcommands (main.cpp parses the command line and calls them): run and resume in
// run_commands.cpp, validate and info in main.cpp. Each returns the process's exit code.
#include <string>
#include <vector>

#include "l5sim/sweep.hpp"

namespace l5sim::cli {

struct RunArgs {
    std::string config, out, backend = "cpu";
    std::string seed;  // "" = not given
    int threads = 0;
    std::vector<std::string> sets;
    bool force = false, quiet = false, profile = false;
    std::string checkpoint_every;
    std::string pack;  // "" = not given (auto)
    int max_pack = 0;
};

struct ResumeArgs {
    std::string dir, backend;
    int threads = 0;
    bool quiet = false, profile = false, ignore_health = false;
    std::string checkpoint_every;
};

/// The configs of a command line: the file, its --set overrides, --seed ("": not given) and
/// --threads (0: not given); a sweep's replicas when the file has sweep:.
Batch load(const std::string& path, const std::vector<std::string>& sets, const std::string& seed,
           int threads);
/// l5sim partition CONFIG --ranks R [--spikes FILE] [--json FILE].
struct PartitionArgs {
    std::string config, spikes, json;
    std::vector<std::string> sets;
    uint32_t ranks = 1;
};
int cmd_partition(const PartitionArgs& a);
/// l5sim run: one run, or a sweep when the config has sweep:.
int cmd_run(const RunArgs& a, const std::string& command_line);
/// l5sim run under mpiexec (a build with MPI): the network split over the ranks, rank 0 writing
/// the single process's files (docs/SCALING.md).
int cmd_run_ranks(const RunArgs& a, const std::string& command_line);
/// l5sim resume under mpiexec: the checkpoint (the single process's format) spread over the
/// ranks.
int cmd_resume_ranks(const ResumeArgs& a, const std::string& command_line);
/// l5sim resume DIR: continues the run whose checkpoint DIR holds.
int cmd_resume(const ResumeArgs& a, const std::string& command_line);

}  // namespace l5sim::cli
