// l5sim run and resume under mpiexec (cli/commands.hpp: cmd_run_ranks, cmd_resume_ranks;
// docs/SCALING.md): a network split over the ranks, rank 0 writing the single process's files;
// a sweep's replicas spread over the ranks.
#include <omp.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/run_shared.hpp"
#include "io/durable.hpp"
#include "io/output_lock.hpp"
#include "l5sim/checkpoint.hpp"
#include "l5sim/error.hpp"
#include "l5sim/output.hpp"
#include "l5sim/simulation.hpp"
#include "l5sim/sweep.hpp"
#include "mpi/mpi_rank.hpp"

namespace l5sim::cli {

namespace {

// Runs `f` on every rank and agrees on the outcome: 0 when every rank succeeded, else the
// largest exit code (2 config, 1 other), the message said once, by the lowest failing rank
// (naming it when there are several ranks).
template <class F>
int on_every_rank(MPI_Comm comm, F&& f) {
    const int rank = mpi::rank_of(comm), size = mpi::size_of(comm);
    int origin = rank;  // the rank whose failure this is (an agreed one's: mpi::agree_on)
    std::string what;
    const int code = mpi::run_caught(f, rank, &what, &origin);
    int worst = 0, first = size;
    const int mine = code ? rank : size;
    mpi::check(MPI_Allreduce(&code, &worst, 1, MPI_INT, MPI_MAX, comm), "MPI_Allreduce");
    mpi::check(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm), "MPI_Allreduce");
    if (worst && rank == first) {
        const std::string who = size > 1 ? fmt::format(" (rank {} of {})", origin, size) : "";
        std::cerr << "l5sim: " << (code == 2 ? "error" : "run-time failure") << who << ": " << what
                  << "\n";
    }
    return worst;
}

// Every rank's part of the run from here: `setup` (collective: restore, streams), then drive
// with the ranks agreeing on signals; the other ranks' scratch directory goes at the end. From
// here every rank makes the same engine calls (they are collective): a failure on one rank
// alone ends them all (MPI_Abort), naming the rank.
// Where a rank writes: rank 0 into the run's directory, the others into a scratch directory of
// their own (empty: their records and checkpoints are discarded, rank 0 gathers and writes
// everything), removed at the end. A run that was killed leaves its scratch behind: the
// next run on this machine removes every scratch directory whose process is gone.
std::filesystem::path rank_dir(const std::filesystem::path& dir, int rank) {
    if (rank == 0) return dir;
    const std::filesystem::path tmp = std::filesystem::temp_directory_path();
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(tmp, ec)) {
        const std::string name = e.path().filename().string();
        long r = 0, pid = 0;
        if (std::sscanf(name.c_str(), "l5sim_rank%ld_%ld", &r, &pid) != 2 || pid <= 0) continue;
        if (::kill(static_cast<pid_t>(pid), 0) == -1 && errno == ESRCH)
            std::filesystem::remove_all(e.path(), ec);
    }
    return tmp / fmt::format("l5sim_rank{}_{}", rank, static_cast<long>(getpid()));
}

template <class Setup>
int drive_ranks(MPI_Comm comm, Simulation& sim, const std::filesystem::path& scratch,
                const Interval& every, bool quiet, Setup&& setup) {
    const int rank = mpi::rank_of(comm), size = mpi::size_of(comm);
    try {
        const Provenance prov = setup();
        const int code = drive(sim, scratch, prov, every, quiet || rank != 0, [&](int sig) {
            int agreed = 0;
            mpi::check(MPI_Allreduce(&sig, &agreed, 1, MPI_INT, MPI_MAX, comm), "MPI_Allreduce");
            return agreed;
        });
        if (rank != 0) {
            std::error_code ec;
            std::filesystem::remove_all(scratch, ec);
        }
        return code;
    } catch (const std::exception& e) {
        std::cerr << "l5sim: run-time failure"
                  << (size > 1 ? fmt::format(" (rank {} of {})", rank, size) : "") << ": "
                  << e.what() << "\n";
        MPI_Abort(comm, dynamic_cast<const ConfigError*>(&e) ? 2 : 1);
        return 1;
    }
}

}  // namespace

