#pragma once
/// The step pipeline (MODEL.md section 5) over an Engine, with schedules, injections, recording.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "l5sim/config.hpp"
#include "l5sim/engine.hpp"

namespace l5sim {

struct ProbeRecord {
    std::vector<int64_t> steps;  // step after which the sample was taken
    std::vector<float> values;   // [sample][variable][cell]
};

struct WeightRecord {
    std::vector<int64_t> steps;
    uint64_t stride = 1;        // the sample: synapses 0, stride, 2 stride, ... (CSR order)
    uint64_t count = 0;         // synapses per snapshot
    std::vector<float> values;  // [snapshot][synapse]
};

/// Wall seconds per phase (only with profiling on: it synchronises after every phase).

struct RunTiming {
    uint64_t connectivity_bytes = 0;  // CSR + weights + delays + reverse index, all projections
    double wall_s = 0;
    double build_s = 0;
    int64_t steps = 0;
    uint64_t synaptic_events = 0;
    PhaseTimes phases;
};

class Controls;
class SpikeStream;
class FrameStream;
struct CheckpointInfo;

class Simulation {
  public:
    enum class Backend { cpu, cuda, automatic };

    /// `profile`: time every phase (synchronising the engine after each; slower).
    Simulation(Config cfg, Backend backend, bool profile = false);
    /// Over an engine made elsewhere for this config (a member of a packed group of replicas,
    /// l5sim/packed.hpp); `build_s`: the time its construction took.
    Simulation(Config cfg, std::unique_ptr<Engine> engine, double build_s = 0);
    bool profiling() const { return profile_; }
    ~Simulation();

    /// Run to the last step; `progress(step, steps)` is called every few hundred steps. Before
    /// every window of steps (Engine::run_window) but the first of this call, `pause(step)` may
    /// return true to return early (at a step boundary: spikes collected, engine idle); windows
    /// never cross a multiple of `align` steps (when > 0), so a pause wanted there is on time.
    /// Returns true when the run is done.
    bool run(const std::function<void(int64_t, int64_t)>& progress = {},
             const std::function<bool(int64_t)>& pause = {}, int64_t align = 0);
    /// run() to step `last` at most (a run in pieces: run_to(a), then run_to(b), ... gives the
    /// run that run() gives); returns true when the last step of the config is reached.
    bool run_to(int64_t last, const std::function<void(int64_t, int64_t)>& progress = {},
                const std::function<bool(int64_t)>& pause = {}, int64_t align = 0);
    /// Between steps: continue under `cfg`, which may differ from the running config only in
    /// its schedule, its injections, its duration (not ending before the current step) and
    /// its health checks' rate bound; ConfigError otherwise. The Python module's set() and inject()
    /// add schedule entries and injections this way, so that the resolved config written afterwards
    /// reproduces the run.
    void reconfigure(Config cfg);
    /// Advance `n` steps (tests).
    void advance(int64_t n);
    /// Health checks (simulation.health) on or off (off: `l5sim resume --ignore-health`).
    void set_health_checks(bool on) { health_on_ = on; }
    bool health_checks() const { return health_on_; }

    // The pieces of run(), for a driver that steps many simulations as one (run_packed):
    // start_run(); then per window: k = begin_window(...) (the knobs for the next step pushed;
    // returns the most steps the window may take), the engine's steps (all k of them),
    // end_window(k) (records, collection, health); finally finish_run(wall seconds).
    void start_run();
    int64_t begin_window(int64_t limit, int64_t align);
    void end_window(int64_t k);
    void finish_run(double wall_s);

