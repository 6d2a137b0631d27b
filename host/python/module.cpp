// The compiled part of the Python package `l5sim` (python/l5sim/, docs/PYTHON.md): configs,
// simulations, checkpoints and sweeps of the C++ library, with NumPy arrays for spikes, state
// and weights. Nothing here simulates or writes anything itself: every call is the library's,
// so a run from Python is the run `l5sim run` makes.
#include <omp.h>
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/output_lock.hpp"
#include "l5sim/build_info.hpp"
#include "l5sim/checkpoint.hpp"
#include "l5sim/config.hpp"
#include "l5sim/error.hpp"
#include "l5sim/output.hpp"
#include "l5sim/simulation.hpp"
#include "l5sim/spike_stream.hpp"
#include "l5sim/state_vars.hpp"
#include "l5sim/sweep.hpp"

namespace py = pybind11;

namespace l5sim::python {

namespace {

// A Python value as a YAML node: None, bool, int, float (its shortest round-trip text), str,
// mappings, and sequences (lists, tuples, ranges) of these; NumPy scalars and arrays as their
// Python values (arrays as lists).
YAML::Node to_yaml(py::handle value, const std::string& where, int depth = 0) {
    py::object h = py::reinterpret_borrow<py::object>(value);
    if (depth > 64)
        throw ConfigError((where.empty() ? std::string("value") : where) +
                          ": nested more than 64 levels deep (a container that holds itself?)");
    if (py::hasattr(h, "dtype") && py::hasattr(h, "tolist")) h = h.attr("tolist")();
    const std::string at = where.empty() ? std::string("value") : where;
    if (h.is_none()) return YAML::Node(YAML::NodeType::Null);
    if (py::isinstance<py::bool_>(h)) return YAML::Node(h.cast<bool>() ? "true" : "false");
    if (py::isinstance<py::str>(h)) return YAML::Node(h.cast<std::string>());
    if (py::isinstance<py::float_>(h))
        return YAML::Node(py::repr(py::float_(h)).cast<std::string>());
    if (py::isinstance<py::int_>(h)) {
        try {
            return YAML::Node(h.cast<long long>());
        } catch (const py::cast_error&) {
            throw ConfigError(at + ": " + py::repr(h).cast<std::string>() +
                              " does not fit a 64-bit integer");
        }
    }
    if (py::isinstance<py::dict>(h)) {
        YAML::Node n(YAML::NodeType::Map);
        for (const auto& [k, v] : py::reinterpret_borrow<py::dict>(h)) {
            const std::string key = py::str(k).cast<std::string>();
            n[key] = to_yaml(v, where.empty() ? key : where + "." + key, depth + 1);
        }
        return n;
    }
    if (py::isinstance<py::iterable>(h) && !py::isinstance<py::bytes>(h)) {
        YAML::Node n(YAML::NodeType::Sequence);
        size_t i = 0;
        for (const auto& v : py::reinterpret_borrow<py::iterable>(h))
            n.push_back(to_yaml(v, where + "[" + std::to_string(i++) + "]", depth + 1));
        return n;
    }
    throw ConfigError(at + ": a " + py::str(py::type::of(h).attr("__name__")).cast<std::string>() +
                      " cannot be a config value (expected a number, a string, a bool, a list "
                      "or a dict)");
}

// A path argument (str or os.PathLike) as a string.
std::string path_of(const py::object& p, const char* what) {
    if (!py::isinstance<py::str>(p) && !py::hasattr(p, "__fspath__"))
        throw ConfigError(std::string(what) + ": expected a path (str or os.PathLike), got a " +
                          py::str(py::type::of(p).attr("__name__")).cast<std::string>());
    return py::str(py::module_::import("os").attr("fspath")(p)).cast<std::string>();
}

// `text` with the CLI's flags named as the Python arguments that stand for them.
std::string python_words(std::string text) {
    const std::pair<const char*, const char*> words[] = {{"--force", "force=True"},
                                                         {"--backend cuda", "backend='cuda'"},
                                                         {"--backend cpu", "backend='cpu'"}};
    for (const auto& [flag, arg] : words) {
        const std::string f = flag;
        for (size_t at = text.find(f); at != std::string::npos; at = text.find(f, at + 1))
            text.replace(at, f.size(), arg);
    }
    return text;
}

std::string emit(const YAML::Node& n, bool flow) {
    YAML::Emitter out;
    if (flow) out << YAML::Flow;
    out << n;
    return out.c_str();
}

// A new one-dimensional NumPy array of n elements (C order).
template <class T>
py::array_t<T> new_array(size_t n) {
    return py::array_t<T>(std::vector<py::ssize_t>{static_cast<py::ssize_t>(n)});
}

// A one-dimensional NumPy array over `v`'s elements, without a copy: the array takes the vector
// (moved to the heap, freed with the array's last reference).
template <class T>
py::array_t<T> owning_array(std::vector<T>&& v) {
    auto* held = new std::vector<T>(std::move(v));
    py::capsule owner(held, [](void* p) { delete static_cast<std::vector<T>*>(p); });
    const std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(held->size())},
        strides{static_cast<py::ssize_t>(sizeof(T))};
    return py::array_t<T>(shape, strides, held->data(), owner);
}

// {key: value} as --set overrides (values as YAML text).
std::vector<Override> overrides_of(const std::optional<py::dict>& set) {
    std::vector<Override> ov;
    if (!set) return ov;
    for (const auto& [k, v] : *set) {
        const std::string key = py::str(k).cast<std::string>();
        ov.emplace_back(key, emit(to_yaml(v, key), true));
    }
    return ov;
}

Config config_from_dict(const py::dict& d, const std::string& name,
                        const std::optional<py::dict>& set) {
    return parse_config(emit(to_yaml(d, ""), false), name, overrides_of(set));
}

// `cfg` with its resolved YAML changed by `edit`, parsed again (the same source file).
template <class Edit>
Config edited(const Config& cfg, Edit&& edit) {
    YAML::Node n = YAML::Load(cfg.resolved_yaml);
    edit(n);
    const std::string name = "the running config";
    Config out;
    try {
        out = parse_config(emit(n, false), name);
    } catch (const ConfigError& e) {
        // "the running config:LINE:COL: key: ..." -> "the running config: key: ...": the lines
        // are those of a YAML the user never saw.
        std::string what = e.what();
        if (what.rfind(name + ":", 0) == 0) {
            size_t at = name.size();
            for (int field = 0; field < 2 && at < what.size() && what[at] == ':'; ++field) {
                size_t next = at + 1;
                while (next < what.size() && std::isdigit(static_cast<unsigned char>(what[next])))
                    ++next;
                if (next == at + 1) break;
                at = next;
            }
            what = name + " (after set, inject or run)" + what.substr(at);
        }
        throw ConfigError(what);
    }
    out.source_file = cfg.source_file;
    return out;
}

// ms as YAML text that converts back to exactly `step` steps.
std::string ms_text(const Config& cfg, int64_t step) {
    return py::repr(py::float_(step_ms(step, cfg.dt_ms))).cast<std::string>();
}

// A schedule knob from a knob name or the config key it changes (configs/README.md, "Knob
// names"): populations.P.coupling.gamma -> P.gamma; populations.P.background.X.rate_hz ->
// P.background.X.rate_hz; projections.J.stdp.eta -> projections.J.eta.
std::string knob_of(const std::string& key) {
    const std::string pops = "populations.";
    if (key.rfind(pops, 0) == 0) {
        std::string rest = key.substr(pops.size());
        const auto dot = rest.find('.');
        if (dot != std::string::npos) {
            const std::string pop = rest.substr(0, dot), field = rest.substr(dot + 1);
            if (field == "coupling.gamma") return pop + ".gamma";
            if (field.rfind("background.", 0) == 0) return pop + "." + field;
        }
    }
    const std::string projs = "projections.";
    if (key.rfind(projs, 0) == 0) {
        const auto at = key.rfind(".stdp.eta");
        if (at != std::string::npos && at + 9 == key.size()) return key.substr(0, at) + ".eta";
    }
    return key;
}

// The engine a `backend` argument names ("cpu", "cuda", "auto"); ConfigError otherwise.
Simulation::Backend backend_of(const std::string& backend) {
    if (backend == "cpu") return Simulation::Backend::cpu;
    if (backend == "cuda") return Simulation::Backend::cuda;
    if (backend == "auto") return Simulation::Backend::automatic;
    throw ConfigError("backend '" + backend + "': expected cpu, cuda or auto");
}

// A `threads` argument: 0 (the config's simulation.threads) to 4096; ConfigError otherwise.
int threads_of(int threads) {
    if (threads < 0 || threads > 4096)
        throw ConfigError("threads " + std::to_string(threads) +
                          ": expected 0 (the config's simulation.threads) to 4096");
    return threads;
}

// Python's KeyboardInterrupt (or another pending signal's exception), checked with the GIL.
bool signal_pending() {
    py::gil_scoped_acquire gil;
    return PyErr_CheckSignals() != 0;
}

}  // namespace

