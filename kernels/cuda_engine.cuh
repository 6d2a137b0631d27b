#pragma once
// The CUDA engine's private declarations: its device state (DevicePopulation, DeviceProjection,
// PackShared), the engine (CudaEngine) and the packed replicas (CudaPack). Defined in
// cuda_engine.cu (construction, state access, checkpoints), cuda_step.cu (the step's launches
// and graphs) and cuda_pack.cu (packed replicas); cuda_devices.cu holds the device queries and
// the memory estimate. The model math is the shared L5_HD code, so results equal the CPU
// engine's.
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "connect.cuh"
#include "device_buffer.cuh"
#include "device_storage.cuh"
#include "l5sim/devices.hpp"
#include "l5sim/engine.hpp"
#include "l5sim/error.hpp"
#include "l5sim/model_constants.hpp"
#include "l5sim/network.hpp"
#include "l5sim/packed.hpp"
#include "l5sim/population_store.hpp"
#include "launch.cuh"
#include "propagate.hpp"
#include "spikes.hpp"
#include "update.hpp"

namespace l5sim::cuda {

/// Device memory a config needs at its peak (bytes; cuda_devices.cu).
uint64_t estimate_device_bytes(const Config& cfg);
/// Device memory the engine of a rank needs for its cells and parts (bytes; cuda_devices.cu).
uint64_t estimate_rank_device_bytes(const Config& cfg, const Network& parts,
                                    const LocalCells& local);

class CudaPack;

// Steps between checks of the device spike record's fill level (a 8-byte copy).
inline constexpr int64_t kRecordCheckEvery = 100;

// Side streams for the fork-join inside a step (more independent kernels share them).
inline constexpr size_t kMaxSide = 8;

// Where the view holds the device float array of variable `v` (l5sim/state_vars.hpp), or null
// for history and burst (not floats).
inline float** view_slot(PopView& w, Var v) {
    for (int r = 0; r < model::kReceptorCount; ++r) {
        if (v == kSomaConductance[r]) return &w.g[r];
        if (v == kDendriteConductance[r]) return &w.g_d[r];
    }
    switch (v) {
        case Var::v:
            return &w.v;
        case Var::u:
            return &w.u;
        case Var::g_nmda_bg:
            return &w.g_nmda_bg;
        case Var::g_adapt:
            return &w.g_adapt;
        case Var::i_ext:
            return &w.i_ext;
        case Var::rem_soma:
            return &w.rem_soma;
        case Var::v_d:
            return &w.v_d;
        case Var::u_d:
            return &w.u_d;
        case Var::i_ext_d:
            return &w.i_ext_d;
        case Var::gamma:
            return &w.gamma;
        case Var::rem_dend:
            return &w.rem_dend;
        default:  // history, burst (not floats); the conductances above
            return nullptr;
    }
}

inline uint64_t record_capacity(uint32_t n) { return static_cast<uint64_t>(n) * 16 + 65536; }

inline std::vector<uint32_t> build_order(const Config& cfg) {
    std::vector<uint32_t> order(cfg.projections.size());
    for (uint32_t j = 0; j < order.size(); ++j) order[j] = j;
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
        return projection_synapses(cfg, cfg.projections[a]) >
               projection_synapses(cfg, cfg.projections[b]);
    });
    return order;
}

struct DevicePopulation {
    PopView view{};
    // The per-cell state variables (l5sim/state_vars.hpp), allocated and started by the store;
    // the view points into it.
    PopulationStore<DeviceStorage> st;
    DeviceBuffer<uint32_t> spike_ids, spike_mask;
    DeviceBuffer<int> spike_count;
    DeviceBuffer<unsigned long long> record;
    // [0] spikes, [1] calcium spikes, [2] record overflow, [3] record fill level (record_count):
    // the last two next to each other, so a flush reads both with one copy
    DeviceBuffer<unsigned long long> counters;
    SpikeRecord host_record;  // flushed from the device, not yet taken
    // A rank's engine (LocalCells, cuda_rank.cu):
    DeviceBuffer<uint32_t> gid;  // the cells' global ids (PopView::gid)
    // The rows of the population's parts (LocalCells::sources: the sources this rank holds) as
    // a population of their own: n rows, the window's spiking rows (spike_ids, spike_count:
    // what the exchange brought) with their masks (spike_mask), and the presynaptic traces
    // (x, r2) that the plastic projections from it keep per row. One process: unused (the
    // rows are the cells, `view`).
    PopView rows{};
    DeviceBuffer<uint32_t> row_ids, row_mask, row_stage;
    DeviceBuffer<int> row_count;
    uint32_t rows_set = 0;                // rows whose mask the last window set
    std::vector<uint32_t> row_mask_host;  // a window's masks per row, built on the host
    DeviceBuffer<uint32_t> win_mask;      // the masks of the window's spike_ids (gathered)
    // Page-locked staging of the window's spiking cells and masks (out) and of its spiking rows
    // and masks (in): each half of a window synchronises at most twice, whatever the
    // populations.
    PinnedBuffer<uint32_t> out_ids, out_masks, in_rows, in_masks;
};