// What run and resume under mpiexec refuse: a wall-clock checkpoint interval (the ranks would
// pause at different steps).
static void check_rank_options(const std::string& checkpoint_every) {
    if (!checkpoint_every.empty() && checkpoint_every.find("-bio") == std::string::npos)
        throw ConfigError("--checkpoint-every " + checkpoint_every +
                          ": under mpiexec give a biological interval (e.g. 2s-bio), so that "
                          "every rank pauses at the same step");
}

// The engine of every rank: --backend cpu, cuda (one device per rank) or auto.
static mpi::RankBackend rank_backend(const std::string& name) {
    if (name == "cuda") return mpi::RankBackend::cuda;
    if (name == "auto") return mpi::RankBackend::automatic;
    if (name == "cpu") return mpi::RankBackend::cpu;
    throw ConfigError("--backend " + name + ": expected cpu, cuda or auto");
}

// Rank 0's string from every rank (MPI_Gatherv of the bytes; empty elsewhere).
std::vector<std::string> gather_strings(const std::string& mine, MPI_Comm comm) {
    const int rank = mpi::rank_of(comm), size = mpi::size_of(comm);
    int n = static_cast<int>(mine.size());
    std::vector<int> counts(static_cast<size_t>(size)), displs(static_cast<size_t>(size));
    mpi::check(MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm), "MPI_Gather");
    int total = 0;
    for (int r = 0; r < size; ++r) {
        displs[r] = total;
        total += counts[r];
    }
    std::string all(rank == 0 ? static_cast<size_t>(total) : 0, '\0');
    mpi::check(MPI_Gatherv(mine.data(), n, MPI_CHAR, all.data(), counts.data(), displs.data(),
                           MPI_CHAR, 0, comm),
               "MPI_Gatherv");
    std::vector<std::string> out;
    if (rank == 0)
        for (int r = 0; r < size; ++r) out.push_back(all.substr(displs[r], counts[r]));
    return out;
}