// A simulation driven from Python: the library's Simulation, its records kept in memory. One
// call at a time: run() releases the GIL, and a call from another thread meanwhile is refused
// (RunError) instead of racing with the stepping.
// The note a checkpoint of a simulation with health checks off carries (then the rate bound).
constexpr const char* kHealthOff =
    "l5sim.Simulation.health_checks = False (simulation.health.max_rate_hz was ";

class PySimulation {
  public:
    PySimulation(const Config& cfg, const std::string& backend, int threads,
                 const py::object& stream = py::none()) {
        Config c = cfg;
        if (threads_of(threads) > 0) c.threads = threads;
        const Simulation::Backend be = backend_of(backend);
        backend_ = backend;
        const std::string dir = stream.is_none() ? "" : path_of(stream, "stream");
        {
            py::gil_scoped_release release;
            try {
                sim_ = std::make_unique<Simulation>(std::move(c), be);
            } catch (const ConfigError& e) {
                throw ConfigError(python_words(e.what()));
            } catch (const HealthError&) {
                throw;
            } catch (const Error& e) {
                throw Error(python_words(e.what()));
            }
        }
        target_ms_ = 0;
        if (!dir.empty()) start_streams(dir);
    }

    // Recordings streamed into `dir` (as `l5sim run` streams them into its directory): memory
    // stays flat however long the simulation runs; write() then writes that directory's files
    // from the streams, which stay beside them until close().
    void start_streams(const std::filesystem::path& where) {
        const std::filesystem::path dir = std::filesystem::absolute(where);
        lock_ = std::make_unique<OutputLock>(dir);  // "in use" first: another simulation's
        try {
            check_output_dir(dir, false);
        } catch (const ConfigError& e) {
            lock_->abandon();
            lock_.reset();
            throw ConfigError("stream=" + where.string() +
                              ": a directory for this simulation's streams must be new or empty "
                              "(" +
                              e.what() + ")");
        }
        const Config& cfg = sim_->config();
        prepare_output_dir(dir, false, run_outputs(cfg));
        if (cfg.recording.spikes) sim_->stream_spikes(dir / kSpikeStream, 0);
        sim_->stream_frames(dir, {}, {});
        stream_dir_ = dir;
    }