struct DeviceProjection {
    ProjView view{};
    std::array<double, model::kReceptorCount> receptor{};  // receptor factors (config)
    bool dendrite = false;
    uint32_t min_delay = 0;  // steps
    DeviceCsr csr;
    DeviceBuffer<model::RingCell> ring;
    DeviceBuffer<unsigned long long> events;
    DeviceBuffer<float> x, r2, y, o2;
    // A rank's part: the row of each reverse-index entry, and the ring scale and STDP bound
    // the ranks agreed on (set_global_bounds).
    DeviceBuffer<uint32_t> rev_src;
    int fixed_exponent = 0;
    float w_max = 0;
    uint64_t longest_row = 0;  // built on the host: the longest CSR row
};

// What the members of a pack (CudaPack) share: the one stream every member enqueues on, and
// the step counter every member's kernels read. Held by the pack and by each member.
struct PackShared {
    cudaStream_t stream = nullptr;
    DeviceBuffer<uint32_t> step;
    PackShared() {
        L5_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
        step = DeviceBuffer<uint32_t>(std::vector<uint32_t>(1, 0));
    }
    ~PackShared() {
        if (stream) cudaStreamDestroy(stream);
    }
    PackShared(const PackShared&) = delete;
    PackShared& operator=(const PackShared&) = delete;
};

class CudaEngine final : public Engine {
    friend class CudaPack;
    struct Gains {
        float factor[model::kReceptorCount] = {};  // receptor factors x gain
        bool operator==(const Gains& o) const {
            for (int r = 0; r < model::kReceptorCount; ++r)
                if (factor[r] != o.factor[r]) return false;
            return true;
        }
    };

  public:
    /// With `pack`: a member of a pack, on the pack's stream and step counter, stepped by the
    /// pack (CudaPack::run_window), never on its own.
    explicit CudaEngine(const Config& cfg, std::shared_ptr<PackShared> pack = nullptr);
    /// The engine of a rank (docs/SCALING.md): its cells (`local`) and the parts of every
    /// projection (`parts`, built on the host: build_projection_part, set_global_bounds,
    /// set_rank_sources), copied to the current device. It steps by window_cells and
    /// window_synapses around the exchange; every delay must be at least one step.
    CudaEngine(const Config& cfg, Network parts, LocalCells local);
    ~CudaEngine() override;
    std::string name() const override { return "cuda"; }

    // With CUDA graphs (the default) detect_spikes() launches the whole step as one captured
    // graph and the other phases do nothing; when profiling, each phase enqueues its own work.
    void detect_spikes(int64_t step) override;
    // A rank's engine steps only by window_cells and window_synapses (its parts' rows are the
    // sources it holds, which single steps would take for its cells).
    void propagate(int64_t) override {
        one_process("propagate");
        if (!use_graph_) enqueue_propagate();
    }
    void deliver(int64_t) override {
        one_process("deliver");
        if (!use_graph_) enqueue_deliver();
    }
    // Phases 4 and 5 run fused with 2b-3 in deliver() (one kernel per population).
    void integrate_dendrites(int64_t) override {}
    void integrate_somata(int64_t) override {}
    void plasticity(int64_t) override {
        one_process("plasticity");
        if (!use_graph_) enqueue_plasticity();
    }
    int64_t max_window() const override { return window_; }
    void run_window(int64_t step, int64_t count) override;
    // A rank's window in two halves (cuda_rank.cu): the cells through the window and their
    // spikes copied to the host; then the window's spikes of the rows it holds copied in, and
    // the propagation, STDP and traces.
    void window_cells(int64_t step, int64_t count) override;
    const WindowSpikes& window_spikes() const override { return win_mine_; }
    void window_synapses(const WindowSpikes& all) override;
    void synchronize() override { L5_CUDA_CHECK(cudaStreamSynchronize(stream_)); }
    void set_profiling(bool on) override {
        use_graph_ = graphs_allowed() && !on;
        profiling_ = on;
    }
    bool times_windows() const override { return true; }
    void take_window_phases(PhaseTimes* t) override {
        t->deliver += window_times_.deliver;
        t->propagate += window_times_.propagate;
        t->plasticity += window_times_.plasticity;
        window_times_ = PhaseTimes{};
    }

