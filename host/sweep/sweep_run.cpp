// Running a sweep: replicas in parallel on the CPU (one thread each), outputs per replica, one
// summary labelled by replica, condition and parameter values.
#include <omp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

#include "io/summary_json.hpp"
#include "l5sim/build_info.hpp"
#include "l5sim/devices.hpp"
#include "l5sim/error.hpp"
#include "l5sim/network.hpp"
#include "l5sim/output.hpp"
#include "l5sim/packed.hpp"
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

// The replicas in packs (l5sim/packed.hpp): replicas of the same length, as many per pack as
// memory allows (and opt.max_pack), each pack one lockstep run; every replica is then written
// by `finish`. Returns the number of packs run. Errors go to `fail` (-1: not one replica's).
template <class Fail, class Finish>
int run_packs(const Batch& batch, bool cpu, int threads, const SweepRunOptions& opt, Fail&& fail,
              Finish&& finish, std::chrono::steady_clock::time_point t0) {
    const auto n = batch.replicas.size();
    std::map<int64_t, std::vector<size_t>> by_length;  // steps -> replicas, in order
    for (size_t i = 0; i < n; ++i) by_length[batch.configs[i].steps()].push_back(i);
    int packs = 0;
    for (const auto& [steps, members] : by_length) {
        size_t next = 0;
        while (next < members.size()) {
            // As many as fit: the CUDA engine's estimate against 85 % of the free device memory,
            // the CPU engine's against half of the available host memory.
            const uint64_t budget = cpu ? host_available_bytes() / 2 : cuda_free_bytes() / 100 * 85;
            std::vector<size_t> pack;
            std::vector<Config> cfgs;
            uint64_t bytes = 0;
            while (next < members.size() &&
                   (opt.max_pack <= 0 || pack.size() < static_cast<size_t>(opt.max_pack))) {
                const size_t i = members[next];
                Config cfg = batch.configs[i];
                if (cpu) cfg.threads = 1;
                const uint64_t b = cpu ? estimate_bytes(cfg) : cuda_member_bytes(cfg);
                if (!pack.empty() && budget > 0 && bytes + b > budget) break;
                bytes += b;
                pack.push_back(i);
                cfgs.push_back(std::move(cfg));
                ++next;
            }
            ++packs;
            if (!opt.quiet)
                spdlog::info("pack {}: {} replicas of {} steps as one simulation ({:.1f} MiB {})",
                             packs, pack.size(), steps, bytes / 1048576.0,
                             cpu ? "of host memory" : "of device memory");
            if (opt.stop && opt.stop()) {
                fail(static_cast<int64_t>(pack.front()),
                     Error("interrupted before this replica started"));
                return packs;
            }
            size_t failed = SIZE_MAX;
            try {
                const auto b0 = std::chrono::steady_clock::now();
                EnginePack ep = cpu ? make_cpu_pack(cfgs, threads) : make_cuda_pack(cfgs);
                const double build =
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - b0).count();
                std::vector<std::unique_ptr<Simulation>> sims;
                std::vector<Simulation*> ptrs;
                for (size_t r = 0; r < pack.size(); ++r) {
                    sims.push_back(std::make_unique<Simulation>(cfgs[r], std::move(ep.engines[r]),
                                                                build / double(pack.size())));
                    ptrs.push_back(sims.back().get());
                }
                double last = 0;
                auto progress = [&](int64_t step, int64_t total) {
                    const double el =
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
                            .count();
                    if (opt.quiet || el - last < 5.0) return;
                    last = el;
                    spdlog::info("pack {}: step {} / {}", packs, step, total);
                };
                run_packed(ptrs, *ep.group, progress, &failed);
                failed = SIZE_MAX;
                for (size_t r = 0; r < pack.size(); ++r) {
                    failed = r;
                    finish(static_cast<int64_t>(pack[r]), *sims[r], ", packed");
                }
            } catch (const std::exception& e) {
                fail(failed < pack.size() ? static_cast<int64_t>(pack[failed]) : -1, e);
                return packs;
            }
        }
    }
    return packs;
}

}  // namespace

std::string replica_dir_name(uint32_t index) { return fmt::format("replicas/r{:05d}", index); }

std::string sweep_json(const Batch& batch) {
    nlohmann::ordered_json sj;
    sj["l5sim_version"] = build::version;
    sj["git_hash"] = build::git_hash;
    sj["source_config"] = batch.configs.front().source_file;
    sj["trials"] = batch.trials;
    sj["axes"] = batch.axes;
    sj["conditions"] = batch.conditions;
    sj["replicas"] = nlohmann::ordered_json::array();
    for (const auto& r : batch.replicas) sj["replicas"].push_back(replica_json(r));
    return sj.dump(2) + "\n";
}

