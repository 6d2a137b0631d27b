// The l5sim command line: run, resume, validate, info. Exit codes: 0 ok, 2 usage or config
// error, 1 run-time failure (DESIGN.md section 6), 130 / 143 stopped by SIGINT / SIGTERM after
// writing a checkpoint, 3 stopped by a health check (simulation.health: NaN or infinite state,
// runaway activity) after writing a checkpoint.
#include <omp.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <regex>

#include "cli/commands.hpp"
#ifdef L5SIM_HAVE_MPI
#include "mpi/mpi_rank.hpp"
#endif
#include "io/durable.hpp"
#include "io/output_lock.hpp"
#include "l5sim/build_info.hpp"
#include "l5sim/cell_types.hpp"
#include "l5sim/checkpoint.hpp"
#include "l5sim/config.hpp"
#include "l5sim/devices.hpp"
#include "l5sim/error.hpp"
#include "l5sim/network.hpp"
#include "l5sim/output.hpp"
#include "l5sim/simulation.hpp"
#include "l5sim/state_vars.hpp"
#include "l5sim/sweep.hpp"

namespace {

using namespace l5sim;
using namespace l5sim::cli;

int cmd_validate(const std::string& path, const std::vector<std::string>& sets) {
    const Batch batch = load(path, sets, "", 0);
    const Config& cfg = batch.configs.front();
    // Some config errors show only when the connectivity is drawn (a projection whose one-step
    // input cannot fit the delay ring): networks of up to 1 GiB are built here, one replica at
    // a time, so that validate finds them too; larger ones are checked when they run.
    constexpr uint64_t kBuildUpTo = uint64_t(1) << 30;
    size_t built = 0;
    for (size_t r = 0; r < batch.configs.size(); ++r) {
        const Config& c = batch.configs[r];
        // Trials differ from their grid point's first only in the seed, which does not change
        // what a build can refuse (the ring's bound is set by K and the largest weight).
        if (batch.is_sweep && batch.replicas[r].trial > 0) continue;
        if (estimate_bytes(c) > kBuildUpTo) continue;
        try {
            build_network(c);
        } catch (const ConfigError& e) {
            if (!batch.is_sweep) throw;
            throw ConfigError(fmt::format("{}: replica r{:05d}: {}", path, r, e.what()));
        }
        ++built;
    }
    uint64_t cells = 0;
    for (const auto& p : cfg.populations) cells += p.n;
    std::cout << path << ": valid (" << cfg.populations.size() << " populations, " << cells
              << " cells, " << cfg.projections.size() << " projections, " << cfg.steps()
              << " steps; about " << estimate_bytes(cfg) / (1024.0 * 1024.0)
              << " MiB on the CPU engine)";
    if (batch.is_sweep)
        std::cout << "; a sweep of " << batch.replicas.size() << " replicas ("
                  << std::max<size_t>(batch.conditions.size(), 1) << " conditions x "
                  << batch.replicas.size() / batch.trials /
                         std::max<size_t>(batch.conditions.size(), 1)
                  << " grid points x " << batch.trials << " trials)";
    const size_t distinct = batch.is_sweep ? batch.configs.size() / batch.trials : 1;
    if (built < distinct)
        std::cout << "; " << distinct - built << (distinct == 1 ? " network" : " networks")
                  << " over 1 GiB not built (their connectivity is checked when they run)";
    std::cout << "\n";
    return 0;
}

int cmd_info(bool bandwidth) {
    std::cout << "l5sim " << build::version << " (git " << build::git_hash << ", "
              << build::build_type << ")\n";
    std::cout << "engines: cpu (OpenMP, " << omp_get_max_threads() << " threads)";
    std::string why;
    const auto devices = cuda_devices(&why);
    std::cout << (cuda_built() ? ", cuda (compiled in)" : "") << "\n";
#ifdef L5SIM_HAVE_MPI
    std::cout << "mpi: built (l5sim run under mpiexec splits the network over the ranks)\n";
#else
    std::cout << "mpi: not built (no MPI library at configure time)\n";
#endif
    if (!cuda_built()) {
        std::cout << "cuda: not built (no nvcc at configure time)\n";
    } else if (devices.empty()) {
        std::cout << "cuda devices: none visible (" << why << ")\n";
    } else {
        for (size_t i = 0; i < devices.size(); ++i)
            std::cout << "cuda device " << i << ": " << devices[i] << "\n";
        if (bandwidth)
            std::cout << "cuda device 0 copy bandwidth: " << cuda_copy_bandwidth() / 1e9
                      << " GB/s (device-to-device, read + write)\n";
    }
    return 0;
}

}  // namespace

#ifdef L5SIM_HAVE_MPI
// MPI is started only when mpiexec launched this process (its environment says so): the same
// binary without mpiexec behaves as a build without MPI.
bool launched_by_mpiexec() {
    for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
        if (std::getenv(v)) return true;
    return false;
}
struct MpiSession {
    bool active = false;
    MpiSession(int* argc, char*** argv) {
        if (!launched_by_mpiexec()) return;
        MPI_Init(argc, argv);
        active = true;
    }
    ~MpiSession() {
        if (active) MPI_Finalize();
    }
};
#endif