    const Config& config() const { return cfg_; }
    const Engine& engine() const { return *engine_; }
    /// The engine itself, between steps (tools and tests that read or write state blocks).
    Engine& engine() { return *engine_; }
    /// Spikes recorded so far, unless they are streamed (then empty: see spike_stream()).
    const std::vector<SpikeRecord>& spikes() const { return spikes_; }
    /// From now on, append the recorded spikes to `path` at every collection instead of keeping
    /// them in memory (l5sim/spike_stream.hpp); the file is cut to `keep_bytes` first (0: new).
    void stream_spikes(const std::filesystem::path& path, uint64_t keep_bytes);
    const SpikeStream* spike_stream() const { return stream_.get(); }
    /// Everything streamed so far into the stream files (fflush), so that they can be read
    /// while the run goes on.
    void flush_streams();
    /// The spikes the engine holds, into the records (a run stopped by an exception: what
    /// run_to would have collected at its end). Collective on a rank of an MPI run.
    void collect() { collect_spikes(); }
    /// From now on, take every record and checkpoint block from the engine (its reads may be
    /// collective: a rank of an MPI run) but keep and write none (write_checkpoint writes no
    /// file): a rank other than 0 of `l5sim run` under mpiexec, whose records and checkpoints
    /// rank 0 gathers and writes.
    void discard_records(bool on) { discard_ = on; }
    /// From now on, append every probe sample and weight snapshot to DIR/probes_<k>.stream and
    /// DIR/weights_<k>.stream instead of keeping them in memory; each stream is cut to its
    /// entry of the `keep_*` frame counts first (missing entries: 0, a new stream).
    void stream_frames(const std::filesystem::path& dir, const std::vector<uint64_t>& keep_probes,
                       const std::vector<uint64_t>& keep_weights);
    /// The stream of probe / weight record k, or null when it is kept in memory.
    const FrameStream* probe_stream(size_t k) const;
    const FrameStream* weight_stream(size_t k) const;
    /// Spikes of population `pop` so far (counted even when spike recording is off).
    uint64_t spike_count(uint32_t pop) const { return engine_->spike_count(pop); }
    uint64_t synapses() const;
    const std::vector<ProbeRecord>& probes() const { return probes_; }
    const std::vector<WeightRecord>& weights() const { return weights_; }
    const RunTiming& timing() const { return timing_; }
    int64_t step() const { return step_; }
    /// Current weights of a projection (all synapses, CSR order).
    std::vector<float> current_weights(uint32_t proj) const;

  private:
    friend void write_checkpoint(const std::filesystem::path& path, Simulation& sim,
                                 const std::string& health_stop,
                                 const std::vector<std::string>& health_ignored, double run_ms);
    friend void restore_checkpoint(const std::filesystem::path& path, const CheckpointInfo& info,
                                   Simulation& sim);
    /// One window from step_ (one step when profiling or when the engine steps singly),
    /// ending no later than `limit` and at no multiple of `align` (> 0) inside it.
    void one_window(int64_t limit, int64_t align);
    void init(std::chrono::steady_clock::time_point t0);
    int64_t window_length(int64_t limit, int64_t align) const;
    void step_phases(int64_t n);
    /// Every health_every_ steps (simulation.health), at every pause and at the end of the run:
    /// HealthError on a NaN or infinite state, or on a population rate above the bound since
    /// the last check when at least `min_steps` steps have passed since it.
    void check_health(int64_t min_steps);
    void profiled_phases(int64_t n);
    void record_after_step();
    void collect_spikes();

    Config cfg_;
    bool profile_ = false;
    std::unique_ptr<Engine> engine_;
    std::unique_ptr<Controls> controls_;
    std::vector<SpikeRecord> spikes_;
    std::unique_ptr<SpikeStream> stream_;
    std::vector<std::unique_ptr<FrameStream>> probe_streams_, weight_streams_;
    std::vector<float> frame_;  // one frame being streamed
    std::vector<ProbeRecord> probes_;
    std::vector<WeightRecord> weights_;
    std::vector<int64_t> weight_every_;
    RunTiming timing_;
    int64_t step_ = 0;
    int64_t health_every_ = 1;
    bool health_on_ = true;
    bool discard_ = false;      // discard_records()
    int64_t health_step_ = -1;  // step of the last health check (-1: not started)
    std::vector<uint64_t> health_spikes_;
};

/// Per-population statistics of summary.json.
struct PopulationSummary {
    std::string name;
    std::string type;  // the population's cell type (configs/README.md)
    uint32_t n = 0;
    uint64_t spikes = 0;
    double rate_hz = 0;
    /// Spikes in runs of >= 2 with ISI < 10 ms / all spikes (0 without spikes): pyramidal
    /// populations whose spikes were recorded only. Interneurons fire at 10-300 Hz, where the
    /// ISI criterion says nothing about dendritic bursts; without the spike trains it is unknown.
    std::optional<double> burst_fraction;
    /// Spikes fired in burst mode (after a dendritic plateau) / all spikes (0 without spikes):
    /// populations with a dendrite only.
    std::optional<double> calcium_fraction;
};

/// Burst fraction of a spike record (MODEL.md section 10).
double burst_fraction(const SpikeRecord& r, uint32_t n_cells, int64_t isi_steps);
std::vector<PopulationSummary> summarize(const Simulation& sim);

}  // namespace l5sim