SweepPart run_sweep_part(const Batch& batch, const fs::path& dir, const SweepRunOptions& opt,
                         const SweepShare& share) {
    SweepPart part;
    std::vector<int64_t> mine;  // the replicas this process runs
    for (int64_t i = 0; i < static_cast<int64_t>(batch.replicas.size()); ++i)
        if (i % share.ranks == share.rank) mine.push_back(i);
    const auto n = static_cast<int64_t>(mine.size());
    const bool cpu = opt.backend == Simulation::Backend::cpu ||
                     (opt.backend == Simulation::Backend::automatic && !cuda_available());
    // Automatic: unpacked on both engines for now. The packed CUDA path has not yet run on a
    // GPU (it is tested on the CPU engine, and bench/gpu_check.sh checks it against the CPU);
    // it becomes the CUDA default once a GPU run has shown it identical and faster.
    const bool packed = opt.pack == SweepRunOptions::Pack::on;
    // Unpacked on the CUDA engine each replica has its own engine and stream, driven by its own
    // host thread, so that many small replicas share the GPU at once. Packed, `parallel` is the
    // CPU group's thread count.
    int parallel = static_cast<int>(std::min<int64_t>(
        opt.parallel > 0 ? opt.parallel : omp_get_num_procs(), std::max<int64_t>(n, 1)));
    // Unpacked on the CPU: no more replicas at once than the memory holds (this process's share
    // of it when several share a node), and a replica that cannot fit at all is refused before
    // any runs.
    if (!packed && cpu && n > 0) {
        const uint64_t have = host_available_bytes(false) / std::max(1, opt.memory_sharers);
        const uint64_t room = std::min(have, host_available_bytes());
        uint64_t biggest = 0;
        for (const int64_t i : mine) biggest = std::max(biggest, estimate_bytes(batch.configs[i]));
        if (room > 0 && biggest > room)
            throw ConfigError(fmt::format(
                "a replica of this sweep needs about {:.2f} GiB of memory on the CPU engine, this "
                "process may use {:.2f} GiB{}; reduce N or K",
                biggest / 1073741824.0, room / 1073741824.0,
                opt.memory_sharers > 1
                    ? fmt::format(" (its share of the node with {} processes)", opt.memory_sharers)
                    : ""));
        if (room > 0 && biggest > 0) {
            const auto fit = static_cast<int>(std::max<uint64_t>(1, room / biggest));
            if (fit < parallel) {
                spdlog::info(
                    "sweep: {} replicas at a time instead of {}: each needs about {:.2f} "
                    "GiB of the {:.2f} GiB this process may use",
                    fit, parallel, biggest / 1073741824.0, room / 1073741824.0);
                parallel = fit;
            }
        }
    }
    part.packed = packed;
    part.at_once = parallel;
    spdlog::info(
        "sweep: {} replicas ({} conditions x grid of {} axes x {} trials){}, {} on the {} "
        "engine",
        batch.replicas.size(), std::max<size_t>(batch.conditions.size(), 1), batch.axes.size(),
        batch.trials,
        share.ranks > 1
            ? fmt::format(" over {} ranks (replica i on rank i % {})", share.ranks, share.ranks)
            : "",
        packed ? std::string("packed into as few simulations as memory allows")
               : std::to_string(parallel) + " at a time" + (share.ranks > 1 ? " per rank" : ""),
        cpu ? "CPU" : "CUDA");

    std::mutex io;  // HDF5 (Debian's serial build) is not thread safe: one writer at a time
    std::atomic<bool> failed{false};
    std::atomic<int64_t> done{0};
    const auto t0 = std::chrono::steady_clock::now();
    double last_log = 0;

    // Replica i's error, labelled, kept if it is the first.
    auto fail = [&](int64_t i, const std::exception& e) {
        std::lock_guard<std::mutex> lock(io);
        if (failed.exchange(true)) return;
        if (opt.on_failure) opt.on_failure();
        part.failed = true;
        part.failed_replica = i;
        part.config_error = dynamic_cast<const ConfigError*>(&e) != nullptr;
        if (i < 0) {
            part.error = std::string("packed replicas: ") + e.what();
            return;
        }
        std::string params;
        for (const auto& [k, v] : batch.replicas[i].params) params += " " + k + "=" + v;
        part.error = "replica " + std::to_string(i) +
                     (batch.replicas[i].condition.empty()
                          ? ""
                          : " (condition " + batch.replicas[i].condition + ")") +
                     (params.empty() ? "" : " (" + params.substr(1) + ")") + ": " + e.what();
    };
    // Replica i ran: its outputs and its summary entry.
    auto finish = [&](int64_t i, const Simulation& sim, const std::string& how) {
        const fs::path rdir = dir / replica_dir_name(uint32_t(i));
        const Provenance prov{sim.engine().name(),
                              opt.command_line + " (replica " + std::to_string(i) + how + ")"};
        nlohmann::ordered_json s = replica_json(batch.replicas[i]);
        for (const auto& p : summarize(sim)) s["populations"][p.name] = population_json(p);
        s["wall_s"] = sim.timing().wall_s;
        std::lock_guard<std::mutex> lock(io);
        fs::create_directories(rdir);
        write_resolved_config(rdir, sim.config(), prov);
        write_results(rdir, sim, prov);
        part.summaries.emplace_back(static_cast<uint32_t>(i), s.dump());
        const int64_t d = ++done;
        const double el =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (!opt.quiet && (el - last_log > 2.0 || d == n)) {
            last_log = el;
            spdlog::info("[{:3.0f}%] {} / {} replicas done{}, ETA {}", 100.0 * d / n, d, n,
                         share.ranks > 1 ? " on rank 0" : "", format_duration(el / d * (n - d)));
        }
    };

    if (packed) {
        Batch sub;  // this process's replicas, packed among themselves
        for (const int64_t i : mine) {
            sub.replicas.push_back(batch.replicas[i]);
            sub.configs.push_back(batch.configs[i]);
        }
        part.packs = run_packs(
            sub, cpu, parallel, opt,
            [&](int64_t k, const std::exception& e) { fail(k < 0 ? -1 : mine[k], e); },
            [&](int64_t k, const Simulation& sim, const std::string& how) {
                finish(mine[k], sim, how);
            },
            t0);
    } else {
        const int saved_levels = omp_get_max_active_levels();
        omp_set_max_active_levels(1);  // a replica's own parallel regions run on its one thread
#pragma omp parallel for schedule(dynamic, 1) num_threads(parallel)
        for (int64_t k = 0; k < n; ++k) {
            if (failed.load()) continue;
            const int64_t i = mine[k];
            if (opt.stop && opt.stop()) {
                fail(i, Error("interrupted before this replica started"));
                continue;
            }
            try {
                Config cfg = batch.configs[i];
                if (cpu) cfg.threads = 1;
                const Simulation::Backend be =
                    cpu ? Simulation::Backend::cpu : Simulation::Backend::cuda;
                Simulation sim(cfg, be);
                sim.run();
                finish(i, sim, "");
            } catch (const std::exception& e) {
                fail(i, e);
            }
        }
        omp_set_max_active_levels(saved_levels);
    }
    std::sort(part.summaries.begin(), part.summaries.end());
    return part;
}