    // The streams removed and the directory released (a streaming simulation); then no more
    // running or writing.
    void close(bool keep_streams) {
        idle("close");
        if (stream_dir_.empty() || closed_) return;
        if (!keep_streams) remove_streams(*sim_);
        lock_.reset();
        closed_ = true;
    }

    // The simulation a checkpoint holds; one whose recordings were streamed (stream=DIR, or
    // `l5sim run`'s directory) goes on streaming into `stream`, the directory holding them (its
    // streams are checked against the checkpoint and cut to it, as `l5sim resume` does).
    static std::unique_ptr<PySimulation> resume(const py::object& where, const std::string& backend,
                                                int threads, const py::object& stream) {
        const std::string path = path_of(where, "resume");
        std::error_code ec;
        if (std::filesystem::is_directory(path, ec))
            throw ConfigError(path +
                              ": a directory; give the checkpoint file (an `l5sim run` "
                              "directory's checkpoint goes on with `l5sim resume DIR`)");
        const CheckpointInfo info = read_checkpoint_info(path);
        const bool streamed = info.spike_stream_bytes >= 0 || info.frames_streamed;
        if (streamed && stream.is_none())
            throw ConfigError(path +
                              ": its recordings are in stream files: give stream=DIR, the "
                              "directory that holds them (an `l5sim run` directory goes on with "
                              "`l5sim resume DIR`)");
        if (!streamed && !stream.is_none())
            throw ConfigError(path +
                              ": its recordings are inside it (a simulation without stream=): "
                              "resume it without stream=");
        Config cfg = parse_config(info.config_yaml, path);
        cfg.source_file = info.source_config;
        auto sim = std::make_unique<PySimulation>(cfg, backend, threads);
        restore_checkpoint(path, info, *sim->sim_);
        // The sum of the run(ms) pieces where the checkpoint kept it and it ends at the
        // checkpoint's step (so pieces after a resume add up as without it), else the step's ms.
        sim->target_ms_ = step_ms(sim->sim_->step(), cfg.dt_ms);
        if (info.run_ms >= 0) {
            if (!std::isfinite(info.run_ms) ||
                std::max<int64_t>(0, cfg.to_steps(info.run_ms)) != sim->sim_->step())
                throw ConfigError(path + ": the header's run_ms " +
                                  py::repr(py::float_(info.run_ms)).cast<std::string>() +
                                  " does not end at its step " + std::to_string(info.step) +
                                  " (an edited checkpoint?)");
            sim->target_ms_ = info.run_ms;
        }
        for (const std::string& note : info.health_ignored) {
            const std::string head = kHealthOff;
            if (note.rfind(head, 0) != 0) continue;
            sim->saved_rate_hz_ = std::strtod(note.c_str() + head.size(), nullptr);
            sim->sim_->set_health_checks(false);
        }
        if (streamed) {
            const std::filesystem::path dir = std::filesystem::absolute(path_of(stream, "stream"));
            if (!std::filesystem::is_directory(dir, ec))
                throw ConfigError("stream=" + dir.string() +
                                  ": no such directory (the streams "
                                  "of " +
                                  path + " are in the directory it streamed into)");
            sim->lock_ = std::make_unique<OutputLock>(dir);
            check_streams(dir, info, *sim->sim_);
            if (info.spike_stream_bytes >= 0)
                sim->sim_->stream_spikes(dir / kSpikeStream,
                                         static_cast<uint64_t>(info.spike_stream_bytes));
            if (info.frames_streamed)
                sim->sim_->stream_frames(dir, info.probe_frames, info.weight_frames);
            sim->stream_dir_ = dir;
        }
        return sim;
    }

