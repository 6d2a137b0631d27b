// l5sim run and resume (cli/commands.hpp): checkpoints on a wall-clock or biological interval,
// signals (SIGINT, SIGTERM: a checkpoint, then exit 130 / 143), health stops, outputs.
#include <omp.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <regex>

#include "cli/commands.hpp"
#include "cli/run_shared.hpp"
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

namespace l5sim::cli {

Interval parse_interval(const std::string& text) {
    if (text.empty()) return {};
    static const std::regex re(R"(^\s*([0-9]*\.?[0-9]+)\s*(ms|s|min|h)(-bio)?\s*$)");
    std::smatch m;
    if (!std::regex_match(text, m, re))
        throw ConfigError("--checkpoint-every '" + text +
                          "': expected a number and a unit: wall-clock 90s, 30min, 2h, or "
                          "biological time 500ms-bio, 2s-bio");
    const double x = std::stod(m[1].str());
    const std::string unit = m[2].str();
    const double scale = unit == "ms" ? 1e-3 : unit == "s" ? 1 : unit == "min" ? 60 : 3600;
    if (!(x > 0)) throw ConfigError("--checkpoint-every '" + text + "': must be greater than 0");
    return Interval{x * scale, m[3].matched};
}

// A biological interval shorter than a step would checkpoint every step: refused.
void check_interval(const Interval& every, const Config& cfg, const std::string& text) {
    if (every.bio && every.seconds * 1e3 < cfg.dt_ms)
        throw ConfigError("--checkpoint-every '" + text +
                          "': expected at least one step (dt_ms = " + fmt::format("{}", cfg.dt_ms) +
                          " ms)");
}

namespace {

volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_signal(int sig) {
    g_signal = sig;
    std::signal(sig, SIG_DFL);  // a second signal stops at once
}

}  // namespace

// From the start of `run` and `resume` to the end of the process, SIGINT and SIGTERM are only
// recorded: the run stops at its next step boundary with a checkpoint, and a signal during the
// final write waits until the last file is renamed. Idempotent.
void hold_signals() {
    static bool held = false;
    if (held) return;
    held = true;
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
}

Batch load(const std::string& path, const std::vector<std::string>& sets, const std::string& seed,
           int threads) {
    std::vector<Override> ov;
    for (const auto& s : sets) ov.push_back(parse_override(s));
    if (!seed.empty()) {
        // Decimal digits that fit the config key's range; CLI11 would clamp 2^64 to 2^63 - 1.
        int64_t v = -1;
        const auto r = std::from_chars(seed.data(), seed.data() + seed.size(), v, 10);
        if (r.ec != std::errc() || r.ptr != seed.data() + seed.size() || v < 0)
            throw ConfigError("--seed '" + seed + "': expected an integer in [0, " +
                              std::to_string(INT64_MAX) + "]");
        for (const auto& [k, value] : ov)
            if (k == "simulation.seed")
                throw ConfigError("--seed and --set simulation.seed: give the seed once");
        ov.emplace_back("simulation.seed", std::to_string(v));
    }
    if (threads > 0) ov.emplace_back("simulation.threads", std::to_string(threads));
    return load_batch(path, ov);
}

namespace {

Simulation::Backend backend_of(const std::string& name) {
    Simulation::Backend backend = name == "cuda"   ? Simulation::Backend::cuda
                                  : name == "auto" ? Simulation::Backend::automatic
                                                   : Simulation::Backend::cpu;
    if (backend == Simulation::Backend::automatic) {
        std::string why;
        const bool gpu = cuda_available(&why);
        spdlog::info("--backend auto: {}",
                     gpu ? "using the CUDA engine" : "using the CPU engine (" + why + ")");
    }
    return backend;
}

}  // namespace

SweepRunOptions sweep_options(const RunArgs& a, const Batch& batch, Simulation::Backend backend,
                              const std::string& command_line) {
    if (!a.checkpoint_every.empty())
        throw ConfigError(
            "--checkpoint-every: sweeps are not checkpointed (each replica is "
            "short; run a long experiment as a single config)");
    SweepRunOptions opt;
    opt.backend = backend;
    opt.parallel = batch.configs.front().threads;
    opt.pack = a.pack == "on"    ? SweepRunOptions::Pack::on
               : a.pack == "off" ? SweepRunOptions::Pack::off
                                 : SweepRunOptions::Pack::automatic;
    opt.max_pack = a.max_pack;
    if (a.max_pack > 0 && opt.pack == SweepRunOptions::Pack::off)
        throw ConfigError("--max-pack: the replicas are not packed (--pack off)");
    opt.quiet = a.quiet;
    opt.force = a.force;
    opt.command_line = command_line;
    return opt;
}

int cmd_run(const RunArgs& a, const std::string& command_line) {
    const Batch batch = load(a.config, a.sets, a.seed, a.threads);
    const std::filesystem::path dir = a.out;
    check_output_dir(dir, a.force);
    const Simulation::Backend backend = backend_of(a.backend);
    if (batch.is_sweep) {
        const SweepRunOptions opt = sweep_options(a, batch, backend, command_line);
        OutputLock lock(dir);
        try {
            run_sweep(batch, dir, opt);
        } catch (...) {
            lock.abandon();  // removes the directory only if it created it and nothing is in it
            throw;
        }
        return 0;
    }
    if (!a.pack.empty() || a.max_pack > 0)
        throw ConfigError(std::string(a.max_pack > 0 ? "--max-pack" : "--pack") +
                          ": packing applies to sweeps (a config with a sweep: block); " +
                          a.config + " has none");
    const Config& cfg = batch.configs.front();
    const Interval every = parse_interval(a.checkpoint_every);
    check_interval(every, cfg, a.checkpoint_every);
    hold_signals();  // a single run stops on SIGINT / SIGTERM with a checkpoint (sweeps do not)
    // The directory is this process's from here on (a second process is refused at once); a
    // failure before anything is written leaves no directory behind.
    OutputLock lock(dir);
    try {
        spdlog::info("building network: {} populations, {} projections", cfg.populations.size(),
                     cfg.projections.size());
        Simulation sim(cfg, backend, a.profile);
        spdlog::info("network built in {:.2f} s: {} synapses ({} engine, {} threads)",
                     sim.timing().build_s, sim.synapses(), sim.engine().name(),
                     omp_get_max_threads());
        prepare_output_dir(dir, a.force, run_outputs(cfg));
        const Provenance prov{sim.engine().name(), command_line};
        write_resolved_config(dir, sim.config(), prov);
        // Recordings stream to files as the run goes on: memory stays flat.
        if (cfg.recording.spikes) sim.stream_spikes(dir / kSpikeStream, 0);
        sim.stream_frames(dir, {}, {});
        return drive(sim, dir, prov, every, a.quiet);
    } catch (...) {
        lock.abandon();  // removes the directory only if it created it and nothing is in it
        throw;
    }
}

namespace {

// The one line said when an I/O failure stops a run: what failed, and whether and how the run
// can go on (a checkpoint in `dir` that resume accepts).
std::string with_resume_hint(const std::string& what, const std::filesystem::path& dir) {
    const std::filesystem::path ck = dir / kCheckpointFile;
    try {
        const CheckpointInfo info = read_checkpoint_info(ck);
        return what + "; the run can go on from " + ck.string() + " (step " +
               std::to_string(info.step) + " of " + std::to_string(info.steps) +
               "): make room, then `l5sim resume " + dir.string() + "`";
    } catch (const Error&) {
        return what +
               "; there is no checkpoint to resume from (--checkpoint-every writes "
               "them), so the run must start again";
    }
}

void print_summary(const Simulation& sim, const std::vector<PopulationSummary>& summaries,
                   const std::filesystem::path& dir) {
    const Config& cfg = sim.config();
    // Burst and calcium fractions are said of pyramidal populations only (null in summary.json
    // for interneurons, whose fast firing makes the ISI criterion meaningless); the burst
    // fraction needs the spike trains, so without recording.spikes it is unknown, not 0.
    for (size_t p = 0; p < summaries.size(); ++p) {
        const auto& s = summaries[p];
        std::string fractions;
        if (cfg.populations[p].caps.has_dendrite) {
            fractions = s.burst_fraction
                            ? fmt::format("  burst fraction {:.2f}", *s.burst_fraction)
                            : std::string("  burst fraction n/a (spikes not recorded)");
            fractions += fmt::format("  calcium-triggered {:.2f}", s.calcium_fraction.value_or(0));
        }
        spdlog::info("{:>6}: {:7} cells {:9} spikes {:8.2f} Hz{}", s.name, s.n, s.spikes, s.rate_hz,
                     fractions);
    }
    const auto& t = sim.timing();
    spdlog::info("{:.3f} s simulated in {:.2f} s wall ({:.3g} synaptic events/s); outputs in {}",
                 t.steps * cfg.dt_ms * 1e-3, t.wall_s,
                 t.wall_s > 0 ? t.synaptic_events / t.wall_s : 0.0, dir.string());
}

// The keys whose values differ between two resolved configs (up to `most`, as "key: a vs b").
std::vector<std::string> differing_keys(const std::string& a_yaml, const std::string& b_yaml,
                                        size_t most) {
    std::map<std::string, std::string> a, b;
    std::function<void(const YAML::Node&, const std::string&, std::map<std::string, std::string>&)>
        flatten = [&](const YAML::Node& n, const std::string& path,
                      std::map<std::string, std::string>& out) {
            if (n.IsMap()) {
                for (auto it = n.begin(); it != n.end(); ++it)
                    flatten(it->second, (path.empty() ? "" : path + ".") + it->first.Scalar(), out);
            } else if (n.IsSequence()) {
                for (size_t i = 0; i < n.size(); ++i)
                    flatten(n[i], path + "." + std::to_string(i), out);
            } else {
                out[path] = n.IsScalar() ? n.Scalar() : "";
            }
        };
    flatten(YAML::Load(a_yaml), "", a);
    flatten(YAML::Load(b_yaml), "", b);
    std::vector<std::string> diffs;
    for (const auto& [k, v] : a) {
        const auto it = b.find(k);
        const std::string other = it == b.end() ? "(absent)" : it->second;
        if (other != v) diffs.push_back(k + ": " + v + " vs " + other);
    }
    for (const auto& [k, v] : b)
        if (!a.count(k)) diffs.push_back(k + ": (absent) vs " + v);
    if (diffs.size() > most) {
        const size_t more = diffs.size() - most;
        diffs.resize(most);
        diffs.push_back("and " + std::to_string(more) + " more");
    }
    return diffs;
}

}  // namespace

// Run `sim` to its end, writing a checkpoint at each interval and on SIGINT / SIGTERM (then
// the recordings so far, without summary.json, and exit 128 + signal). Whatever stops the
// process, at whatever instant, the directory holds either a complete run or a checkpoint
// (with the streams it relies on) from which `l5sim resume` finishes it byte-identically:
// the checkpoint and the streams are removed only after the last final file is renamed, and
// a signal during the final write is held until it is done.
// `agree`: one rank of a run over MPI (cmd_run_ranks): at every pause check the ranks agree on
// the signal seen by any of them (the largest), so that every rank stops at the same step.
int drive(Simulation& sim, const std::filesystem::path& dir, Provenance prov, const Interval& every,
          bool quiet, const std::function<int(int)>& agree) {
    const bool ranks = static_cast<bool>(agree);
    const Config& cfg = sim.config();
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    const int64_t start = sim.step();  // this process's first step (resumed runs start later)
    double last = 0;
    auto progress = [&](int64_t step, int64_t total) {
        if (quiet) return;
        const double el = std::chrono::duration<double>(clock::now() - t0).count();
        if (el - last < 2.0) return;
        last = el;
        const double bio = step * cfg.dt_ms * 1e-3;
        const double done = (step - start) * cfg.dt_ms * 1e-3;
        const double rate = done / el;
        spdlog::info(
            "[{:3.0f}%] {:.2f} / {:.2f} s simulated, {:.3f} simulated s per wall s, ETA {}",
            100.0 * step / total, bio, total * cfg.dt_ms * 1e-3, rate,
            rate > 0 ? format_duration((total - step) * cfg.dt_ms * 1e-3 / rate) : "-");
    };
    const int64_t every_steps =
        every.bio ? std::max<int64_t>(1, cfg.to_steps(every.seconds * 1e3)) : 0;
    int64_t next_step = every_steps ? (sim.step() / every_steps + 1) * every_steps : 0;
    auto last_ck = clock::now();
    uint64_t calls = 0;  // windows since the run started: the wall clock is read every 64th
    int signal = 0;      // the signal that stops the run (agreed by the ranks of a run over MPI)
    auto pause = [&](int64_t step) {
        signal = ranks ? agree(static_cast<int>(g_signal)) : static_cast<int>(g_signal);
        if (signal) return true;
        if (every_steps) return step >= next_step;
        if (every.seconds > 0 && ++calls % 64 == 0)
            return std::chrono::duration<double>(clock::now() - last_ck).count() >= every.seconds;
        return false;
    };
    const std::filesystem::path ck = dir / kCheckpointFile;
    // (Already since the command started: a signal then stops at the first pause; on the ranks
    // of a run over MPI at the same step on every rank, through `agree`.)
    hold_signals();
    try {
        while (!sim.run(progress, pause, every_steps)) {
            const auto c0 = clock::now();
            write_checkpoint(ck, sim, "", prov.health_ignored);
            const double ck_s = std::chrono::duration<double>(clock::now() - c0).count();
            if (signal) {
                const int sig = signal;
                write_recordings(dir, sim);
                spdlog::warn(
                    "stopped by {} after step {} ({:.3f} s simulated): checkpoint "
                    "written in {:.2f} s; `l5sim resume {}` continues the run",
                    sig == SIGINT ? "SIGINT" : "SIGTERM", sim.step(), sim.step() * cfg.dt_ms * 1e-3,
                    ck_s, dir.string());
                return 128 + sig;
            }
            // The recordings so far too (each file replaced atomically): readable while the
            // run goes on, consistent with the checkpoint.
            write_recordings(dir, sim);
            if (!quiet)
                spdlog::info(
                    "checkpoint at step {} ({:.3f} s simulated) written in {:.2f} s; "
                    "recordings so far in {}",
                    sim.step(), sim.step() * cfg.dt_ms * 1e-3, ck_s, dir.string());
            if (every_steps) next_step = (sim.step() / every_steps + 1) * every_steps;
            last_ck = clock::now();
        }
    } catch (const HealthError& e) {
        // Stopped at a step boundary: the state there, and the recordings so far, for a look;
        // the checkpoint says why, so that resume does not go past it unasked.
        try {
            write_checkpoint(ck, sim, e.what(), prov.health_ignored);
            write_recordings(dir, sim);
        } catch (const Error& io) {
            spdlog::error("{}", e.what());
            throw Error(std::string("the health stop's state could not be saved: ") + io.what());
        }
        spdlog::error("{}", e.what());
        spdlog::error(
            "the state at step {} is in {} and the recordings so far in {} (no "
            "summary.json); `l5sim resume --ignore-health {}` goes on regardless",
            sim.step(), ck.string(), dir.string(), dir.string());
        return 3;
    } catch (const ConfigError&) {
        throw;
    } catch (const Error& e) {
        throw Error(with_resume_hint(e.what(), dir));
    }
    // The run is complete. A signal from here on is held (on_signal only records it) until
    // every final file is written and renamed; the checkpoint, if any, and the streams stay
    // until then, so that a failure leaves a run that resume finishes.
    std::vector<PopulationSummary> summaries;
    try {
        summaries = write_results(dir, sim, prov);
    } catch (const Error& e) {
        std::error_code ec;
        // (Not on a rank of a run over MPI: a checkpoint is collective, and this rank alone
        // failed.)
        if (!ranks && !std::filesystem::exists(ck, ec)) {
            // No checkpoint yet (none was asked for): try to keep the finished state.
            try {
                write_checkpoint(ck, sim, "", prov.health_ignored);
            } catch (const Error&) {
            }
        }
        throw Error(with_resume_hint(e.what(), dir));
    }
    std::error_code ec;
    std::filesystem::remove(ck, ec);  // the run is complete: its outputs are final
    std::filesystem::remove(ck.string() + ".part", ec);  // one a SIGKILL cut short, if any
    sync_dir(dir);
    remove_streams(sim);  // spikes.h5, probes.h5 and weights.h5 hold them now
    print_summary(sim, summaries, dir);
    if (g_signal)
        spdlog::warn(
            "{} arrived while the final files were written: held until they were "
            "complete; the run is complete",
            g_signal == SIGINT ? "SIGINT" : "SIGTERM");
    return 0;
}

ResumePlan plan_resume(const ResumeArgs& a, bool take_lock) {
    ResumePlan plan;
    const std::filesystem::path dir = a.dir, ck = dir / kCheckpointFile;
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
        throw ConfigError(dir.string() + ": no such directory, so no " + kCheckpointFile +
                          " to resume from");
    // This process's from here on: a run still going, or another resume, is refused at once.
    // (Under mpiexec rank 0 takes the lock, and only it removes what a complete run left.)
    if (take_lock) plan.lock = std::make_unique<OutputLock>(dir);
    const bool complete = std::filesystem::exists(dir / "summary.json", ec);
    if (!std::filesystem::exists(ck, ec)) {
        if (complete)
            throw ConfigError(dir.string() +
                              ": the run is complete (summary.json is there); "
                              "there is nothing to resume");
        throw ConfigError(dir.string() + ": no " + kCheckpointFile +
                          " to resume from (a run writes one with --checkpoint-every, and when "
                          "SIGINT or SIGTERM stops it)");
    }
    if (complete) {
        // Stopped after its last file was renamed and before its checkpoint was removed: the
        // run is complete; what is left of its run-time state goes now.
        if (take_lock) {
            std::filesystem::remove(ck, ec);
            for (const auto& e : std::filesystem::directory_iterator(dir, ec))
                if (e.path().extension() == ".stream") std::filesystem::remove(e.path(), ec);
        }
        throw ConfigError(dir.string() +
                          ": the run is complete (summary.json is there); its "
                          "left-over checkpoint and streams were removed");
    }
    CheckpointInfo& info = plan.info;
    Config& cfg = plan.cfg;
    try {
        info = read_checkpoint_info(ck);
        cfg = parse_config(info.config_yaml, ck.string());
    } catch (const Error& e) {
        throw ConfigError(std::string(e.what()) + "; refusing to resume");
    }
    // The CRC catches damage; this catches a header that does not fit its own config.
    if (info.steps != cfg.steps() || info.step < 0 || info.step > info.steps)
        throw ConfigError(ck.string() + ": the header's step " + std::to_string(info.step) +
                          " of " + std::to_string(info.steps) + " does not fit its config (" +
                          std::to_string(cfg.steps()) + " steps); refusing to resume");
    // The checkpoint belongs to this directory's run: its config is the one the run wrote in
    // config.resolved.yaml (a checkpoint copied from another run, or a config edited since the
    // run started, is refused: resume would run the checkpoint's config under the other's name).
    {
        const std::filesystem::path resolved = dir / "config.resolved.yaml";
        Config here;
        try {
            here = load_config(resolved.string());
        } catch (const Error& e) {
            throw ConfigError(std::string(e.what()) + "; the run's " + resolved.string() +
                              " is needed to resume it (refusing)");
        }
        if (here.resolved_yaml != info.config_yaml) {
            std::string what;
            for (const auto& d : differing_keys(here.resolved_yaml, info.config_yaml, 4))
                what += (what.empty() ? "" : "; ") + d;
            throw ConfigError(ck.string() + " was not written by the run of " + resolved.string() +
                              " (" + what +
                              "; config.resolved.yaml's value first): another "
                              "run's checkpoint, or a config edited since the run started; "
                              "refusing to resume");
        }
    }
    if (!info.health_stop.empty() && !a.ignore_health)
        throw ConfigError(dir.string() + ": the run was stopped by a health check (" +
                          info.health_stop + "); `l5sim resume --ignore-health " + dir.string() +
                          "` goes on without health checks, recorded in summary.json");
    if (a.threads > 0) cfg.threads = a.threads;
    return plan;
}

int cmd_resume(const ResumeArgs& a, const std::string& command_line) {
    hold_signals();
    const std::filesystem::path dir = a.dir, ck = dir / kCheckpointFile;
    ResumePlan plan = plan_resume(a, true);
    CheckpointInfo& info = plan.info;
    Config& cfg = plan.cfg;
    const Interval every = parse_interval(a.checkpoint_every);
    check_interval(every, cfg, a.checkpoint_every);
    const Simulation::Backend backend = backend_of(a.backend.empty() ? info.engine : a.backend);
    Simulation sim(cfg, backend, a.profile);
    try {
        restore_checkpoint(ck, info, sim);
        check_streams(dir, info, sim);  // before any stream is cut to the checkpoint's length
        if (info.spike_stream_bytes >= 0)
            sim.stream_spikes(dir / kSpikeStream, static_cast<uint64_t>(info.spike_stream_bytes));
        if (info.frames_streamed) sim.stream_frames(dir, info.probe_frames, info.weight_frames);
    } catch (const ConfigError&) {
        throw;
    } catch (const Error& e) {
        throw ConfigError(std::string(e.what()) + "; refusing to resume");
    }
    Provenance prov{sim.engine().name(), command_line};
    prov.health_ignored = info.health_ignored;
    if (a.ignore_health) {
        sim.set_health_checks(false);
        prov.health_checks = false;
        if (!info.health_stop.empty()) prov.health_ignored.push_back(info.health_stop);
        spdlog::warn("--ignore-health: health checks are off for the rest of the run{}",
                     info.health_stop.empty() ? "" : " (past: " + info.health_stop + ")");
    }
    spdlog::info(
        "resuming {} at step {} of {} ({:.3f} of {:.3f} s simulated; checkpoint of the "
        "{} engine, continuing on the {} engine)",
        dir.string(), info.step, info.steps, info.step * cfg.dt_ms * 1e-3,
        info.steps * cfg.dt_ms * 1e-3, info.engine, sim.engine().name());
    return drive(sim, dir, prov, every, a.quiet);
}

}  // namespace l5sim::cli
