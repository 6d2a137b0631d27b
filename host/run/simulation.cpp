// The step pipeline, written once over the Engine interface (DESIGN.md section 1).
#include "l5sim/simulation.hpp"

#include <omp.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "l5sim/error.hpp"
#include "l5sim/network.hpp"
#include "l5sim/spike_stream.hpp"
#include "run/controls.hpp"

namespace l5sim {

// Refuse a network the CPU engine cannot hold, before allocating any of it.
static void check_host_memory(const Config& cfg) {
    const uint64_t have = host_available_bytes();
    if (have == 0) return;  // unknown: let the allocation decide
    const uint64_t need = estimate_bytes(cfg);
    if (need > have) {
        char buf[1024];
        std::snprintf(
            buf, sizeof buf,
            "%s: the network needs about %.2f GiB of memory on the CPU engine, this process "
            "may use %.2f GiB (MemAvailable, ulimit -v, cgroup memory.max); reduce N "
            "or K",
            cfg.source_file.c_str(), need / 1073741824.0, have / 1073741824.0);
        throw ConfigError(buf);
    }
}

// Spikes move from the engine to the host record every this many steps (the CUDA engine keeps
// them on the device in between).
constexpr int64_t kCollectEvery = 1000;

Simulation::Simulation(Config cfg, Backend backend, bool profile)
    : cfg_(std::move(cfg)), profile_(profile) {
    if (cfg_.threads > 0) omp_set_num_threads(cfg_.threads);
    const auto t0 = std::chrono::steady_clock::now();
    if (backend == Backend::cuda || (backend == Backend::automatic && cuda_available())) {
        engine_ = make_cuda_engine(cfg_);
    } else {
        check_host_memory(cfg_);
        engine_ = make_cpu_engine(cfg_, build_network(cfg_));
    }
    init(t0);
}

Simulation::Simulation(Config cfg, std::unique_ptr<Engine> engine, double build_s)
    : cfg_(std::move(cfg)), engine_(std::move(engine)) {
    if (!engine_) throw Error("Simulation: no engine");
    init(std::chrono::steady_clock::now());
    timing_.build_s += build_s;
}

void Simulation::init(std::chrono::steady_clock::time_point t0) {
    engine_->set_profiling(profile_);
    timing_.connectivity_bytes = engine_->connectivity_bytes();
    for (const auto& w : cfg_.recording.weights) {
        WeightRecord r;
        // An evenly spaced sample spanning the whole projection (at most max_synapses; all
        // synapses if it has no more).
        const uint64_t total = engine_->synapse_count(w.projection);
        r.stride = std::max<uint64_t>(1, (total + w.max_synapses - 1) / w.max_synapses);
        r.count = (total + r.stride - 1) / r.stride;
        weights_.push_back(r);
        weight_every_.push_back(std::max<int64_t>(1, cfg_.to_steps(w.every_ms)));
    }
    timing_.build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    controls_ = std::make_unique<Controls>(cfg_, *engine_);
    health_every_ = std::max<int64_t>(1, cfg_.to_steps(cfg_.health.check_every_ms));
    spikes_.resize(cfg_.populations.size());
    probes_.resize(cfg_.recording.probes.size());
}

Simulation::~Simulation() = default;

uint64_t Simulation::synapses() const {
    uint64_t n = 0;
    for (uint32_t j = 0; j < cfg_.projections.size(); ++j) n += engine_->synapse_count(j);
    return n;
}

void Simulation::collect_spikes() {
    if (discard_) {  // taken (the engine's reads may be collective), not kept
        for (uint32_t p = 0; p < spikes_.size(); ++p) {
            SpikeRecord dropped;
            engine_->take_spikes(p, &dropped);
        }
        return;
    }
    for (uint32_t p = 0; p < spikes_.size(); ++p) engine_->take_spikes(p, &spikes_[p]);
    for (auto& s : probe_streams_) s->flush(false);
    for (auto& s : weight_streams_) s->flush(false);
    if (!stream_) return;
    for (uint32_t p = 0; p < spikes_.size(); ++p) {
        stream_->append(p, spikes_[p]);
        spikes_[p].steps.clear();
        spikes_[p].ids.clear();
    }
    stream_->flush(false);  // readable up to here while the run goes on
}

void Simulation::stream_frames(const std::filesystem::path& dir,
                               const std::vector<uint64_t>& keep_probes,
                               const std::vector<uint64_t>& keep_weights) {
    auto keep = [](const std::vector<uint64_t>& v, size_t k) { return k < v.size() ? v[k] : 0; };
    probe_streams_.clear();
    weight_streams_.clear();
    for (size_t k = 0; k < probes_.size(); ++k) {
        const auto& pc = cfg_.recording.probes[k];
        if (!probes_[k].steps.empty()) throw Error("stream_frames: probe samples are held already");
        probe_streams_.push_back(std::make_unique<FrameStream>(
            dir / ("probes_" + std::to_string(k) + ".stream"),
            pc.variables.size() * pc.cells.size(), keep(keep_probes, k)));
    }
    for (size_t k = 0; k < weights_.size(); ++k) {
        if (!weights_[k].steps.empty())
            throw Error("stream_frames: weight snapshots are held already");
        weight_streams_.push_back(
            std::make_unique<FrameStream>(dir / ("weights_" + std::to_string(k) + ".stream"),
                                          weights_[k].count, keep(keep_weights, k)));
    }
}

const FrameStream* Simulation::probe_stream(size_t k) const {
    return k < probe_streams_.size() ? probe_streams_[k].get() : nullptr;
}

const FrameStream* Simulation::weight_stream(size_t k) const {
    return k < weight_streams_.size() ? weight_streams_[k].get() : nullptr;
}

void Simulation::stream_spikes(const std::filesystem::path& path, uint64_t keep_bytes) {
    stream_ = std::make_unique<SpikeStream>(path, keep_bytes);
    collect_spikes();  // anything held so far goes to the stream first
}

std::vector<float> Simulation::current_weights(uint32_t proj) const {
    std::vector<float> w(engine_->synapse_count(proj));
    engine_->read_weights(proj, 1, w.size(), w.data());
    return w;
}

void Simulation::step_phases(int64_t n) {
    engine_->detect_spikes(n);
    engine_->propagate(n);
    engine_->deliver(n);
    engine_->integrate_dendrites(n);
    engine_->integrate_somata(n);
    engine_->plasticity(n);
}

// Steps the window from step_ may take: the engine's bound, and nothing inside it that needs
// the state between two steps: a knob change (controls apply before the window's first step),
// a probe or weight record (after its last), a spike collection, an `align` boundary, the end.
int64_t Simulation::window_length(int64_t limit, int64_t align) const {
    const int64_t n = step_;
    int64_t k = std::min<int64_t>(engine_->max_window(), limit - n);
    if (k <= 1) return 1;
    k = std::min(k, controls_->steady_steps(n, k));
    auto due_by = [&](int64_t every) {  // the window must end at the first step due
        const int64_t due = (n + every - 1) / every * every;
        k = std::min(k, due - n + 1);
    };
    for (const auto& pc : cfg_.recording.probes) due_by(pc.every_steps);
    for (const int64_t e : weight_every_) due_by(e);
    auto no_cross = [&](int64_t every) {  // nor cross a multiple of `every`
        k = std::min(k, (n / every + 1) * every - n);
    };
    no_cross(kCollectEvery);
    no_cross(health_every_);
    if (align > 0) no_cross(align);
    return std::max<int64_t>(1, k);
}

// Profiling: f, then wait for the engine and charge the wall time to *acc; otherwise just f.
template <class F>
static void timed(bool profile, Engine& engine, double* acc, F&& f) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    if (!profile) return;
    engine.synchronize();
    *acc += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One window, or one step when the engine steps singly (or profiles by phase): knobs first,
// then the steps, then the records due after the last step, spike collection, health.
void Simulation::one_window(int64_t limit, int64_t align) {
    const bool windows = engine_->max_window() > 1 && (!profile_ || engine_->times_windows());
    const int64_t n = step_;
    const int64_t most = begin_window(limit, align);
    const int64_t k = windows ? most : 1;
    if (k > 1) {
        engine_->run_window(n, k);  // a profiling engine times the window's stages itself
    } else if (profile_) {
        profiled_phases(n);
    } else {
        step_phases(n);
    }
    end_window(k);
}

int64_t Simulation::begin_window(int64_t limit, int64_t align) {
    timed(profile_, *engine_, &timing_.phases.controls, [&] { controls_->apply(step_); });
    return window_length(limit, align);
}

void Simulation::end_window(int64_t k) {
    timed(profile_, *engine_, &timing_.phases.record, [&] {
        step_ = step_ + k - 1;
        record_after_step();  // only the window's last step can be due
        ++step_;
        if (step_ % kCollectEvery == 0) collect_spikes();
    });
    if (step_ % health_every_ == 0) check_health(health_every_);
}

void Simulation::check_health(int64_t min_steps) {
    if (!health_on_) return;
    const uint32_t n_pop = static_cast<uint32_t>(cfg_.populations.size());
    const double ms = static_cast<double>(step_) * cfg_.dt_ms;
    for (uint32_t p = 0; p < n_pop; ++p) {
        std::string var;
        uint32_t cell = 0;
        if (engine_->find_nonfinite(p, &var, &cell)) {
            char buf[512];
            std::snprintf(buf, sizeof buf,
                          "health check at step %lld (t = %.1f ms): population %s, cell %u: %s "
                          "is NaN or infinite (finite at the check before, %lld steps earlier); "
                          "the run was stopped (simulation.health)",
                          static_cast<long long>(step_), ms, cfg_.populations[p].name.c_str(), cell,
                          var.c_str(), static_cast<long long>(health_every_));
            throw HealthError(buf, cfg_.populations[p].name, cell, var, step_);
        }
    }
    // Rates over a whole interval only, or at the end of a run over at least half of one (a
    // run resumed just before a check keeps its baseline until the next check: a rate over a
    // few steps is noise).
    if (health_step_ >= 0 && step_ - health_step_ < min_steps) return;
    std::vector<uint64_t> spikes(n_pop);
    for (uint32_t p = 0; p < n_pop; ++p) spikes[p] = engine_->spike_count(p);
    if (health_step_ >= 0 && cfg_.health.max_rate_hz > 0) {
        const double seconds = static_cast<double>(step_ - health_step_) * cfg_.dt_ms * 1e-3;
        for (uint32_t p = 0; p < n_pop; ++p) {
            const double rate = static_cast<double>(spikes[p] - health_spikes_[p]) /
                                (static_cast<double>(cfg_.populations[p].n) * seconds);
            if (rate > cfg_.health.max_rate_hz) {
                char buf[512];
                std::snprintf(buf, sizeof buf,
                              "health check at step %lld (t = %.1f ms): population %s fired at "
                              "%.1f Hz on average since t = %.1f ms, above "
                              "simulation.health.max_rate_hz = %g: runaway activity; the run was "
                              "stopped",
                              static_cast<long long>(step_), ms, cfg_.populations[p].name.c_str(),
                              rate, static_cast<double>(health_step_) * cfg_.dt_ms,
                              cfg_.health.max_rate_hz);
                throw HealthError(buf, cfg_.populations[p].name, -1, "rate_hz", step_);
            }
        }
    }
    health_step_ = step_;
    health_spikes_ = spikes;
}

// Profiling: wait for the engine after each phase and charge the wall time to the phase.
void Simulation::profiled_phases(int64_t n) {
    auto& ph = timing_.phases;
    Engine& e = *engine_;
    timed(true, e, &ph.detect, [&] { e.detect_spikes(n); });
    timed(true, e, &ph.propagate, [&] { e.propagate(n); });
    timed(true, e, &ph.deliver, [&] { e.deliver(n); });
    timed(true, e, &ph.dendrites, [&] { e.integrate_dendrites(n); });
    timed(true, e, &ph.somata, [&] { e.integrate_somata(n); });
    timed(true, e, &ph.plasticity, [&] { e.plasticity(n); });
}

void Simulation::record_after_step() {
    const int64_t n = step_;
    for (size_t k = 0; k < probes_.size(); ++k) {
        const auto& pc = cfg_.recording.probes[k];
        if (n % pc.every_steps != 0) continue;
        auto& rec = probes_[k];
        float* out = nullptr;
        if (discard_) {
            frame_.resize(pc.variables.size() * pc.cells.size());
            out = frame_.data();
        } else if (FrameStream* s = k < probe_streams_.size() ? probe_streams_[k].get() : nullptr) {
            frame_.resize(s->width());
            out = frame_.data();
        } else {
            rec.steps.push_back(n);
            const size_t off = rec.values.size();
            rec.values.resize(off + pc.variables.size() * pc.cells.size());
            out = rec.values.data() + off;
        }
        for (size_t v = 0; v < pc.variables.size(); ++v)
            engine_->read_state(pc.population, pc.variables[v], pc.cells,
                                out + v * pc.cells.size());
        if (!discard_ && k < probe_streams_.size()) probe_streams_[k]->append(n, frame_.data());
    }
    for (size_t k = 0; k < weights_.size(); ++k) {
        if (n % weight_every_[k] != 0) continue;
        auto& rec = weights_[k];
        const uint32_t proj = cfg_.recording.weights[k].projection;
        if (discard_ || k < weight_streams_.size()) {
            frame_.resize(rec.count);
            engine_->read_weights(proj, rec.stride, rec.count, frame_.data());
            if (!discard_) weight_streams_[k]->append(n, frame_.data());
            continue;
        }
        rec.steps.push_back(n);
        const size_t off = rec.values.size();
        rec.values.resize(off + rec.count);
        engine_->read_weights(proj, rec.stride, rec.count, rec.values.data() + off);
    }
}

void Simulation::flush_streams() {
    if (stream_) stream_->flush(false);
    for (auto& s : probe_streams_)
        if (s) s->flush(false);
    for (auto& s : weight_streams_)
        if (s) s->flush(false);
}

void Simulation::advance(int64_t n) {
    const int64_t limit = step_ + n;
    while (step_ < limit) one_window(limit, 0);
    collect_spikes();
}

void Simulation::start_run() {
    if (health_step_ < 0) {  // the rate check counts from here (a fresh or resumed run)
        health_step_ = step_;
        health_spikes_.clear();
        for (uint32_t p = 0; p < cfg_.populations.size(); ++p)
            health_spikes_.push_back(engine_->spike_count(p));
    }
}

void Simulation::finish_run(double wall_s) {
    collect_spikes();
    engine_->synchronize();  // an engine may still be working on queued steps
    engine_->take_window_phases(&timing_.phases);
    timing_.wall_s += wall_s;
    timing_.steps = step_;
    timing_.synaptic_events = engine_->synaptic_events();
    // Every stop and the end of the run are checked too (not only every health_every_ steps):
    // a state gone NaN in the last interval never ends in a complete run or in a checkpoint
    // that looks healthy. At the end, the last partial interval's rate counts when it is at
    // least half an interval.
    if (step_ != health_step_)
        check_health(step_ >= cfg_.steps() ? (health_every_ + 1) / 2 : health_every_);
}

bool Simulation::run(const std::function<void(int64_t, int64_t)>& progress,
                     const std::function<bool(int64_t)>& pause, int64_t align) {
    return run_to(cfg_.steps(), progress, pause, align);
}

bool Simulation::run_to(int64_t last, const std::function<void(int64_t, int64_t)>& progress,
                        const std::function<bool(int64_t)>& pause, int64_t align) {
    const int64_t total = std::min(last, cfg_.steps());
    const int64_t first = step_;
    start_run();
    const auto t0 = std::chrono::steady_clock::now();
    while (step_ < total) {
        if (pause && step_ > first && pause(step_)) break;
        const int64_t before = step_;
        one_window(total, align);
        if (progress && step_ / 200 != before / 200) progress(step_, total);
    }
    finish_run(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    return step_ >= total;
}

// The resolved config without what reconfigure() may change: the schedule, the injections, the
// duration and the health checks' rate bound.
static std::string fixed_part(const Config& cfg) {
    YAML::Node n = YAML::Load(cfg.resolved_yaml);
    n.remove("schedule");
    n.remove("injections");
    if (n["simulation"]) {
        n["simulation"].remove("duration_ms");
        if (n["simulation"]["health"]) n["simulation"]["health"].remove("max_rate_hz");
    }
    YAML::Emitter out;
    out << n;
    return out.c_str();
}

void Simulation::reconfigure(Config cfg) {
    if (fixed_part(cfg) != fixed_part(cfg_))
        throw ConfigError(
            "reconfigure: the new config differs from the running one in more than its "
            "schedule, injections, duration and simulation.health.max_rate_hz");
    if (cfg.steps() < step_)
        throw ConfigError("reconfigure: a duration of " + std::to_string(cfg.steps()) +
                          " steps ends before the steps already run (" + std::to_string(step_) +
                          ")");
    cfg_ = std::move(cfg);
    controls_ = std::make_unique<Controls>(cfg_, *engine_);
    if (step_ > 0) controls_->resume_at(step_);  // the knobs as they are; changes at apply()
}

int64_t requested_window() {
    const char* v = std::getenv("L5SIM_WINDOW");
    if (!v || !*v) return 0;
    char* end = nullptr;
    const long w = std::strtol(v, &end, 10);
    if (*end != '\0' || w < 1 || w > 32)
        throw Error(std::string("L5SIM_WINDOW=") + v +
                    ": expected a whole number of steps from 1 to 32");
    return w;
}

int64_t window_bound(const std::vector<uint32_t>& min_delays) {
    int64_t w = 32;
    for (const uint32_t d : min_delays) w = std::min<int64_t>(w, d);
    return std::max<int64_t>(w, 1);
}

double burst_fraction(const SpikeRecord& r, uint32_t n_cells, int64_t isi_steps) {
    if (r.ids.empty()) return 0;
    // Per cell, spike steps are already in time order: bucket them by cell.
    std::vector<uint64_t> start(n_cells + 1, 0);
    for (uint32_t id : r.ids) ++start[id + 1];
    for (uint32_t c = 0; c < n_cells; ++c) start[c + 1] += start[c];
    std::vector<int64_t> by_cell(r.ids.size());
    std::vector<uint64_t> cur(start.begin(), start.end() - 1);
    for (size_t i = 0; i < r.ids.size(); ++i) by_cell[cur[r.ids[i]]++] = r.steps[i];
    uint64_t in_bursts = 0;
    for (uint32_t c = 0; c < n_cells; ++c) {
        for (uint64_t i = start[c]; i < start[c + 1]; ++i) {
            const bool near_prev = i > start[c] && by_cell[i] - by_cell[i - 1] < isi_steps;
            const bool near_next = i + 1 < start[c + 1] && by_cell[i + 1] - by_cell[i] < isi_steps;
            in_bursts += near_prev || near_next;
        }
    }
    return static_cast<double>(in_bursts) / static_cast<double>(r.ids.size());
}

// burst_fraction of every population from a spike stream, in one pass with O(cells) memory:
// per cell the last spike's step and whether it was counted (a spike counts when a neighbour
// in time is closer than isi_steps; the stream is in time order per population).
static std::vector<double> streamed_burst_fractions(const SpikeStream& s, const Config& cfg,
                                                    int64_t isi_steps) {
    const size_t n_pop = cfg.populations.size();
    std::vector<std::vector<int64_t>> last(n_pop);
    std::vector<std::vector<uint8_t>> counted(n_pop);
    for (size_t p = 0; p < n_pop; ++p) {
        last[p].assign(cfg.populations[p].n, INT64_MIN);
        counted[p].assign(cfg.populations[p].n, 0);
    }
    std::vector<uint64_t> in_bursts(n_pop, 0), total(n_pop, 0);
    for_each_streamed_spike(s.path(), s.bytes(), [&](uint32_t p, uint32_t id, int64_t step) {
        if (p >= n_pop || id >= last[p].size())
            throw Error(s.path().string() + ": a spike of an unknown population or cell");
        ++total[p];
        const int64_t prev = last[p][id];
        const bool near = prev != INT64_MIN && step - prev < isi_steps;
        if (near) {
            ++in_bursts[p];
            if (!counted[p][id]) ++in_bursts[p];
        }
        last[p][id] = step;
        counted[p][id] = near;
    });
    std::vector<double> out(n_pop, 0.0);
    for (size_t p = 0; p < n_pop; ++p)
        if (total[p]) out[p] = static_cast<double>(in_bursts[p]) / static_cast<double>(total[p]);
    return out;
}

std::vector<PopulationSummary> summarize(const Simulation& sim) {
    const auto& cfg = sim.config();
    std::vector<PopulationSummary> out;
    const double seconds = static_cast<double>(sim.step()) * cfg.dt_ms * 1e-3;
    const int64_t isi = cfg.to_steps(10.0);
    std::vector<double> streamed;
    if (sim.spike_stream()) streamed = streamed_burst_fractions(*sim.spike_stream(), cfg, isi);
    for (uint32_t p = 0; p < cfg.populations.size(); ++p) {
        const auto& pop = cfg.populations[p];
        PopulationSummary s;
        s.name = pop.name;
        s.type = pop.type;
        s.n = pop.n;
        const auto& rec = sim.spikes()[p];
        s.spikes = sim.spike_count(p);
        s.rate_hz = seconds > 0 ? static_cast<double>(s.spikes) / (s.n * seconds) : 0;
        if (pop.caps.has_dendrite) {
            if (cfg.recording.spikes)
                s.burst_fraction = sim.spike_stream() ? streamed[p] : burst_fraction(rec, s.n, isi);
            s.calcium_fraction =
                s.spikes ? static_cast<double>(sim.engine().calcium_spikes(p)) / s.spikes : 0;
        }
        out.push_back(s);
    }
    return out;
}

}  // namespace l5sim