    // Runs `ms` more (None: to the end of the config's duration; beyond it, the duration grows).
    // Pieces add up in ms, each ending at the step nearest to the sum (0.25 ms pieces at dt 0.1
    // ms give 2.5 steps each on average, not 3). The GIL is released while stepping; between
    // windows, at most every 50 ms of wall time, pending signals are checked: Ctrl-C stops at
    // that step boundary and raises KeyboardInterrupt, the simulation usable (and its duration
    // as before the call). `progress(done, total)` in steps of this call, ~5 times a second.
    bool run(std::optional<double> ms, const py::object& progress) {
        Busy busy(busy_, "run");
        if (closed_) throw Error("run: this simulation was closed (its streams are removed)");
        const Config& cfg = sim_->config();
        const int64_t first = sim_->step();
        const Config before = cfg;
        int64_t last = cfg.steps();
        double target = step_ms(cfg.steps(), cfg.dt_ms);
        if (ms) {
            if (!std::isfinite(*ms) || *ms < 0)
                throw ConfigError("run: ms must be a finite number >= 0, got " +
                                  py::repr(py::float_(*ms)).cast<std::string>());
            target = target_ms_ + *ms;
            if (target / cfg.dt_ms > 1e13)
                throw ConfigError("run: " + py::repr(py::float_(*ms)).cast<std::string>() +
                                  " ms more would be over 10^13 steps");
            last = std::max(first, cfg.to_steps(target));
        }
        if (last > cfg.steps()) {
            const std::string text = ms_text(cfg, last);
            sim_->reconfigure(
                edited(cfg, [&](YAML::Node& n) { n["simulation"]["duration_ms"] = text; }));
        }
        using clock = std::chrono::steady_clock;
        auto checked = clock::now(), reported = clock::now();
        bool interrupted = false;
        const bool report = !progress.is_none();
        // Stopped early (a signal, a health stop, an exception of `progress`): the spikes the
        // engine holds into the records, the ms count from the step reached, the duration as
        // it was before this call.
        auto stopped_early = [&] {
            sim_->collect();
            target_ms_ = step_ms(sim_->step(), before.dt_ms);
            if (sim_->step() <= before.steps() && sim_->config().steps() != before.steps())
                sim_->reconfigure(edited(sim_->config(), [&](YAML::Node& n) {
                    n["simulation"]["duration_ms"] = ms_text(before, before.steps());
                }));
        };
        try {
            py::gil_scoped_release release;
            sim_->run_to(
                last,
                [&](int64_t step, int64_t) {
                    if (!report || clock::now() - reported < std::chrono::milliseconds(200)) return;
                    reported = clock::now();
                    py::gil_scoped_acquire gil;
                    progress(step - first, last - first);
                },
                [&](int64_t) {
                    if (clock::now() - checked < std::chrono::milliseconds(50)) return false;
                    checked = clock::now();
                    interrupted = signal_pending();
                    return interrupted;
                });
        } catch (...) {
            stopped_early();
            throw;
        }
        if (interrupted) {
            py::error_already_set signal;  // taken from Python's error indicator
            stopped_early();
            throw signal;
        }
        target_ms_ = ms ? target : step_ms(sim_->step(), cfg.dt_ms);
        if (report) progress(sim_->step() - first, last - first);
        return sim_->step() >= sim_->config().steps();
    }

    // A knob from now on: a schedule entry {knob, op: set, value, start_ms: now} (plus the
    // cells of a gamma knob), so that the resolved config reproduces the run.
    void set(const std::string& key, double value, const py::object& cells) {
        idle("set");
        std::string knob = knob_of(key);
        // injections.<index>.amplitude_pA (the config key sweeps use) -> the injection's name.
        const std::string inj = "injections.";
        if (knob.rfind(inj, 0) == 0) {
            const auto dot = knob.find('.', inj.size());
            const std::string index = knob.substr(inj.size(), dot - inj.size());
            const auto& all = sim_->config().injections;
            if (dot != std::string::npos && !index.empty() &&
                index.find_first_not_of("0123456789") == std::string::npos) {
                const size_t i = std::stoul(index);
                if (i >= all.size())
                    throw ConfigError("set " + key + ": the config has " +
                                      std::to_string(all.size()) + " injections");
                knob = inj + all[i].name + knob.substr(dot);
            }
        }
        const bool gamma = knob.size() > 6 && knob.compare(knob.size() - 6, 6, ".gamma") == 0;
        if (!cells.is_none() && !gamma)
            throw ConfigError("set " + key + ": cells are for gamma knobs only (<pop>.gamma)");
        const Config& cfg = sim_->config();
        const int64_t now = sim_->step();
        sim_->reconfigure(edited(cfg, [&](YAML::Node& n) {
            YAML::Node e(YAML::NodeType::Map);
            e["knob"] = knob;
            e["op"] = "set";
            e["value"] = py::repr(py::float_(value)).cast<std::string>();
            e["start_ms"] = ms_text(cfg, now);
            if (!cells.is_none()) e["cells"] = to_yaml(cells, "cells");
            n["schedule"].push_back(e);
        }));
    }