    void take_spikes(uint32_t pop, SpikeRecord* out) override;
    uint64_t spike_count(uint32_t pop) const override { return counter(pop, 0); }
    uint64_t calcium_spikes(uint32_t pop) const override { return counter(pop, 1); }
    uint64_t synaptic_events() const override;

    void set_drive(uint32_t pop, const PopulationDrive& d, int64_t step) override {
        auto& v = pops_[pop].view;
        const auto same = [](const model::PoissonConstants& a, const model::PoissonConstants& b) {
            return a.lambda == b.lambda && a.weight_ns == b.weight_ns;
        };
        if (same(v.bg_soma, d.background_soma) && same(v.bg_dend, d.background_dendrite)) return;
        // The engine starts with every rate 0 and every source never firing: the first call
        // starts them (a fresh gap), later ones rescale (model::poisson_rate_change).
        const uint32_t stream = model::stream_id(model::StreamKind::background, pop);
        const auto st = static_cast<uint32_t>(step);
        if (v.bg_soma.lambda != d.background_soma.lambda)
            background_rate_change(v.rem_soma, v.gid, v.n, v.bg_soma.lambda,
                                   d.background_soma.lambda, cfg_.seed, stream, st, 0, stream_);
        if (v.has_dendrite && v.bg_dend.lambda != d.background_dendrite.lambda)
            background_rate_change(v.rem_dend, v.gid, v.n, v.bg_dend.lambda,
                                   d.background_dendrite.lambda, cfg_.seed, stream, st, 1, stream_);
        v.bg_soma = d.background_soma;
        v.bg_dend = d.background_dendrite;
        ++params_;  // kernel parameters changed: capture the graphs again
    }
    // Knobs come per cell of the whole population or, on a rank, per cell it holds.
    void set_gamma(uint32_t pop, const std::vector<float>& g) override {
        pops_[pop].st.set(Var::gamma, mine(pop, g));
    }
    void set_current(uint32_t pop, Compartment c, const std::vector<float>& pA) override {
        pops_[pop].st.set(c == Compartment::soma ? Var::i_ext : Var::i_ext_d, mine(pop, pA));
    }
    void set_projection(uint32_t j, double gain, double eta) override {
        auto& p = projs_[j];
        Gains g;
        for (int r = 0; r < model::kReceptorCount; ++r)
            g.factor[r] = static_cast<float>(p.receptor[r] * gain);
        const auto e = static_cast<float>(eta);
        if (p.view.stdp.eta == e && gain_[j] == g) return;
        p.view.stdp.eta = e;
        gain_[j] = g;
        ++params_;
    }

    void read_state(uint32_t pop, const std::string& var, const std::vector<uint32_t>& cells,
                    float* out) const override {
        pops_[pop].st.read_probe(var, cells, out);
    }
    void read_weights(uint32_t j, uint64_t stride, uint64_t count, float* out) const override;
    void read_synapses(uint32_t j, uint64_t stride, uint64_t count, uint32_t* src,
                       uint32_t* tgt) const override;
    uint64_t synapse_count(uint32_t j) const override { return projs_[j].csr.weight.size(); }
    bool find_nonfinite(uint32_t pop, std::string* var, uint32_t* cell) const override {
        return pops_[pop].st.find_nonfinite(var, cell);
    }
    uint64_t connectivity_bytes() const override;
    int ring_fixed_exponent(uint32_t proj) const override {
        return std::ilogb(projs_.at(proj).view.fixed_per_ns);
    }
    uint64_t device_bytes() const override { return device_bytes_; }
    void read_block(const StateBlock& b, int64_t step, void* dst) const override;
    // State, weights and traces copied off the device in pieces of at most 64 MiB, rings row
    // by row.
    void read_block_to(const StateBlock& b, int64_t step, const BlockSink& write) const override;
    void write_block(const StateBlock& b, int64_t step, const void* src) override;
    void set_device_bytes(uint64_t b) { device_bytes_ = b; }
    /// L5SIM_CUDA_FUSE=1: the pack whose one member this engine is (own_pack_).
    void adopt_pack(std::unique_ptr<EngineGroup> p) { own_pack_ = std::move(p); }