// A sweep under mpiexec: replica i runs on rank i % ranks (SweepShare), which writes its
// directory into DIR (on a file system every rank sees: checked first); rank 0 owns DIR, writes
// sweep.json first and summary.json last from every rank's entries. A replica's failure is
// said once, by rank 0, naming the replica and the rank that ran it; every rank exits with its
// code. The replicas' files are those of the sweep without MPI.
int cmd_sweep_ranks(const RunArgs& a, const Batch& batch, const std::string& command_line,
                    MPI_Comm comm) {
    const int rank = mpi::rank_of(comm), size = mpi::size_of(comm);
    const std::filesystem::path dir = a.out;
    const std::filesystem::path token_file = dir / ".l5sim_ranks_see_this";
    // Written by the first rank whose replica fails; every rank looks for it before starting a
    // replica (or a pack) and stops, so that a failed sweep ends on every rank after the
    // replicas then running, not after all of theirs.
    const std::filesystem::path failed_file = dir / ".l5sim_sweep_failed";
    std::atomic<bool> stopped{false};
    std::unique_ptr<OutputLock> lock;
    SweepRunOptions opt;
    std::string token;
    int rc = on_every_rank(comm, [&] {
        // --backend auto: the CPU engine, as before CUDA ranks existed.
        if (a.backend == "cuda")
            throw ConfigError("--backend " + a.backend +
                              ": a sweep over MPI runs its replicas on the CPU engine of every "
                              "rank; on a GPU, run the sweep without mpiexec (its replicas "
                              "packed on the device)");
        opt = sweep_options(a, batch, Simulation::Backend::cpu, command_line);
        opt.quiet = a.quiet || rank != 0;
        opt.on_failure = [&] {
            if (stopped.load()) return;  // stopped by another rank's failure: not its own
            try {
                write_text(failed_file, std::to_string(rank) + "\n");
            } catch (const std::exception&) {  // the others then run their replicas to the end
            }
        };
        opt.stop = [&] {
            std::error_code ec;
            if (!std::filesystem::exists(failed_file, ec)) return false;
            stopped = true;
            return true;
        };
        // The ranks on this node share its cores (when --threads is not given) and memory.
        MPI_Comm node;
        mpi::check(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node),
                   "MPI_Comm_split_type");
        const int on_node = mpi::size_of(node);
        MPI_Comm_free(&node);
        opt.memory_sharers = on_node;
        if (opt.parallel <= 0) opt.parallel = std::max(1, omp_get_num_procs() / on_node);
        if (rank == 0) {
            check_output_dir(dir, a.force);
            lock = std::make_unique<OutputLock>(dir);
            prepare_output_dir(dir, a.force, {"sweep.json", "summary.json", "replicas"});
            write_text(dir / "sweep.json", sweep_json(batch));
            std::error_code ec;
            std::filesystem::remove(failed_file, ec);  // a killed sweep's
            token = fmt::format("{}-{}", static_cast<long>(getpid()),
                                std::chrono::steady_clock::now().time_since_epoch().count());
            write_text(token_file, token);
        }
    });
    auto give_up = [&] {
        if (rank != 0) return;
        std::error_code ec;
        std::filesystem::remove(token_file, ec);
        if (lock) lock->abandon();
    };
    if (rc) {
        give_up();
        return rc;
    }
    int len = static_cast<int>(token.size());
    mpi::check(MPI_Bcast(&len, 1, MPI_INT, 0, comm), "MPI_Bcast");
    token.resize(static_cast<size_t>(len));
    mpi::check(MPI_Bcast(token.data(), len, MPI_CHAR, 0, comm), "MPI_Bcast");
    rc = on_every_rank(comm, [&] {
        std::ifstream in(token_file);
        std::string seen;
        std::getline(in, seen);
        if (seen != token)
            throw ConfigError("--out " + dir.string() +
                              ": this rank does not see the directory rank 0 prepared (each "
                              "replica of a sweep over MPI is written by the rank that ran it): "
                              "give a directory on a file system every rank sees");
    });
    if (rc) {
        give_up();
        return rc;
    }
    const auto t0 = std::chrono::steady_clock::now();
    SweepPart part;
    try {
        part = run_sweep_part(batch, dir, opt, SweepShare{rank, size});
    } catch (const std::exception& e) {  // before any replica ran (a replica too large)
        part.failed = true;
        part.config_error = dynamic_cast<const ConfigError*>(&e) != nullptr;
        part.error = e.what();
        if (opt.on_failure) opt.on_failure();
    }
    nlohmann::ordered_json mine;
    mine["failed"] = part.failed;
    // Stopped by another rank's failure (not a failure of its own to report).
    mine["stopped"] =
        part.failed && stopped.load() &&
        part.error.find("interrupted before this replica started") != std::string::npos;
    mine["config_error"] = part.config_error;
    mine["replica"] = part.failed_replica;
    mine["error"] = part.error;
    mine["packs"] = part.packs;
    mine["at_once"] = part.at_once;
    mine["summaries"] = nlohmann::ordered_json::array();
    for (const auto& [i, e] : part.summaries) mine["summaries"].push_back({i, e});
    const auto all = gather_strings(mine.dump(), comm);
    int code = 0;
    if (rank == 0) {
        // The failure of the lowest replica (a failure of no replica first), named with its rank;
        // ranks that only stopped because of it are not failures of their own.
        int who = -1;
        int64_t lowest = INT64_MAX;
        bool own = false;
        std::vector<nlohmann::ordered_json> parts;
        for (int r = 0; r < size; ++r) {
            parts.push_back(nlohmann::ordered_json::parse(all[r]));
            const auto& p = parts.back();
            if (!p["failed"].get<bool>()) continue;
            const int64_t i = p["replica"].get<int64_t>();
            const bool mine_own = !p["stopped"].get<bool>();
            if (who < 0 || (mine_own && !own) || (mine_own == own && i < lowest)) {
                who = r;
                lowest = i;
                own = mine_own;
            }
        }
        if (who >= 0) {
            const auto& p = parts[static_cast<size_t>(who)];
            const bool config_error = p["config_error"].get<bool>();
            code = config_error ? 2 : 1;
            std::cerr << "l5sim: " << (config_error ? "error" : "run-time failure")
                      << fmt::format(" (rank {} of {})", who, size) << ": "
                      << p["error"].get<std::string>() << "\n";
        } else {
            std::vector<std::string> entries(batch.replicas.size());
            std::vector<int64_t> per_rank;
            int packs = 0, at_once = 0;
            for (const auto& p : parts) {
                per_rank.push_back(static_cast<int64_t>(p["summaries"].size()));
                packs += p["packs"].get<int>();
                at_once += p["at_once"].get<int>();
                for (const auto& e : p["summaries"])
                    entries.at(e[0].get<size_t>()) = e[1].get<std::string>();
            }
            const double wall =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            const bool packed = opt.pack == SweepRunOptions::Pack::on;
            const auto n = static_cast<int64_t>(batch.replicas.size());
            nlohmann::ordered_json timing = {
                {"wall_s", wall},
                {"packed", packed},
                {"packs", packs},
                {"replicas_at_once", packed ? (packs ? (n + packs - 1) / packs : 0) : at_once}};
            timing["mpi"] = {{"ranks", size},
                             {"replicas_per_rank", per_rank},
                             {"assignment", "replica i on rank i % ranks"}};
            try {
                write_sweep_summary(batch, dir, entries, timing.dump());
                spdlog::info("sweep done: {} replicas over {} ranks in {:.1f} s; outputs in {}", n,
                             size, wall, dir.string());
            } catch (const std::exception& e) {
                std::cerr << "l5sim: run-time failure: " << e.what() << "\n";
                code = 1;
            }
        }
        std::error_code ec;
        std::filesystem::remove(token_file, ec);
        std::filesystem::remove(failed_file, ec);
    }
    mpi::check(MPI_Bcast(&code, 1, MPI_INT, 0, comm), "MPI_Bcast");
    return code;
}