void write_sweep_summary(const Batch& batch, const fs::path& dir,
                         const std::vector<std::string>& entries, const std::string& timing) {
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(sweep_json(batch));
    j["replicas"] = nlohmann::ordered_json::array();
    for (const auto& e : entries) j["replicas"].push_back(nlohmann::ordered_json::parse(e));
    j["timing"] = nlohmann::ordered_json::parse(timing);
    write_text(dir / "summary.json", j.dump(2) + "\n");
}

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
    prepare_output_dir(dir, opt.force, {"sweep.json", "summary.json", "replicas"});
    write_text(dir / "sweep.json", sweep_json(batch));
    const auto t0 = std::chrono::steady_clock::now();
    const SweepPart part = run_sweep_part(batch, dir, opt, SweepShare{});
    if (part.failed) {
        if (part.config_error) throw ConfigError(part.error);
        throw Error(part.error);
    }
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::vector<std::string> entries;
    for (const auto& [i, e] : part.summaries) entries.push_back(e);
    const auto n = static_cast<int64_t>(batch.replicas.size());
    const nlohmann::ordered_json timing = {
        {"wall_s", wall},
        {"packed", part.packed},
        {"packs", part.packs},
        {"replicas_at_once",
         part.packed ? (part.packs ? (n + part.packs - 1) / part.packs : 0) : part.at_once}};
    write_sweep_summary(batch, dir, entries, timing.dump());
    spdlog::info("sweep done: {} replicas in {:.1f} s; outputs in {}", n, wall, dir.string());
}

}  // namespace l5sim