  private:
    // The constructors' common part (build_or_release: the streams and events freed when the
    // build throws); own_stream: a stream and step counter of the engine's own.
    void build();
    void build_or_release();
    void release();
    void own_stream();
    void one_process(const char* what) const {
        if (distributed_)
            throw Error(std::string(what) +
                        ": a rank's CUDA engine steps by window_cells and window_synapses");
    }
    // The values of this engine's cells among per-cell values of all of population p.
    std::vector<float> mine(uint32_t p, const std::vector<float>& all) const {
        return distributed_ ? values_of_cells(local_.gid[p], cfg_.populations[p].n, all) : all;
    }
    // The spike list, masks and presynaptic traces that projections from population p read:
    // the rows a rank holds, else the population's own cells.
    PopView& source_view(uint32_t p) { return distributed_ ? pops_[p].rows : pops_[p].view; }
    void init_rows(uint32_t p);
    void upload_part(uint32_t j, Connectivity&& h, bool plastic);
    // A window's halves (one process enqueues both: enqueue_window); with profiling each
    // stage ends with stage_done, which adds its time since window_mark_.
    void enqueue_window_cells(uint32_t count);
    void enqueue_window_synapses(uint32_t count);
    void stage_done(double* acc);
    std::chrono::steady_clock::time_point window_mark_;
    static bool graphs_allowed() {
        const char* v = std::getenv("L5SIM_CUDA_GRAPHS");
        return !(v && std::string(v) == "0");
    }
    // Copies ordered with the engine's stream (which does not synchronise with stream 0).
    void to_host(void* dst, const void* src, size_t bytes) const {
        if (!bytes) return;
        L5_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
        L5_CUDA_CHECK(cudaStreamSynchronize(stream_));
    }
    // const: the const readers copy into their own scratch too (probe and health caches).
    void to_device(void* dst, const void* src, size_t bytes) const {
        if (!bytes) return;
        L5_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
        L5_CUDA_CHECK(cudaStreamSynchronize(stream_));
    }
    void strided_to_host(void* dst, const void* src, uint64_t stride, uint64_t count) const;
    // The device memory of a state block (not rings, the event total or the populations' state
    // variables, which PopulationStore holds), checked for size.
    void* locate(const StateBlock& b) const;
    void enqueue_detect();
    void enqueue_propagate();
    void enqueue_deliver();
    void enqueue_plasticity();
    void enqueue_window(uint32_t count);
    // Before the step `step` (and `count` - 1 more): the record's fill level checked now and
    // then, the device's step counter set if the caller jumped.
    void prepare(int64_t step, int64_t count);
    // The graph for `slot` (0: one step, n: a window of n steps), captured from `enqueue` when
    // the kernel parameters changed since its last capture, launched on stream_.
    template <class F>
    void launch_graph(uint32_t slot, F&& enqueue);
    std::vector<InputSet> input_sets() const;
    std::vector<PopTail> tails() const {
        std::vector<PopTail> t;
        for (const auto& d : pops_)
            t.push_back(PopTail{d.view.spike_count, d.view.record_count, d.view.counters,
                                d.view.record_capacity, d.view.record_spikes ? 1u : 0u});
        return t;
    }
    uint64_t counter(uint32_t pop, int k) const;
    void flush_record(uint32_t pop);
    static void flush_half_full(const std::vector<std::pair<CudaEngine*, uint32_t>>& owners,
                                const PopTail* tails, unsigned long long* fill,
                                cudaStream_t stream);
    void init_population(uint32_t p);
    void init_projection(uint32_t j);
    void add_trace(uint32_t pop, const TraceView& t) { add_trace(pop, pops_[pop].view, t); }
    void add_trace(uint32_t pop, PopView& v, const TraceView& t) {
        if (v.n_traces == kMaxTraces)
            throw Error(
                "the CUDA engine takes at most 4 plastic projections from or into one "
                "population (" +
                cfg_.populations[pop].name + ")");
        v.traces[v.n_traces++] = t;
    }
    // Run f(k, stream) for k < n, concurrently: each on a side stream that starts after the
    // work already on stream_, and stream_ waits for all of them. Captured into the step graph
    // as parallel branches.
    template <class F>
    void fan_out(uint32_t n, F&& f) {
        if (n <= 1 || side_.empty()) {
            for (uint32_t k = 0; k < n; ++k) f(k, stream_);
            return;
        }
        while (join_.size() < n) {
            join_.emplace_back();
            L5_CUDA_CHECK(cudaEventCreateWithFlags(&join_.back(), cudaEventDisableTiming));
        }
        L5_CUDA_CHECK(cudaEventRecord(fork_, stream_));
        for (size_t k = 0; k < std::min<size_t>(n, side_.size()); ++k)
            L5_CUDA_CHECK(cudaStreamWaitEvent(side_[k], fork_, 0));
        for (uint32_t k = 0; k < n; ++k) {
            cudaStream_t s = side_[k % side_.size()];
            f(k, s);
            L5_CUDA_CHECK(cudaEventRecord(join_[k], s));
        }
        for (uint32_t k = 0; k < n; ++k) L5_CUDA_CHECK(cudaStreamWaitEvent(stream_, join_[k], 0));
    }
    void enqueue_update(bool detect);