int cmd_run_ranks(const RunArgs& a, const std::string& command_line) {
    MPI_Comm comm = MPI_COMM_WORLD;
    const int rank = mpi::rank_of(comm), size = mpi::size_of(comm);
    if (rank != 0) spdlog::set_level(spdlog::level::off);  // rank 0 speaks for the run
    Batch batch;
    std::unique_ptr<OutputLock> lock;
    const std::filesystem::path dir = a.out;
    int rc = on_every_rank(comm, [&] { batch = load(a.config, a.sets, a.seed, a.threads); });
    if (rc) return rc;
    if (batch.is_sweep) return cmd_sweep_ranks(a, batch, command_line, comm);
    hold_signals();  // a signal to any rank stops every rank at the same step, with a checkpoint
    rc = on_every_rank(comm, [&] {
        check_rank_options(a.checkpoint_every);
        rank_backend(a.backend);
        if (!a.pack.empty() || a.max_pack > 0)
            throw ConfigError("--pack, --max-pack: packing applies to sweeps");
        requested_window();  // a bad L5SIM_WINDOW is an error before the run
        // Rank 0 owns the output directory; the other ranks write their (empty) copies of the
        // outputs into a scratch directory of their own, removed at the end.
        if (rank == 0) {
            check_output_dir(dir, a.force);
            lock = std::make_unique<OutputLock>(dir);
        }
    });
    if (rc) return rc;
    const Config& cfg = batch.configs.front();
    Interval every;
    rc = on_every_rank(comm, [&] {
        every = parse_interval(a.checkpoint_every);
        check_interval(every, cfg, a.checkpoint_every);
    });
    if (rc) {
        if (lock) lock->abandon();
        return rc;
    }
    const std::filesystem::path scratch = rank_dir(dir, rank);
    std::unique_ptr<Simulation> sim;
    rc = on_every_rank(comm, [&] {
        spdlog::info("building network over {} ranks: {} populations, {} projections", size,
                     cfg.populations.size(), cfg.projections.size());
        const auto t0 = std::chrono::steady_clock::now();
        if (cfg.threads > 0) omp_set_num_threads(cfg.threads);
        auto engine = mpi::make_mpi_engine(cfg, comm, 0, rank_backend(a.backend));
        const double build_s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        sim = std::make_unique<Simulation>(cfg, std::move(engine), build_s);
        sim->discard_records(rank != 0);  // rank 0 gathers and writes every record
        prepare_output_dir(scratch, rank == 0 ? a.force : true, run_outputs(cfg));
    });
    if (rc) {
        if (lock) lock->abandon();
        return rc;
    }
    spdlog::info(
        "network built in {:.2f} s: {} synapses ({} engine over {} MPI ranks, {} threads "
        "each)",
        sim->timing().build_s, sim->synapses(), sim->engine().name(), size,
        cfg.threads > 0 ? cfg.threads : omp_get_max_threads());
    // Rank 0's checkpoints (every block gathered by global id) are the single process's:
    // `l5sim resume DIR` goes on from them on one process or any number of ranks.
    return drive_ranks(comm, *sim, scratch, every, a.quiet, [&] {
        const Provenance prov{sim->engine().name(), command_line};
        write_resolved_config(scratch, sim->config(), prov);
        if (cfg.recording.spikes) sim->stream_spikes(scratch / kSpikeStream, 0);
        sim->stream_frames(scratch, {}, {});
        return prov;
    });
}