    // A current from now on (a step injection from the current step, until `stop_ms` or the
    // end): into the soma and / or the dendrite of `cells` (None: all) of `population`.
    py::list inject(const std::string& population, const py::object& cells,
                    std::optional<double> soma_pA, std::optional<double> dendrite_pA,
                    std::optional<double> stop_ms) {
        idle("inject");
        if (!soma_pA && !dendrite_pA) throw ConfigError("inject: give soma_pA and/or dendrite_pA");
        pop_index(population);
        const Config& cfg = sim_->config();
        const int64_t now = sim_->step();
        if (stop_ms && !(*stop_ms > step_ms(now, cfg.dt_ms)))
            throw ConfigError("inject: stop_ms " +
                              py::repr(py::float_(*stop_ms)).cast<std::string>() +
                              " is not after now (" + ms_text(cfg, now) + " ms)");
        py::list names;
        sim_->reconfigure(edited(cfg, [&](YAML::Node& n) {
            auto taken = [&](const std::string& name) {
                for (const auto& e : n["injections"])
                    if (e["name"] && e["name"].as<std::string>() == name) return true;
                return false;
            };
            auto add = [&](const char* compartment, double pA) {
                size_t k = n["injections"].size();
                while (taken("python" + std::to_string(k))) ++k;
                YAML::Node e(YAML::NodeType::Map);
                e["name"] = "python" + std::to_string(k);
                names.append("python" + std::to_string(k));
                e["population"] = population;
                e["compartment"] = compartment;
                if (!cells.is_none()) e["cells"] = to_yaml(cells, "cells");
                e["kind"] = "step";
                e["amplitude_pA"] = py::repr(py::float_(pA)).cast<std::string>();
                e["start_ms"] = ms_text(cfg, now);
                if (stop_ms) e["stop_ms"] = py::repr(py::float_(*stop_ms)).cast<std::string>();
                n["injections"].push_back(e);
            };
            if (soma_pA) add("soma", *soma_pA);
            if (dendrite_pA) add("dendrite", *dendrite_pA);
        }));
        return names;
    }

    // (times in ms, node ids) of population `pop`'s spikes so far.
    py::tuple spikes(const std::string& pop) {
        idle("spikes");
        if (closed_ && sim_->spike_stream())
            throw Error(
                "spikes: this simulation was closed (its streams are removed); read the "
                "written files with l5sim.open");
        const uint32_t p = pop_index(pop);
        if (!sim_->config().recording.spikes)
            throw ConfigError("spikes: recording.spikes is false in this config");
        const double dt = sim_->config().dt_ms;
        if (const SpikeStream* st = sim_->spike_stream()) {
            // Read from the stream file into vectors that the arrays then own (no second copy).
            sim_->flush_streams();
            std::vector<double> times;
            std::vector<uint32_t> ids;
            for_each_streamed_spike(st->path(), st->bytes(),
                                    [&](uint32_t q, uint32_t id, int64_t n) {
                                        if (q != p) return;
                                        times.push_back(step_ms(n, dt));
                                        ids.push_back(id);
                                    });
            return py::make_tuple(owning_array(std::move(times)), owning_array(std::move(ids)));
        }
        // The record in memory keeps growing while the simulation runs (a view of it would
        // dangle after the next run()): the arrays are copies, the times computed from steps.
        const SpikeRecord& r = sim_->spikes().at(p);
        auto t = new_array<double>(r.steps.size());
        auto ids = new_array<uint32_t>(r.ids.size());
        auto tw = t.mutable_unchecked<1>();
        for (size_t k = 0; k < r.steps.size(); ++k)
            tw(static_cast<py::ssize_t>(k)) = step_ms(r.steps[k], dt);
        if (!r.ids.empty())
            std::memcpy(ids.mutable_data(), r.ids.data(), r.ids.size() * sizeof(uint32_t));
        return py::make_tuple(t, ids);
    }

    // A state variable (a probe name) of every cell, or of `cells` (integer ids).
    py::array_t<float> state(const std::string& pop, const std::string& var,
                             const std::optional<std::vector<int64_t>>& cells) const {
        idle("state");
        const uint32_t p = pop_index(pop);
        const auto& pc = sim_->config().populations[p];
        const VarInfo* v = find_probe_var(var);
        if (!v || !has_var(*v, pc.caps.has_dendrite, pc.all_receptors)) {
            std::string names;
            for (const VarInfo& r : kVarTable)
                if (r.probe && has_var(r, pc.caps.has_dendrite, pc.all_receptors))
                    names += std::string(names.empty() ? "" : ", ") + r.probe;
            throw ConfigError("state: no variable '" + var + "' in population " + pop + " (type " +
                              pc.type + "); it has " + names +
                              (v ? extra_receptor_hint(*v, pop) : ""));
        }
        std::vector<uint32_t> ids;
        if (!cells) {
            ids.resize(pc.n);
            for (uint32_t i = 0; i < pc.n; ++i) ids[i] = i;
        } else {
            for (const int64_t i : *cells) {
                if (i < 0 || i >= pc.n)
                    throw ConfigError("state: cell " + std::to_string(i) + " of " + pop +
                                      " outside [0, " + std::to_string(pc.n) + ")");
                ids.push_back(static_cast<uint32_t>(i));
            }
        }
        auto out = new_array<float>(ids.size());
        sim_->engine().read_state(p, var, ids, out.mutable_data());
        return out;
    }

    // Every synapse of a projection in CSR order: weight, source and target ids.
    py::tuple weights(const std::string& name) const {
        idle("weights");
        const Config& cfg = sim_->config();
        uint32_t j = 0;
        while (j < cfg.projections.size() && cfg.projections[j].name != name) ++j;
        if (j == cfg.projections.size()) {
            std::string names;
            for (const auto& pc : cfg.projections)
                names += std::string(names.empty() ? "" : ", ") + pc.name;
            throw ConfigError("weights: no projection '" + name + "' (the config has " + names +
                              ")");
        }
        const uint64_t m = sim_->engine().synapse_count(j);
        auto wa = owning_array(sim_->current_weights(j));  // the engine's copy, not copied again
        auto src = new_array<uint32_t>(m), tgt = new_array<uint32_t>(m);
        sim_->engine().read_synapses(j, 1, m, src.mutable_data(), tgt.mutable_data());
        return py::make_tuple(wa, src, tgt);
    }

