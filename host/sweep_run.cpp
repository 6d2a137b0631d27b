// Running a sweep: replicas in parallel on the CPU (one thread each), outputs per replica, one
// summary labelled by replica, condition and parameter values.
#include <omp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <nlohmann/json.hpp>

#include "l5sim/build_info.hpp"
#include "l5sim/devices.hpp"
#include "l5sim/error.hpp"
#include "l5sim/output.hpp"
#include "l5sim/sweep.hpp"

namespace fs = std::filesystem;

namespace l5sim {

namespace {

// A YAML scalar as JSON: a number when it reads as one, else the text.
nlohmann::ordered_json json_value(const std::string& text) {
    try {
        size_t used = 0;
        const double v = std::stod(text, &used);
        if (used == text.size() && std::isfinite(v)) return v;
    } catch (...) {
    }
    return text;
}

nlohmann::ordered_json replica_json(const ReplicaSpec& r) {
    nlohmann::ordered_json j;
    j["index"] = r.index;
    j["dir"] = replica_dir_name(r.index);
    j["condition"] = r.condition;
    j["point"] = r.point;
    j["trial"] = r.trial;
    j["seed"] = r.seed;
    j["params"] = nlohmann::ordered_json::object();
    for (const auto& [k, v] : r.params) j["params"][k] = json_value(v);
    return j;
}

}  // namespace

std::string replica_dir_name(uint32_t index) { return fmt::format("replicas/r{:05d}", index); }

void run_sweep(const Batch& batch, const fs::path& dir, const SweepRunOptions& opt) {
    // An engine that cannot run is a failure of the whole sweep, said once, before anything is
    // written (as for a single run).
    if (opt.backend == Simulation::Backend::cuda) {
        std::string why;
        if (!cuda_available(&why))
            throw Error(cuda_built() ? "--backend cuda: no usable CUDA device (" + why + ")"
                                     : "--backend cuda: " + why +
                                           "; rebuild on a machine with the CUDA toolkit, or use "
                                           "--backend cpu");
    }
    check_output_dir(dir, opt.force);
    fs::create_directories(dir);
    for (const char* name : {"sweep.json", "summary.json"}) {
        fs::remove(dir / name);
        fs::remove(dir / (std::string(name) + ".part"));
    }
    fs::remove_all(dir / "replicas");

    const auto n = static_cast<int64_t>(batch.replicas.size());
    nlohmann::ordered_json sj;
    sj["l5sim_version"] = build::version;
    sj["git_hash"] = build::git_hash;
    sj["source_config"] = batch.configs.front().source_file;
    sj["trials"] = batch.trials;
    sj["axes"] = batch.axes;
    sj["conditions"] = batch.conditions;
    sj["replicas"] = nlohmann::ordered_json::array();
    for (const auto& r : batch.replicas) sj["replicas"].push_back(replica_json(r));
    write_text(dir / "sweep.json", sj.dump(2) + "\n");

    const bool cpu = opt.backend == Simulation::Backend::cpu ||
                     (opt.backend == Simulation::Backend::automatic && !cuda_available());
    // On the CUDA engine each replica has its own engine and stream, driven by its own host
    // thread, so that many small replicas share the GPU at once.
    const int parallel = static_cast<int>(std::min<int64_t>(
        opt.parallel > 0 ? opt.parallel : omp_get_num_procs(), std::max<int64_t>(n, 1)));
    spdlog::info("sweep: {} replicas ({} conditions x grid of {} axes x {} trials), {} at a time "
                 "on the {} engine",
                 n, std::max<size_t>(batch.conditions.size(), 1), batch.axes.size(),
                 batch.trials, parallel, cpu ? "CPU" : "CUDA");

    std::vector<nlohmann::ordered_json> summaries(n);
    std::mutex io;  // HDF5 (Debian's serial build) is not thread safe: one writer at a time
    std::atomic<bool> failed{false};
    std::atomic<int64_t> done{0};
    std::string error;
    bool config_error = false;
    const auto t0 = std::chrono::steady_clock::now();
    double last_log = 0;
    const int saved_levels = omp_get_max_active_levels();
    omp_set_max_active_levels(1);  // a replica's own parallel regions run on its one thread

#pragma omp parallel for schedule(dynamic, 1) num_threads(parallel)
    for (int64_t i = 0; i < n; ++i) {
        if (failed.load()) continue;
        try {
            Config cfg = batch.configs[i];
            if (cpu) cfg.threads = 1;
            const Simulation::Backend be = cpu ? Simulation::Backend::cpu : Simulation::Backend::cuda;
            Simulation sim(cfg, be);
            sim.run();
            const fs::path rdir = dir / replica_dir_name(uint32_t(i));
            const Provenance prov{sim.engine().name(),
                                  opt.command_line + " (replica " + std::to_string(i) + ")"};
            nlohmann::ordered_json s = replica_json(batch.replicas[i]);
            for (const auto& p : summarize(sim))
                s["populations"][p.name] = {{"n", p.n},
                                            {"spikes", p.spikes},
                                            {"rate_hz", p.rate_hz},
                                            {"burst_fraction", p.burst_fraction},
                                            {"calcium_fraction", p.calcium_fraction}};
            s["wall_s"] = sim.timing().wall_s;
            {
                std::lock_guard<std::mutex> lock(io);
                fs::create_directories(rdir);
                write_resolved_config(rdir, sim.config(), prov);
                write_results(rdir, sim, prov);
                summaries[i] = std::move(s);
                const int64_t d = ++done;
                const double el =
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                if (!opt.quiet && (el - last_log > 2.0 || d == n)) {
                    last_log = el;
                    spdlog::info("[{:3.0f}%] {} / {} replicas done, ETA {}", 100.0 * d / n, d, n,
                                 format_duration(el / d * (n - d)));
                }
            }
        } catch (const std::exception& e) {
            std::lock_guard<std::mutex> lock(io);
            if (!failed.exchange(true)) {
                config_error = dynamic_cast<const ConfigError*>(&e) != nullptr;
                std::string params;
                for (const auto& [k, v] : batch.replicas[i].params) params += " " + k + "=" + v;
                error = "replica " + std::to_string(i) +
                        (batch.replicas[i].condition.empty()
                             ? ""
                             : " (condition " + batch.replicas[i].condition + ")") +
                        (params.empty() ? "" : " (" + params.substr(1) + ")") + ": " + e.what();
            }
        }
    }
    omp_set_max_active_levels(saved_levels);
    if (failed) {
        if (config_error) throw ConfigError(error);
        throw Error(error);
    }

    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    nlohmann::ordered_json j = sj;
    j["replicas"] = summaries;
    j["timing"] = {{"wall_s", wall}, {"replicas_at_once", parallel}};
    write_text(dir / "summary.json", j.dump(2) + "\n");
    spdlog::info("sweep done: {} replicas in {:.1f} s; outputs in {}", n, wall, dir.string());
}

}  // namespace l5sim