int cmd_resume_ranks(const ResumeArgs& a, const std::string& command_line) {
    MPI_Comm comm = MPI_COMM_WORLD;
    const int rank = mpi::rank_of(comm), size = mpi::size_of(comm);
    if (rank != 0) spdlog::set_level(spdlog::level::off);
    hold_signals();
    const std::filesystem::path dir = a.dir, ck = dir / kCheckpointFile;
    // Every rank reads and checks the checkpoint (a file system all ranks see); rank 0 takes
    // the directory.
    ResumePlan plan;
    Interval every;
    int rc = on_every_rank(comm, [&] {
        plan = plan_resume(a, rank == 0);
        check_rank_options(a.checkpoint_every);
        rank_backend(a.backend.empty() ? plan.info.engine : a.backend);
        every = parse_interval(a.checkpoint_every);
        check_interval(every, plan.cfg, a.checkpoint_every);
    });
    if (rc) return rc;
    const Config& cfg = plan.cfg;
    const CheckpointInfo& info = plan.info;
    const std::filesystem::path scratch = rank_dir(dir, rank);
    std::unique_ptr<Simulation> sim;
    rc = on_every_rank(comm, [&] {
        if (cfg.threads > 0) omp_set_num_threads(cfg.threads);
        // Every rank reads each block of the checkpoint through a buffer of at most 16 MiB,
        // keeping its share (about the block over the ranks, and an index of 4 bytes per
        // element of it): what that needs counts against its memory.
        uint64_t largest = 0;
        for (const auto& b : state_layout(cfg)) largest = std::max(largest, b.bytes());
        const uint64_t share = largest / static_cast<uint64_t>(size) * 2;
        // The checkpoint's engine unless --backend names another.
        auto engine =
            mpi::make_mpi_engine(cfg, comm, std::min<uint64_t>(largest, 16 << 20) + share,
                                 rank_backend(a.backend.empty() ? info.engine : a.backend));
        sim = std::make_unique<Simulation>(cfg, std::move(engine), 0.0);
        sim->discard_records(rank != 0);
        if (rank != 0) prepare_output_dir(scratch, true, run_outputs(cfg));
    });
    if (rc) return rc;
    // Restore (every rank takes its share of each block), then the streams (rank 0's go on in
    // DIR, the other ranks' are empty copies in their scratch).
    return drive_ranks(comm, *sim, scratch, every, a.quiet, [&] {
        restore_checkpoint(ck, info, *sim);
        if (rank == 0) check_streams(dir, info, *sim);
        if (info.spike_stream_bytes >= 0)
            sim->stream_spikes(scratch / kSpikeStream,
                               rank == 0 ? static_cast<uint64_t>(info.spike_stream_bytes) : 0);
        if (info.frames_streamed) {
            if (rank == 0) {
                sim->stream_frames(dir, info.probe_frames, info.weight_frames);
            } else {
                sim->stream_frames(scratch, {}, {});
            }
        }
        Provenance prov{sim->engine().name(), command_line};
        prov.health_ignored = info.health_ignored;
        if (a.ignore_health) {
            sim->set_health_checks(false);
            prov.health_checks = false;
            if (!info.health_stop.empty()) prov.health_ignored.push_back(info.health_stop);
        }
        spdlog::info("resuming {} at step {} of {} over {} MPI ranks", dir.string(), info.step,
                     info.steps, size);
        return prov;
    });
}
}  // namespace l5sim::cli