    void checkpoint(const py::object& where) {
        idle("checkpoint");
        const std::string path = path_of(where, "checkpoint");
        std::error_code ec;
        if (path.empty() || std::filesystem::is_directory(path, ec))
            throw ConfigError("checkpoint '" + path +
                              "': a file name is needed (e.g. DIR/run.l5ck), not a directory");
        if (closed_)
            throw Error("checkpoint: this simulation was closed (its streams are removed)");
        // Health checks off: said in the checkpoint (its health_ignored list), with the rate
        // bound they had, so that a resume goes on without them and can turn them on again.
        std::vector<std::string> ignored;
        if (!sim_->health_checks())
            ignored.push_back(std::string(kHealthOff) +
                              py::repr(py::float_(saved_rate_hz_)).cast<std::string>() + ")");
        write_checkpoint(path, *sim_, "", ignored, target_ms_);
    }

    // The files `l5sim run` writes, for the steps run so far (the resolved config's duration is
    // the time simulated, so that `l5sim run DIR/config.resolved.yaml` makes the same run).
    void write(const py::object& where, bool force) {
        idle("write");
        if (closed_) throw Error("write: this simulation was closed (its streams are removed)");
        if (!stream_dir_.empty()) return write_streamed(where);
        const std::filesystem::path d = path_of(where, "write");
        if (sim_->step() == 0) throw ConfigError("write: nothing has run yet (run() first)");
        try {
            check_output_dir(d, force);
        } catch (const ConfigError& e) {
            throw ConfigError(python_words(e.what()));
        }
        OutputLock lock(d);
        try {
            const Config cfg = config_so_far();
            prepare_output_dir(d, force, run_outputs(cfg));
            write_files(d, cfg);
        } catch (...) {
            lock.abandon();
            throw;
        }
    }

    // A streaming simulation writes its own directory's files from the streams (which stay).
    void write_streamed(const py::object& where) {
        if (!where.is_none()) {
            std::error_code ec;
            const std::filesystem::path d = path_of(where, "write");
            if (!std::filesystem::equivalent(d, stream_dir_, ec))
                throw ConfigError("write " + d.string() + ": this simulation streams into " +
                                  stream_dir_.string() + " and writes its files there");
        }
        if (sim_->step() == 0) throw ConfigError("write: nothing has run yet (run() first)");
        sim_->flush_streams();
        write_files(stream_dir_, config_so_far());
    }
    // The running config with the duration run so far (what reproduces the steps run).
    Config config_so_far() const {
        Config cfg = sim_->config();
        if (sim_->step() == cfg.steps()) return cfg;
        const std::string text = ms_text(cfg, sim_->step());
        return edited(cfg, [&](YAML::Node& n) { n["simulation"]["duration_ms"] = text; });
    }
    // config.resolved.yaml (of `cfg`) and the recordings' files into `dir`.
    void write_files(const std::filesystem::path& dir, const Config& cfg) {
        Provenance prov{sim_->engine().name(), "python: l5sim.Simulation.write"};
        prov.health_checks = sim_->health_checks();
        write_resolved_config(dir, cfg, prov);
        write_results(dir, *sim_, prov);
    }
    const std::filesystem::path& stream_dir() const { return stream_dir_; }

    // Health checks off: the NaN checks and the rate check (the config's
    // simulation.health.max_rate_hz becomes 0, so that the resolved config and checkpoints go
    // on as this simulation does); on again: the rate bound as it was.
    void set_health_checks(bool on) {
        idle("health_checks");
        const Config& cfg = sim_->config();
        auto rate = [&](double hz) {
            const std::string text = py::repr(py::float_(hz)).cast<std::string>();
            sim_->reconfigure(edited(
                cfg, [&](YAML::Node& n) { n["simulation"]["health"]["max_rate_hz"] = text; }));
        };
        if (!on && cfg.health.max_rate_hz > 0) {
            saved_rate_hz_ = cfg.health.max_rate_hz;
            rate(0);
        } else if (on && saved_rate_hz_ > 0) {
            rate(saved_rate_hz_);
            saved_rate_hz_ = 0;
        }
        sim_->set_health_checks(on);
    }

    const Simulation& sim() const {
        idle("this");
        return *sim_;
    }
    const std::string& backend() const { return backend_; }

  private:
    // run() in progress: every other call is refused.
    struct Busy {
        Busy(bool& flag, const char* what) : f(flag) {
            if (f)
                throw Error(std::string(what) +
                            ": the simulation is running (run() in another thread); wait for it");
            f = true;
        }
        ~Busy() { f = false; }
        bool& f;
    };
    void idle(const char* what) const {
        if (busy_)
            throw Error(std::string(what) +
                        ": the simulation is running (run() in another thread); wait for it");
    }
    uint32_t pop_index(const std::string& name) const {
        const int p = sim_->config().population_index(name);
        if (p < 0) {
            std::string names;
            for (const auto& pc : sim_->config().populations)
                names += std::string(names.empty() ? "" : ", ") + pc.name;
            throw ConfigError("no population '" + name + "' (the config has " + names + ")");
        }
        return static_cast<uint32_t>(p);
    }
    std::string backend_;
    std::unique_ptr<Simulation> sim_;
    double target_ms_ = 0;      // where the pieces of run(ms) add up to
    double saved_rate_hz_ = 0;  // max_rate_hz while health checks are off
    bool busy_ = false;
    std::filesystem::path stream_dir_;  // streaming: the directory (locked) of the streams
    std::unique_ptr<OutputLock> lock_;
    bool closed_ = false;
};