    const Config& cfg_;
    model::ReceptorConstants rc_{};
    DeviceStorage storage_;  // the stores' copies, health scans and probe gathers (on stream_)
    std::vector<DevicePopulation> pops_;
    std::vector<DeviceProjection> projs_;
    std::vector<Gains> gain_;
    uint64_t device_bytes_ = 0;
    cudaStream_t stream_ = nullptr;
    // Fork-join inside a step: independent kernels (one per population, one per projection)
    // run on side streams between an event on stream_ and a wait on their events.
    std::vector<cudaStream_t> side_;
    cudaEvent_t fork_ = nullptr;
    std::vector<cudaEvent_t> join_;
    DeviceBuffer<PopTail> tails_;
    std::vector<std::pair<CudaEngine*, uint32_t>> tail_owner_;  // (this, population) per tail
    DeviceBuffer<unsigned long long> fill_;  // the records' fill levels (flush_half_full)
    bool fused_order_ = false;          // phase 1 inside the per-cell kernel (no delay of 0 steps)
    int64_t window_ = 1;                // max_window(): the shortest delay (or L5SIM_WINDOW), <= 32
    int64_t last_check_ = 0;            // step of the last record fill-level check
    DeviceBuffer<uint32_t> step_;       // the step being computed, advanced on the device
    uint32_t* step_ptr_ = nullptr;      // step_, or the pack's shared counter
    std::shared_ptr<PackShared> pack_;  // a member of a pack (null: stands alone)
    // L5SIM_CUDA_FUSE=1: this engine is the one member of its own pack, and its steps and
    // windows (with graphs, not profiling) are the pack's fused launches: one kernel per stage
    // for all populations and projections instead of one per population and projection.
    std::unique_ptr<EngineGroup> own_pack_;
    int64_t next_step_ = -1;  // the step the device counter holds (host mirror)
    bool use_graph_ = true;
    bool profiling_ = false;
    PhaseTimes window_times_;  // profiling: the windows' stages
    uint64_t params_ = 1;      // bumped whenever a kernel parameter changes
    struct Captured {
        cudaGraphExec_t exec = nullptr;
        uint64_t params = 0;  // params_ at capture
    };
    // [n]: a window of n steps (0: one step); a rank's windows: [n] its cells' half, [33 + n]
    // its synapses' half.
    std::array<Captured, 66> graphs_{};
    // A rank's engine (LocalCells; empty: one process) and its parts until they are on the
    // device.
    LocalCells local_;
    bool distributed_ = false;
    Network parts_;
    WindowSpikes win_mine_;  // the last window_cells' spikes (global ids)
    // Per population: the window's spike count (out) and spiking rows (in), page-locked.
    PinnedBuffer<int> out_counts_, in_counts_;
    bool rows_in_flight_ = false;  // window_synapses' page-locked rows may still be copying
    // The spike record's sort: the radix sort's second buffer and scratch (grown on demand).
    DeviceBuffer<unsigned long long> record_alt_;
    DeviceBuffer<char> sort_scratch_;
};