int main(int argc, char** argv) {
#ifdef L5SIM_HAVE_MPI
    MpiSession mpi_session(&argc, &argv);
    const bool ranks = mpi_session.active;
#endif
    CLI::App app{"l5sim: cortical layer-5 circuits with dendritic bursting and plasticity"};
    app.require_subcommand(1);
    RunArgs ra;
    auto* run = app.add_subcommand("run", "simulate a config, writing an output directory");
    run->add_option("config", ra.config, "YAML config")->required();
    run->add_option("--out,-o", ra.out, "output directory")->required();
    run->add_option("--backend", ra.backend, "cpu, cuda or auto")
        ->check(CLI::IsMember({"cpu", "cuda", "auto"}));
    run->add_option("--seed", ra.seed, "override simulation.seed (an integer >= 0)");
    run->add_option("--threads", ra.threads, "CPU threads (default: all)")
        ->check(CLI::Range(1, 4096));
    run->add_option("--set", ra.sets, "override a key: a.b.c=value (repeatable)");
    run->add_flag("--force", ra.force, "write into a non-empty output directory");
    run->add_flag("--quiet,-q", ra.quiet, "no progress lines");
    run->add_flag("--profile", ra.profile,
                  "time each phase (summary.json timing.phases_s); synchronises, so slower");
    run->add_option("--checkpoint-every", ra.checkpoint_every,
                    "write DIR/checkpoint.l5ck every interval: wall clock (90s, 30min, 2h) or "
                    "biological time (500ms-bio, 2s-bio)");
    run->add_option("--pack", ra.pack,
                    "sweeps: step the replicas together as one simulation (on: one kernel launch "
                    "per stage for all replicas on the CUDA engine), off: each on its own; auto "
                    "(default): off for now (the packed CUDA path awaits its first GPU run)")
        ->check(CLI::IsMember({"auto", "on", "off"}));
    run->add_option("--max-pack", ra.max_pack,
                    "sweeps, packed: at most this many replicas per pack (default: as many as "
                    "memory allows)")
        ->check(CLI::Range(1, 1000000));
    ResumeArgs rs;
    auto* resume =
        app.add_subcommand("resume", "continue an interrupted run from DIR/checkpoint.l5ck");
    resume->add_option("dir", rs.dir, "output directory of the run")->required();
    resume
        ->add_option("--backend", rs.backend,
                     "cpu, cuda or auto (default: the checkpoint's engine)")
        ->check(CLI::IsMember({"cpu", "cuda", "auto"}));
    resume->add_option("--threads", rs.threads, "CPU threads (default: all)")
        ->check(CLI::Range(1, 4096));
    resume->add_option("--checkpoint-every", rs.checkpoint_every, "as for run");
    resume->add_flag("--quiet,-q", rs.quiet, "no progress lines");
    resume->add_flag("--profile", rs.profile, "time each phase");
    resume->add_flag("--ignore-health", rs.ignore_health,
                     "go on past a health stop, with health checks off (summary.json records it)");
    std::string vconfig;
    std::vector<std::string> vsets;
    auto* validate = app.add_subcommand("validate", "check a config and exit");
    validate->add_option("config", vconfig, "YAML config")->required();
    validate->add_option("--set", vsets, "override a key: a.b.c=value (repeatable)");
    auto* info = app.add_subcommand("info", "build, engines and devices");
    bool bandwidth = false;
    info->add_flag("--bandwidth", bandwidth, "measure the device's copy bandwidth");
    bool cell_type_tables = false;
    info->add_flag("--cell-types", cell_type_tables,
                   "print the cell-type registry: capabilities and every default (Markdown, as in "
                   "configs/README.md)");
    bool state_var_tables = false;
    info->add_flag("--state-vars", state_var_tables,
                   "print the state variables: probe names and init keys (Markdown, as in "
                   "configs/README.md)");
    PartitionArgs pa;
    auto* partition = app.add_subcommand(
        "partition",
        "how a config would split over RANKS processes: cells, synapses and memory per rank, and "
        "with --spikes the bytes the ranks would exchange (docs/SCALING.md)");
    partition->add_option("config", pa.config, "YAML config")->required();
    partition->add_option("--ranks", pa.ranks, "number of processes")
        ->required()
        ->check(CLI::Range(1, 64));
    partition->add_option("--set", pa.sets, "override a key: a.b.c=value (repeatable)");
    partition->add_option("--spikes", pa.spikes, "spikes.h5 of a run of the same config");
    partition->add_option("--json", pa.json, "also write the numbers to this JSON file");
#ifdef L5SIM_HAVE_MPI
    // Under mpiexec every rank parses the same command line: rank 0 alone speaks for what is
    // not a distributed run (usage errors, help, validate, info, partition), the others are
    // silent and end with the same exit code.
    int world_rank = 0;
    if (ranks) MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    const bool silent = world_rank != 0;
#else
    const bool silent = false;
#endif
    std::ostream mute(nullptr);  // discards everything
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = silent ? app.exit(e, mute, mute) : app.exit(e);
        return rc == 0 ? 0 : 2;
    }
    if (silent && !*run && !*resume) {
        std::cout.rdbuf(nullptr);
        std::cerr.rdbuf(nullptr);
    }
    std::string command_line;
    for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + std::string(argv[i]);
    try {
        if (*run) {
#ifdef L5SIM_HAVE_MPI
            if (ranks) return cmd_run_ranks(ra, command_line);
#endif
            return cmd_run(ra, command_line);
        }

        if (*resume) {
#ifdef L5SIM_HAVE_MPI
            if (ranks) return cmd_resume_ranks(rs, command_line);
#endif
            return cmd_resume(rs, command_line);
        }
        if (*validate) return cmd_validate(vconfig, vsets);
        if (*info && cell_type_tables) {
            std::cout << cell_types_markdown();
            return 0;
        }
        if (*info && state_var_tables) {
            std::cout << state_vars_markdown();
            return 0;
        }
        if (*info) return cmd_info(bandwidth);
        if (*partition) return cmd_partition(pa);
    } catch (const ConfigError& e) {
        std::cerr << "l5sim: error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "l5sim: run-time failure: " << e.what() << "\n";
        return 1;
    }
    return 2;
}