void run_sweep_py(const py::object& config, const py::object& out,
                  const std::optional<py::dict>& set, int threads, const std::string& pack,
                  int max_pack, bool force, bool quiet, const std::string& backend) {
    Batch batch;
    std::vector<Override> all = overrides_of(set);
    if (threads_of(threads) > 0) all.emplace_back("simulation.threads", std::to_string(threads));
    if (py::isinstance<py::dict>(config)) {
        batch = parse_batch(emit(to_yaml(config, ""), false), "<dict>", all);
    } else {
        batch = load_batch(path_of(config, "run_sweep"), all);
    }
    if (!batch.is_sweep)
        throw ConfigError("run_sweep: the config has no sweep: block (run it with Simulation)");
    SweepRunOptions opt;
    opt.backend = backend_of(backend);
    opt.parallel = batch.configs.front().threads;
    if (pack != "" && pack != "on" && pack != "off")
        throw ConfigError("pack '" + pack + "': expected 'on', 'off' or None");
    opt.pack = pack == "on"    ? SweepRunOptions::Pack::on
               : pack == "off" ? SweepRunOptions::Pack::off
                               : SweepRunOptions::Pack::automatic;
    opt.max_pack = max_pack;
    opt.quiet = quiet;
    opt.force = force;
    opt.command_line = "python: l5sim.run_sweep";
    // Ctrl-C: the sweep's main thread (the caller's, Python's main thread, which OpenMP's loop
    // includes) checks for signals before each of its replicas; the other threads see its flag.
    std::atomic<bool> stop{false};
    bool interrupted = false;
    using clock = std::chrono::steady_clock;
    auto checked = clock::now();
    opt.stop = [&] {
        if (omp_get_thread_num() != 0 || stop.load()) return stop.load();
        if (clock::now() - checked < std::chrono::milliseconds(50)) return false;
        checked = clock::now();
        if (signal_pending()) {
            interrupted = true;
            stop = true;
        }
        return stop.load();
    };
    const std::filesystem::path dir = path_of(out, "run_sweep");
    try {
        check_output_dir(dir, force);
        py::gil_scoped_release release;
        OutputLock lock(dir);
        try {
            run_sweep(batch, dir, opt);
        } catch (...) {
            lock.abandon();
            throw;
        }
    } catch (const ConfigError& e) {
        if (interrupted) throw py::error_already_set();
        throw ConfigError(python_words(e.what()));
    } catch (const Error& e) {
        if (interrupted) throw py::error_already_set();
        throw Error(python_words(e.what()));
    }
    if (interrupted) throw py::error_already_set();
}

}  // namespace l5sim::python