// Capture once; replay every step (or window) until a knob changes a kernel parameter.
template <class F>
void CudaEngine::launch_graph(uint32_t slot, F&& enqueue) {
    Captured& g = graphs_.at(slot);
    if (!g.exec || g.params != params_) {
        cudaGraph_t graph = nullptr;
        L5_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
        enqueue();
        L5_CUDA_CHECK(cudaStreamEndCapture(stream_, &graph));
        if (g.exec) {
            cudaGraphExecUpdateResultInfo info{};
            if (cudaGraphExecUpdate(g.exec, graph, &info) != cudaSuccess) {
                (void)cudaGetLastError();
                cudaGraphExecDestroy(g.exec);
                g.exec = nullptr;
            }
        }
        if (!g.exec) L5_CUDA_CHECK(cudaGraphInstantiate(&g.exec, graph, 0));
        L5_CUDA_CHECK(cudaGraphDestroy(graph));
        g.params = params_;
    }
    L5_CUDA_CHECK(cudaGraphLaunch(g.exec, stream_));
    if (sync_after_launch()) L5_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

// ---- packed replicas (l5sim/packed.hpp, DESIGN.md section 5) ----

// The members' kernels fused: every stage of a step (or window) is one launch whose blocks are
// the populations or projections of all members (TaskList), captured once per window length as
// a graph. A member keeps its own state, knobs, record and seed; its views are copied into the
// task tables, which are uploaded again when a knob changes one (the members' params_).
class CudaPack final : public EngineGroup {
  public:
    CudaPack() : shared_(std::make_shared<PackShared>()) {}
    ~CudaPack() override {
        for (cudaGraphExec_t g : graphs_)
            if (g) cudaGraphExecDestroy(g);
    }
    std::shared_ptr<PackShared> shared() const { return shared_; }
    void add(CudaEngine* e) { members_.push_back(e); }
    void finalize();
    int64_t max_window() const override { return window_; }
    void run_window(int64_t step, int64_t count) override;
    void synchronize() override { L5_CUDA_CHECK(cudaStreamSynchronize(shared_->stream)); }

  private:
    // A task list: host tasks and block offsets, and their device copies.
    template <class T>
    struct Table {
        std::vector<T> host;
        std::vector<uint32_t> first{0};
        DeviceBuffer<T> tasks;
        DeviceBuffer<uint32_t> firsts;
        void add(const T& t, uint64_t blocks) {
            if (first.back() + blocks > 0x7fffffffu)
                throw Error(
                    "packed replicas: more than 2^31 blocks in one launch; use fewer "
                    "replicas per pack (--max-pack)");
            host.push_back(t);
            first.push_back(first.back() + static_cast<uint32_t>(blocks));
        }
        TaskList<T> list() const {
            return {tasks.data(), firsts.data(), static_cast<uint32_t>(host.size()), first.back()};
        }
    };
    uint64_t member_params() const {
        uint64_t n = 0;
        for (const CudaEngine* m : members_) n += m->params_;
        return n;
    }
    // The task tables from the members' current views; the first call sizes them.
    void build_tasks();
    template <class T>
    void upload(Table<T>& t) {
        if (t.tasks.size() != t.host.size()) {
            t.tasks = DeviceBuffer<T>(t.host.size());
            t.firsts = DeviceBuffer<uint32_t>(t.first);
        }
        copy_in(t.tasks.data(), t.host.data(), t.host.size() * sizeof(T));
    }
    void copy_in(void* dst, const void* src, size_t bytes) {
        if (!bytes) return;
        L5_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, shared_->stream));
        L5_CUDA_CHECK(cudaStreamSynchronize(shared_->stream));
    }
    void enqueue(uint32_t count);
    void check_records(int64_t step);

    std::shared_ptr<PackShared> shared_;
    std::vector<CudaEngine*> members_;
    bool fused_ = true;     // no member has a delay of 0 steps: windows
    int64_t window_ = 1;    // every member's max_window
    Table<PopTask> cells_;  // every population (phase 1; phases 2b-5)
    // windows: populations with 0..4, 5..8 inputs (and those with every receptor, any count)
    std::array<Table<PopTask>, 6> by_inputs_;
    bool all_receptors_ = false;  // some member's population steps every receptor
    Table<PopTask> traced_;       // populations that own STDP traces
    Table<ProjTask> projs_, plastic_, triplet_;
    DeviceBuffer<PopTail> tails_;
    std::vector<std::pair<CudaEngine*, uint32_t>> tail_owner_;  // member and population
    DeviceBuffer<unsigned long long> fill_;
    bool recording_ = false;
    int64_t next_step_ = -1, last_check_ = 0;
    uint64_t params_seen_ = 0;
    std::array<cudaGraphExec_t, 33> graphs_{};
};

}  // namespace l5sim::cuda