PYBIND11_MODULE(_l5sim, m) {
    using namespace l5sim;
    using namespace l5sim::python;
    m.doc() = "The compiled core of the l5sim package (use `import l5sim`; docs/PYTHON.md).";
    m.attr("__version__") = build::version;
    m.attr("git_hash") = build::git_hash;
    spdlog::set_level(spdlog::level::warn);  // the library's progress lines: the package's own

    static py::exception<Error> run_error(m, "RunError", PyExc_RuntimeError);
    static py::exception<ConfigError> config_error(m, "ConfigError", PyExc_ValueError);
    static py::exception<HealthError> health_error(m, "HealthError", run_error.ptr());
    run_error.doc() = "A run-time failure of l5sim (exit code 1 of the CLI).";
    config_error.doc() =
        "An invalid config or argument: the message names the file (or <dict>), the key path "
        "and what was expected (exit code 2 of the CLI).";
    health_error.doc() =
        "A run stopped by its health checks: attributes population, variable ('rate_hz' for "
        "runaway activity), cell (-1: the population) and step; the simulation stays usable at "
        "that step (set health_checks = False to go on).";
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const HealthError& e) {
            py::object exc = py::handle(health_error.ptr())(e.what());
            exc.attr("population") = e.population;
            exc.attr("variable") = e.variable;
            exc.attr("cell") = e.cell;
            exc.attr("step") = e.step;
            PyErr_SetObject(health_error.ptr(), exc.ptr());
        } catch (const ConfigError& e) {
            PyErr_SetString(config_error.ptr(), e.what());
        } catch (const Error& e) {
            PyErr_SetString(run_error.ptr(), e.what());
        }
    });

    py::class_<Config>(m, "Config", "A validated l5sim config (configs/README.md).")
        .def_static(
            "load",
            [](const py::object& path, std::optional<py::dict> set) {
                return load_config(path_of(path, "Config.load"), overrides_of(set));
            },
            py::arg("path"), py::arg("set") = py::none(),
            "Load a YAML config file; `set` overrides keys ({'populations.PYR.n': 100}) as "
            "`--set` does. Raises ConfigError naming file:line, key and expectation.")
        .def_static(
            "from_dict",
            [](const py::dict& d, std::optional<py::dict> set, const std::string& name) {
                return config_from_dict(d, name, set);
            },
            py::arg("config"), py::arg("set") = py::none(), py::arg("name") = "<dict>",
            "A config from a dict of the YAML's structure, validated as a file is.")
        .def_static(
            "from_yaml",
            [](const std::string& text, std::optional<py::dict> set, const std::string& name) {
                return parse_config(text, name, overrides_of(set));
            },
            py::arg("text"), py::arg("set") = py::none(), py::arg("name") = "<yaml>",
            "A config from YAML text.")
        .def(
            "with_overrides",
            [](const Config& c, const py::dict& set) {
                Config out = parse_config(c.resolved_yaml,
                                          c.source_file.empty() ? "<config>" : c.source_file,
                                          overrides_of(set));
                out.source_file = c.source_file;
                return out;
            },
            py::arg("set"), "A copy with keys overridden ({'simulation.seed': 7}).")
        .def_property_readonly(
            "yaml", [](const Config& c) { return c.resolved_yaml; },
            "Every value, defaults filled in, as YAML (config.resolved.yaml without provenance).")
        .def_property_readonly(
            "source", [](const Config& c) { return c.source_file; }, "The file it was loaded from.")
        .def_property_readonly(
            "dt_ms", [](const Config& c) { return c.dt_ms; }, "Step (ms).")
        .def_property_readonly(
            "duration_ms", [](const Config& c) { return c.duration_ms; }, "Run length (ms).")
        .def_property_readonly(
            "steps", [](const Config& c) { return c.steps(); }, "Steps of the run.")
        .def_property_readonly(
            "seed", [](const Config& c) { return c.seed; }, "simulation.seed.")
        .def_property_readonly(
            "populations",
            [](const Config& c) {
                py::dict d;
                for (const auto& p : c.populations) d[py::str(p.name)] = p.n;
                return d;
            },
            "{name: cells} in config order.")
        .def_property_readonly(
            "projections",
            [](const Config& c) {
                py::list l;
                for (const auto& p : c.projections) l.append(p.name);
                return l;
            },
            "Projection names in config order.")
        .def("__repr__", [](const Config& c) {
            return "<l5sim.Config " + (c.source_file.empty() ? "<dict>" : c.source_file) + ": " +
                   std::to_string(c.populations.size()) + " populations, " +
                   std::to_string(c.steps()) + " steps>";
        });

    py::class_<PySimulation>(m, "Simulation",
                             "The compiled simulation (l5sim.Simulation wraps it).")
        .def(py::init<const Config&, const std::string&, int, const py::object&>(),
             py::arg("config"), py::arg("backend") = "auto", py::arg("threads") = 0,
             py::arg("stream") = py::none())
        .def("close", &PySimulation::close, py::arg("keep_streams") = false)
        .def_property_readonly("stream_dir",
                               [](const PySimulation& s) -> py::object {
                                   if (s.stream_dir().empty()) return py::none();
                                   return py::str(s.stream_dir().string());
                               })
        .def_static("resume", &PySimulation::resume, py::arg("path"), py::arg("backend") = "auto",
                    py::arg("threads") = 0, py::arg("stream") = py::none())
        .def("run", &PySimulation::run, py::arg("ms") = py::none(),
             py::arg("progress") = py::none())
        .def("set", &PySimulation::set, py::arg("knob"), py::arg("value"),
             py::arg("cells") = py::none())
        .def("inject", &PySimulation::inject, py::arg("population"), py::arg("cells") = py::none(),
             py::arg("soma_pA") = py::none(), py::arg("dendrite_pA") = py::none(),
             py::arg("stop_ms") = py::none())
        .def("spikes", &PySimulation::spikes, py::arg("population"))
        .def("state", &PySimulation::state, py::arg("population"), py::arg("variable"),
             py::arg("cells") = py::none())
        .def("weights", &PySimulation::weights, py::arg("projection"))
        .def("checkpoint", &PySimulation::checkpoint, py::arg("path"))
        .def("write", &PySimulation::write, py::arg("dir") = py::none(), py::arg("force") = false)
        .def_property_readonly("config", [](const PySimulation& s) { return s.sim().config(); })
        .def_property_readonly("step", [](const PySimulation& s) { return s.sim().step(); })
        .def_property_readonly("engine",
                               [](const PySimulation& s) { return s.sim().engine().name(); })
        .def_property_readonly("spike_counts",
                               [](const PySimulation& s) {
                                   py::dict d;
                                   const Config& c = s.sim().config();
                                   for (uint32_t p = 0; p < c.populations.size(); ++p)
                                       d[py::str(c.populations[p].name)] = s.sim().spike_count(p);
                                   return d;
                               })
        .def_property(
            "health_checks", [](const PySimulation& s) { return s.sim().health_checks(); },
            [](PySimulation& s, bool on) { s.set_health_checks(on); })
        .def_property_readonly("wall_s",
                               [](const PySimulation& s) { return s.sim().timing().wall_s; });

    m.def("run_sweep", &run_sweep_py, py::arg("config"), py::arg("out"),
          py::arg("set") = py::none(), py::arg("threads") = 0, py::arg("pack") = "",
          py::arg("max_pack") = 0, py::arg("force") = false, py::arg("quiet") = true,
          py::arg("backend") = "cpu");
}
