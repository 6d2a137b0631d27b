// The CUDA engine: owns the device state (structure of arrays, DeviceBuffer) and launches the
// phase kernels; the model math is the shared L5_HD code, so results equal the CPU engine's.
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
#include "l5sim/devices.hpp"
#include "l5sim/engine.hpp"
#include "l5sim/error.hpp"
#include "l5sim/model_constants.hpp"
#include "l5sim/packed.hpp"
#include "launch.cuh"
#include "propagate.hpp"
#include "spikes.hpp"
#include "update.hpp"

namespace l5sim {

namespace cuda {

namespace {

// Steps between checks of the device spike record's fill level (a 8-byte copy).
constexpr int64_t kRecordCheckEvery = 100;

// Side streams for the fork-join inside a step (more independent kernels share them).
constexpr size_t kMaxSide = 8;

// Where the view holds the device float array of variable `v` (l5sim/state_vars.hpp), or null
// for history and burst (not floats).
float** view_slot(PopView& w, Var v) {
    switch (v) {
        case Var::v:
            return &w.v;
        case Var::u:
            return &w.u;
        case Var::g_ampa:
            return &w.g_ampa;
        case Var::g_nmda:
            return &w.g_nmda;
        case Var::g_nmda_bg:
            return &w.g_nmda_bg;
        case Var::g_gaba:
            return &w.g_gaba;
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
        case Var::g_ampa_d:
            return &w.g_ampa_d;
        case Var::g_nmda_d:
            return &w.g_nmda_d;
        case Var::g_gaba_d:
            return &w.g_gaba_d;
        case Var::i_ext_d:
            return &w.i_ext_d;
        case Var::gamma:
            return &w.gamma;
        case Var::rem_dend:
            return &w.rem_dend;
        case Var::history:
        case Var::burst:
            return nullptr;
    }
    return nullptr;
}

// The device float array of variable `v`, or null (history, burst; a dendrite's arrays where the
// type has none).
float* view_floats(const PopView& w, Var v) {
    float** slot = view_slot(const_cast<PopView&>(w), v);
    return slot ? *slot : nullptr;
}

// The float array of a population called `var` (checkpoint names), or null.
float* float_var(const PopView& w, const std::string& var) {
    const VarInfo* r = find_var(var);
    return r ? view_floats(w, r->var) : nullptr;
}

uint64_t record_capacity(uint32_t n) { return static_cast<uint64_t>(n) * 16 + 65536; }

std::vector<uint32_t> build_order(const Config& cfg) {
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
    std::vector<DeviceBuffer<float>> floats;
    DeviceBuffer<uint32_t> history, spike_ids, spike_mask;
    DeviceBuffer<uint8_t> burst;
    DeviceBuffer<int> spike_count;
    DeviceBuffer<unsigned long long> record;
    // [0] spikes, [1] calcium spikes, [2] record overflow, [3] record fill level (record_count):
    // the last two next to each other, so a flush reads both with one copy
    DeviceBuffer<unsigned long long> counters;
    SpikeRecord host_record;  // flushed from the device, not yet taken
};

struct DeviceProjection {
    ProjView view{};
    double ampa = 0, nmda = 0, gaba = 0;
    bool dendrite = false;
    uint32_t min_delay = 0;  // steps
    DeviceCsr csr;
    DeviceBuffer<model::RingCell> ring;
    DeviceBuffer<unsigned long long> events;
    DeviceBuffer<float> x, r2, y, o2;
};

float* alloc_floats(DevicePopulation& d, const std::vector<float>& values) {
    d.floats.emplace_back(values);
    return d.floats.back().data();
}

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

class CudaPack;

class CudaEngine final : public Engine {
    friend class CudaPack;
    struct Gains {
        float ampa = 0, nmda = 0, gaba = 0;
    };

  public:
    /// With `pack`: a member of a pack, on the pack's stream and step counter, stepped by the
    /// pack (CudaPack::run_window), never on its own.
    explicit CudaEngine(const Config& cfg, std::shared_ptr<PackShared> pack = nullptr);
    ~CudaEngine() override;
    std::string name() const override { return "cuda"; }

    // With CUDA graphs (the default) detect_spikes() launches the whole step as one captured
    // graph and the other phases do nothing; when profiling, each phase enqueues its own work.
    void detect_spikes(int64_t step) override;
    void propagate(int64_t) override {
        if (!use_graph_) enqueue_propagate();
    }
    void deliver(int64_t) override {
        if (!use_graph_) enqueue_deliver();
    }
    // Phases 4 and 5 run fused with 2b-3 in deliver() (one kernel per population).
    void integrate_dendrites(int64_t) override {}
    void integrate_somata(int64_t) override {}
    void plasticity(int64_t) override {
        if (!use_graph_) enqueue_plasticity();
    }
    int64_t max_window() const override { return window_; }
    void run_window(int64_t step, int64_t count) override;
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
            background_rate_change(v.rem_soma, v.n, v.bg_soma.lambda, d.background_soma.lambda,
                                   cfg_.seed, stream, st, 0, stream_);
        if (v.has_dendrite && v.bg_dend.lambda != d.background_dendrite.lambda)
            background_rate_change(v.rem_dend, v.n, v.bg_dend.lambda, d.background_dendrite.lambda,
                                   cfg_.seed, stream, st, 1, stream_);
        v.bg_soma = d.background_soma;
        v.bg_dend = d.background_dendrite;
        ++params_;  // kernel parameters changed: capture the graphs again
    }
    void set_gamma(uint32_t pop, const std::vector<float>& g) override {
        copy_in(pops_[pop].view.gamma, g);
    }
    void set_current(uint32_t pop, Compartment c, const std::vector<float>& pA) override {
        copy_in(c == Compartment::soma ? pops_[pop].view.i_ext : pops_[pop].view.i_ext_d, pA);
    }
    void set_projection(uint32_t j, double gain, double eta) override {
        auto& p = projs_[j];
        const Gains g{static_cast<float>(p.ampa * gain), static_cast<float>(p.nmda * gain),
                      static_cast<float>(p.gaba * gain)};
        const auto e = static_cast<float>(eta);
        if (p.view.stdp.eta == e && gain_[j].ampa == g.ampa && gain_[j].nmda == g.nmda &&
            gain_[j].gaba == g.gaba)
            return;
        p.view.stdp.eta = e;
        gain_[j] = g;
        ++params_;
    }

    void read_state(uint32_t pop, const std::string& var, const std::vector<uint32_t>& cells,
                    float* out) const override;
    void read_weights(uint32_t j, uint64_t stride, uint64_t count, float* out) const override;
    void read_synapses(uint32_t j, uint64_t stride, uint64_t count, uint32_t* src,
                       uint32_t* tgt) const override;
    uint64_t synapse_count(uint32_t j) const override { return projs_[j].csr.weight.size(); }
    bool find_nonfinite(uint32_t pop, std::string* var, uint32_t* cell) const override;
    uint64_t connectivity_bytes() const override;
    int ring_fixed_exponent(uint32_t proj) const override {
        return std::ilogb(projs_.at(proj).view.fixed_per_ns);
    }
    uint64_t device_bytes() const override { return device_bytes_; }
    void read_block(const StateBlock& b, int64_t step, void* dst) const override;
    void write_block(const StateBlock& b, int64_t step, const void* src) override;
    void set_device_bytes(uint64_t b) { device_bytes_ = b; }
    /// L5SIM_CUDA_FUSE=1: the pack whose one member this engine is (own_pack_).
    void adopt_pack(std::unique_ptr<EngineGroup> p) { own_pack_ = std::move(p); }

  private:
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
    // The device memory of a state block (not rings or the event total), checked for size.
    void* locate(const StateBlock& b) const;
    void copy_in(float* dst, const std::vector<float>& src) {
        to_device(dst, src.data(), src.size() * sizeof(float));
    }
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
    void add_trace(uint32_t pop, const TraceView& t) {
        auto& v = pops_[pop].view;
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
    std::array<Captured, 33> graphs_{};
    // The spike record's sort: the radix sort's second buffer and scratch (grown on demand).
    DeviceBuffer<unsigned long long> record_alt_;
    DeviceBuffer<char> sort_scratch_;
    // Probe and health-check scratch (read_state, find_nonfinite are const: these are caches).
    mutable DeviceBuffer<unsigned> health_;  // find_nonfinite's per-variable results
    mutable std::vector<uint32_t> probe_cells_host_;
    mutable DeviceBuffer<uint32_t> probe_cells_;
    mutable DeviceBuffer<float> probe_out_;
};

CudaEngine::~CudaEngine() {
    for (auto& g : graphs_)
        if (g.exec) cudaGraphExecDestroy(g.exec);
    for (cudaEvent_t e : join_) cudaEventDestroy(e);
    if (fork_) cudaEventDestroy(fork_);
    for (cudaStream_t s : side_) cudaStreamDestroy(s);
    if (stream_ && !pack_) cudaStreamDestroy(stream_);
}

CudaEngine::CudaEngine(const Config& cfg, std::shared_ptr<PackShared> pack)
    : cfg_(cfg), rc_(receptor_constants(cfg)), pack_(std::move(pack)) {
    if (pack_) {
        stream_ = pack_->stream;
        step_ptr_ = pack_->step.data();
    } else {
        L5_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
        step_ = DeviceBuffer<uint32_t>(std::vector<uint32_t>(1, 0));
        step_ptr_ = step_.data();
    }
    use_graph_ = graphs_allowed();
    pops_.resize(cfg.populations.size());
    projs_.resize(cfg.projections.size());
    gain_.resize(cfg.projections.size());
    for (uint32_t p = 0; p < pops_.size(); ++p) init_population(p);
    tails_ = DeviceBuffer<PopTail>(tails());
    for (uint32_t p = 0; p < pops_.size(); ++p) tail_owner_.emplace_back(this, p);
    fill_ = DeviceBuffer<unsigned long long>(std::max<size_t>(pops_.size(), 1));
    // A member of a pack has no side streams: the pack fuses its kernels with the others'.
    const size_t width =
        pack_ ? 0 : std::min<size_t>(std::max(pops_.size(), projs_.size()), kMaxSide);
    L5_CUDA_CHECK(cudaEventCreateWithFlags(&fork_, cudaEventDisableTiming));
    for (size_t k = 0; k < width; ++k) {
        side_.emplace_back();
        L5_CUDA_CHECK(cudaStreamCreateWithFlags(&side_.back(), cudaStreamNonBlocking));
    }
    // Largest projection first: its build needs the most scratch memory, best while nothing
    // else is resident (estimate_device_bytes assumes this order).
    for (uint32_t j : build_order(cfg)) init_projection(j);
    fused_order_ = std::all_of(projs_.begin(), projs_.end(),
                               [](const DeviceProjection& d) { return d.min_delay >= 1; });
    // Windows of steps up to the shortest delay (DESIGN.md section 4); L5SIM_WINDOW may ask
    // for shorter ones (1: step by step).
    if (fused_order_) {
        std::vector<uint32_t> min_delays;
        for (const auto& d : projs_) min_delays.push_back(d.min_delay);
        const int64_t asked = requested_window();
        window_ = std::min(asked > 0 ? asked : int64_t{32}, window_bound(min_delays));
    }
    // The build ran on the legacy stream and this engine's stream. No device-wide
    // synchronisation: another sweep replica's engine may be capturing its step graph.
    L5_CUDA_CHECK(cudaStreamSynchronize(0));
    L5_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaEngine::init_population(uint32_t p) {
    const auto& c = cfg_.populations[p];
    auto& d = pops_[p];
    auto& v = d.view;
    const uint32_t n = c.n;
    v.n = n;
    v.index = p;
    v.has_dendrite = c.caps.has_dendrite;
    v.soma = model::make_izh_constants(c.soma, cfg_.dt_ms);
    v.coupling = c.coupling;
    v.adapt_increment = static_cast<float>(c.adapt_increment_nS);
    v.adapt_decay = static_cast<float>(1 - cfg_.dt_ms / c.adapt_tau_ms);
    v.adapt_E = static_cast<float>(c.adapt_E_mV);
    v.rc = rc_;
    d.floats.reserve(kVarCount);
    // Every float variable of the state table the type has, from its start.
    for (const VarInfo& r : kVarTable) {
        if (!has_var(r, v.has_dendrite)) continue;
        if (float** slot = view_slot(v, r.var)) *slot = alloc_floats(d, initial_floats(cfg_, p, r));
    }
    if (v.has_dendrite) {
        v.dend = model::make_dendrite_constants(c.dendrite, cfg_.dt_ms);
        d.history = DeviceBuffer<uint32_t>(std::vector<uint32_t>(n, 0));
        d.burst = DeviceBuffer<uint8_t>(std::vector<uint8_t>(n, 0));
        v.history = d.history.data();
        v.burst = d.burst.data();
    }
    d.spike_ids = DeviceBuffer<uint32_t>(n);
    d.spike_count = DeviceBuffer<int>(std::vector<int>(1, 0));
    d.spike_mask = DeviceBuffer<uint32_t>(std::vector<uint32_t>(n, 0));
    v.spike_mask = d.spike_mask.data();
    const uint64_t cap = cfg_.recording.spikes ? record_capacity(n) : 1;
    d.record = DeviceBuffer<unsigned long long>(cap);
    d.counters = DeviceBuffer<unsigned long long>(std::vector<unsigned long long>(4, 0));
    v.spike_ids = d.spike_ids.data();
    v.spike_count = d.spike_count.data();
    v.record = d.record.data();
    v.record_count = d.counters.data() + 3;
    v.record_capacity = cap;
    v.record_spikes = cfg_.recording.spikes;
    v.counters = d.counters.data();
    v.step = step_ptr_;
}

void CudaEngine::init_projection(uint32_t j) {
    const auto& c = cfg_.projections[j];
    auto& d = projs_[j];
    d.ampa = c.ampa;
    d.nmda = c.nmda;
    d.gaba = c.gaba;
    d.dendrite = c.compartment == Compartment::dendrite;
    const bool plastic = c.stdp.has_value();
    float w_init_max = 0;
    if (c.rule == ConnRule::sparse) {
        const float w = sparse_weight(c);
        const auto params = sheet_draw_params(cfg_, j);
        d.csr = build_sparse(params, c.K, w, plastic);
        d.min_delay = params.delay_min_steps;
        w_init_max = w;
    } else {
        // Dense ring projections are small by nature: built on the host (double-precision libm
        // geometry, as the CPU engine) and copied.
        Connectivity h = build_projection(cfg_, j);
        d.csr.n_src = h.n_src;
        d.csr.n_tgt = h.n_tgt;
        d.csr.in_degree = h.in_degree;
        d.csr.max_delay = h.max_delay_steps;
        d.min_delay = h.delay.empty() ? 1u : *std::min_element(h.delay.begin(), h.delay.end());
        d.csr.row_ptr = DeviceBuffer<uint64_t>(h.row_ptr);
        if (h.n_tgt > kTargetMask + 1)
            throw Error("the CUDA engine holds at most 2^24 targets per projection");
        std::vector<uint32_t> td(h.size());
        for (uint64_t s = 0; s < h.size(); ++s)
            td[s] = h.target[s] | (static_cast<uint32_t>(h.delay[s]) << kTargetBits);
        d.csr.target_delay = DeviceBuffer<uint32_t>(td);
        d.csr.weight = DeviceBuffer<float>(h.weight);
        if (plastic) d.csr.rev = DeviceBuffer<uint32_t>(h.rev);
        w_init_max = h.w_init_max;
    }
    auto& v = d.view;
    v.n_src = d.csr.n_src;
    v.n_tgt = d.csr.n_tgt;
    v.in_degree = d.csr.in_degree;
    v.slots = d.csr.max_delay + 1;
    {  // longest row (out-degree), for the propagation work split
        std::vector<uint64_t> row_ptr(d.csr.row_ptr.size());
        to_host(row_ptr.data(), d.csr.row_ptr.data(), row_ptr.size() * sizeof(uint64_t));
        uint64_t longest = 0;
        for (size_t r = 0; r + 1 < row_ptr.size(); ++r)
            longest = std::max<uint64_t>(longest, row_ptr[r + 1] - row_ptr[r]);
        v.row_chunks =
            static_cast<uint32_t>(std::max<uint64_t>(1, (longest + kChunk - 1) / kChunk));
    }
    d.ring = DeviceBuffer<model::RingCell>(
        std::vector<model::RingCell>(static_cast<size_t>(v.slots) * v.n_tgt, 0));
    const float w_peak = std::max(w_init_max, stdp_w_max(c, w_init_max));
    v.fixed_per_ns = std::ldexp(1.0f, l5sim::ring_fixed_exponent(c.location, v.in_degree, w_peak));
    d.events = DeviceBuffer<unsigned long long>(std::vector<unsigned long long>(1, 0));
    v.row_ptr = d.csr.row_ptr.data();
    v.target_delay = d.csr.target_delay.data();
    v.weight = d.csr.weight.data();
    v.rev = plastic ? d.csr.rev.data() : nullptr;
    v.ring = d.ring.data();
    v.events = d.events.data();
    v.step = step_ptr_;
    v.src_mask = pops_[c.source].view.spike_mask;
    v.tgt_mask = pops_[c.target].view.spike_mask;
    v.plastic = plastic;
    if (plastic) {
        v.stdp = stdp_constants(*c.stdp, stdp_w_max(c, w_init_max), cfg_.dt_ms);
        v.source = source_rule(cfg_, j);
        d.x = DeviceBuffer<float>(std::vector<float>(v.n_src, 0));
        d.r2 = DeviceBuffer<float>(std::vector<float>(v.n_src, 0));
        d.y = DeviceBuffer<float>(std::vector<float>(v.n_tgt, 0));
        d.o2 = DeviceBuffer<float>(std::vector<float>(v.n_tgt, 0));
        v.x = d.x.data();
        v.r2 = d.r2.data();
        v.y = d.y.data();
        v.o2 = d.o2.data();
        const bool triplet = v.stdp.rule == model::StdpRule::triplet;
        add_trace(c.source, TraceView{v.x, triplet ? v.r2 : nullptr, v.stdp.decay_plus,
                                      v.stdp.decay_x, v.stdp.rule});
        add_trace(c.target, TraceView{v.y, triplet ? v.o2 : nullptr, v.stdp.decay_minus,
                                      v.stdp.decay_y, v.stdp.rule});
    }
    set_projection(j, c.gain, c.stdp ? c.stdp->eta : 0.0);
}

// Every spike record of `owners` (member, population; their tails in `tails`) at least half
// full is flushed (sorted on the device, copied to its member's host record): one gather of the
// fill levels into `fill` (device, one per owner), one copy.
void CudaEngine::flush_half_full(const std::vector<std::pair<CudaEngine*, uint32_t>>& owners,
                                 const PopTail* tails, unsigned long long* fill,
                                 cudaStream_t stream) {
    const auto n = static_cast<uint32_t>(owners.size());
    record_fill(tails, n, fill, stream);
    std::vector<unsigned long long> used(n);
    L5_CUDA_CHECK(cudaMemcpyAsync(used.data(), fill, n * sizeof(unsigned long long),
                                  cudaMemcpyDeviceToHost, stream));
    L5_CUDA_CHECK(cudaStreamSynchronize(stream));
    for (uint32_t k = 0; k < n; ++k) {
        auto [m, p] = owners[k];
        if (used[k] * 2 > m->pops_[p].view.record_capacity) m->flush_record(p);
    }
}

void CudaEngine::prepare(int64_t step, int64_t count) {
    if (cfg_.recording.spikes && step - last_check_ >= kRecordCheckEvery) {
        last_check_ = step;
        flush_half_full(tail_owner_, tails_.data(), fill_.data(), stream_);
    }
    if (step != next_step_) {  // first step, or a caller that skipped: set the device counter
        const auto s = static_cast<uint32_t>(step);
        to_device(step_ptr_, &s, sizeof s);
    }
    next_step_ = step + count;
}

void CudaEngine::detect_spikes(int64_t step) {
    if (own_pack_ && use_graph_) {
        own_pack_->run_window(step, 1);
        return;
    }
    prepare(step, 1);
    if (use_graph_) {
        // Without a delay of 0 steps the step is three fan-outs: one kernel per population
        // (phases 1-5), propagation per projection, post-side STDP per plastic projection; then
        // the step's last kernel. Otherwise phase 1 runs first and propagation before the
        // per-cell update.
        launch_graph(0, [&] {
            if (fused_order_) {
                enqueue_update(true);
                enqueue_propagate();
            } else {
                enqueue_detect();
                enqueue_propagate();
                enqueue_deliver();
            }
            enqueue_plasticity();
        });
    } else {
        enqueue_detect();
    }
}

void CudaEngine::run_window(int64_t step, int64_t count) {
    if (count < 1 || count > window_)
        throw Error("run_window: a window of " + std::to_string(count) +
                    " steps, the engine takes 1 to " + std::to_string(window_));
    if (own_pack_ && use_graph_) {
        own_pack_->run_window(step, count);
        return;
    }
    prepare(step, count);
    const auto c = static_cast<uint32_t>(count);
    if (use_graph_) {
        launch_graph(c, [&] { enqueue_window(c); });
    } else {
        enqueue_window(c);
    }
}

// A window: every population's cells through `count` steps (concurrently), then every
// projection's propagation and every plastic projection's post-side STDP (concurrently: they
// write disjoint synapses), then the traces, then the window's last kernel.
// Profiling: the stages run one after the other, each timed to its end (synchronised).
void CudaEngine::enqueue_window(uint32_t count) {
    using clock = std::chrono::steady_clock;
    auto mark = clock::now();
    auto stage_done = [&](double* acc) {
        if (!profiling_) return;
        synchronize();
        const auto now = clock::now();
        *acc += std::chrono::duration<double>(now - mark).count();
        mark = now;
    };
    const std::vector<InputSet> inputs = input_sets();
    fan_out(static_cast<uint32_t>(pops_.size()), [&](uint32_t p, cudaStream_t s) {
        update_window(pops_[p].view, inputs[p], cfg_.seed, count, s);
    });
    stage_done(&window_times_.deliver);
    std::vector<uint32_t> plastic;
    for (uint32_t j = 0; j < projs_.size(); ++j)
        if (projs_[j].view.plastic) plastic.push_back(j);
    const auto n_proj = static_cast<uint32_t>(projs_.size());
    auto propagation = [&](uint32_t k, cudaStream_t s) {
        if (k < n_proj) {
            const auto& src = pops_[cfg_.projections[k].source].view;
            propagate_window(projs_[k].view, src.spike_ids, src.spike_count, s);
        } else {
            const uint32_t j = plastic[k - n_proj];
            const auto& post = pops_[cfg_.projections[j].target].view;
            potentiate_window(projs_[j].view, post.spike_ids, post.spike_count, s);
        }
    };
    if (profiling_) {
        fan_out(n_proj, propagation);
        stage_done(&window_times_.propagate);
        fan_out(static_cast<uint32_t>(plastic.size()),
                [&](uint32_t k, cudaStream_t s) { propagation(n_proj + k, s); });
    } else {
        fan_out(n_proj + static_cast<uint32_t>(plastic.size()), propagation);
    }
    fan_out(static_cast<uint32_t>(pops_.size()),
            [&](uint32_t p, cudaStream_t s) { advance_traces(pops_[p].view, count, s); });
    finish_window(tails_.data(), static_cast<uint32_t>(pops_.size()), count, step_ptr_, stream_);
    stage_done(&window_times_.plasticity);
}

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

void CudaEngine::enqueue_detect() {
    fan_out(static_cast<uint32_t>(pops_.size()),
            [&](uint32_t p, cudaStream_t s) { cuda::detect_spikes(pops_[p].view, s); });
}

void CudaEngine::enqueue_propagate() {
    fan_out(static_cast<uint32_t>(projs_.size()), [&](uint32_t j, cudaStream_t s) {
        const auto& src = pops_[cfg_.projections[j].source].view;
        cuda::propagate(projs_[j].view, src.spike_ids, src.spike_count, s);
    });
}

void CudaEngine::enqueue_deliver() { enqueue_update(false); }

std::vector<InputSet> CudaEngine::input_sets() const {
    std::vector<InputSet> inputs(pops_.size());
    for (uint32_t j = 0; j < projs_.size(); ++j) {
        InputSet& in = inputs[cfg_.projections[j].target];
        if (in.count == kMaxInputs)
            throw Error("the CUDA engine takes at most 8 projections into one population");
        auto& x = in.in[in.count++];
        x.ring = projs_[j].view.ring;
        x.ring_mut = projs_[j].view.ring;
        x.slots = projs_[j].view.slots;
        x.ns_per_fixed = 1.0f / projs_[j].view.fixed_per_ns;  // exact: a power of two
        x.dendrite = projs_[j].dendrite;
        x.f_ampa = gain_[j].ampa;
        x.f_nmda = gain_[j].nmda;
        x.f_gaba = gain_[j].gaba;
    }
    return inputs;
}

void CudaEngine::enqueue_update(bool detect) {
    const std::vector<InputSet> inputs = input_sets();
    fan_out(static_cast<uint32_t>(pops_.size()), [&](uint32_t p, cudaStream_t s) {
        update_cells(pops_[p].view, inputs[p], cfg_.seed, detect, s);
    });
}

void CudaEngine::enqueue_plasticity() {
    std::vector<uint32_t> plastic;
    for (uint32_t j = 0; j < projs_.size(); ++j)
        if (projs_[j].view.plastic) plastic.push_back(j);
    fan_out(static_cast<uint32_t>(plastic.size()), [&](uint32_t k, cudaStream_t s) {
        const uint32_t j = plastic[k];
        const auto& post = pops_[cfg_.projections[j].target].view;
        const auto& pre = pops_[cfg_.projections[j].source].view;
        potentiate(projs_[j].view, post.spike_ids, post.spike_count, pre.spike_ids, pre.spike_count,
                   s);
    });
    finish_step(tails_.data(), static_cast<uint32_t>(pops_.size()), step_ptr_, stream_);
}

uint64_t CudaEngine::counter(uint32_t pop, int k) const {
    unsigned long long v = 0;
    to_host(&v, pops_[pop].view.counters + k, sizeof v);
    return v;
}

void CudaEngine::flush_record(uint32_t pop) {
    auto& d = pops_[pop];
    unsigned long long head[2] = {0, 0};  // counters[2] (overflow), counters[3] (fill level)
    to_host(head, d.view.counters + 2, sizeof head);
    const unsigned long long used = head[1];
    if (head[0])
        throw Error("spike record buffer of population " + cfg_.populations[pop].name +
                    " overflowed (cells firing above ~800 Hz on average)");
    if (used == 0) return;
    // The device appends in no particular order: sorted there (a radix sort of the keys) into
    // (step, id) order, as the CPU engine records them; a flush never splits a step.
    if (used > record_alt_.size()) record_alt_ = DeviceBuffer<unsigned long long>(used);
    const size_t scratch = sort_spike_scratch_bytes(used);
    if (scratch > sort_scratch_.size()) sort_scratch_ = DeviceBuffer<char>(scratch);
    const unsigned long long* sorted =
        sort_spike_keys(d.view.record, record_alt_.data(), used, sort_scratch_.data(),
                        sort_scratch_.size(), stream_);
    std::vector<unsigned long long> keys(used);
    to_host(keys.data(), sorted, used * sizeof(unsigned long long));
    // Emptied in stream order (before any later kernel); nothing to wait for.
    L5_CUDA_CHECK(cudaMemsetAsync(d.view.record_count, 0, sizeof(unsigned long long), stream_));
    auto& r = d.host_record;
    const size_t at = r.steps.size();
    r.steps.resize(at + used);
    r.ids.resize(at + used);
    for (size_t k = 0; k < used; ++k) {
        r.steps[at + k] = static_cast<int64_t>(keys[k] >> 32);
        r.ids[at + k] = static_cast<uint32_t>(keys[k]);
    }
}

void CudaEngine::take_spikes(uint32_t pop, SpikeRecord* out) {
    if (cfg_.recording.spikes) flush_record(pop);
    auto& r = pops_[pop].host_record;
    out->steps.insert(out->steps.end(), r.steps.begin(), r.steps.end());
    out->ids.insert(out->ids.end(), r.ids.begin(), r.ids.end());
    r.steps.clear();
    r.ids.clear();
}

uint64_t CudaEngine::synaptic_events() const {
    uint64_t total = 0;
    for (const auto& p : projs_) {
        unsigned long long v = 0;
        to_host(&v, p.view.events, sizeof v);
        total += v;
    }
    return total;
}

// One kernel over every variable (a finds-the-lowest-bad-cell atomicMin per variable), one copy
// back: a health check costs one synchronisation per population.
bool CudaEngine::find_nonfinite(uint32_t pop, std::string* var, uint32_t* cell) const {
    // The health-checked variables of the table (l5sim/state_vars.hpp), in its order.
    const VarInfo* rows[kVarCount];
    size_t n_vars = 0;
    for (const VarInfo& r : kVarTable)
        if (r.health) rows[n_vars++] = &r;
    if (n_vars > static_cast<size_t>(kMaxHealthVars))
        throw Error("more health-checked variables than the health kernel takes");
    if (health_.size() < n_vars) health_ = DeviceBuffer<unsigned>(n_vars);
    L5_CUDA_CHECK(cudaMemsetAsync(health_.data(), 0xff, n_vars * sizeof(unsigned), stream_));
    const PopView& v = pops_[pop].view;
    HealthVars vars{};
    vars.count = static_cast<uint32_t>(n_vars);
    for (size_t k = 0; k < n_vars; ++k) vars.a[k] = view_floats(v, rows[k]->var);
    first_nonfinite(vars, v.n, health_.data(), stream_);
    std::vector<unsigned> first(n_vars, ~0u);
    to_host(first.data(), health_.data(), n_vars * sizeof(unsigned));
    for (size_t k = 0; k < n_vars; ++k) {
        if (first[k] != ~0u) {
            *var = rows[k]->name;
            *cell = first[k];
            return true;
        }
    }
    return false;
}

void CudaEngine::read_state(uint32_t pop, const std::string& var,
                            const std::vector<uint32_t>& cells, float* out) const {
    const auto& v = pops_[pop].view;
    const VarInfo* r = find_probe_var(var);
    const void* src = r ? view_floats(v, r->var) : nullptr;
    const bool bytes = r && r->var == Var::burst;
    if (bytes) src = v.burst;
    if (!src) throw Error("no state variable '" + var + "' in this population");
    // One upload of the cell list (kept while it is the same list), one gather, one copy back.
    const auto n = static_cast<uint32_t>(cells.size());
    if (probe_cells_host_ != cells) {
        probe_cells_ = DeviceBuffer<uint32_t>(cells);
        probe_cells_host_ = cells;
    }
    if (probe_out_.size() < n) probe_out_ = DeviceBuffer<float>(n);
    if (bytes) {
        gather(static_cast<const uint8_t*>(src), probe_cells_.data(), n, probe_out_.data(),
               stream_);
    } else {
        gather(static_cast<const float*>(src), probe_cells_.data(), n, probe_out_.data(), stream_);
    }
    to_host(out, probe_out_.data(), n * sizeof(float));
}

// `count` 4-byte elements at stride `stride` (one strided 2-D copy).
void CudaEngine::strided_to_host(void* dst, const void* src, uint64_t stride,
                                 uint64_t count) const {
    if (!count) return;
    L5_CUDA_CHECK(
        cudaMemcpy2DAsync(dst, 4, src, stride * 4, 4, count, cudaMemcpyDeviceToHost, stream_));
    L5_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaEngine::read_weights(uint32_t j, uint64_t stride, uint64_t count, float* out) const {
    const uint64_t n = synapse_count(j);
    count = std::min<uint64_t>(count, stride ? (n + stride - 1) / stride : 0);
    strided_to_host(out, projs_[j].view.weight, stride, count);
}

void CudaEngine::read_synapses(uint32_t j, uint64_t stride, uint64_t count, uint32_t* src,
                               uint32_t* tgt) const {
    const auto& c = projs_[j].csr;
    const uint64_t n = synapse_count(j);
    count = std::min<uint64_t>(count, stride ? (n + stride - 1) / stride : 0);
    std::vector<uint64_t> row_ptr(c.row_ptr.size());
    to_host(row_ptr.data(), c.row_ptr.data(), row_ptr.size() * sizeof(uint64_t));
    strided_to_host(tgt, c.target_delay.data(), stride, count);
    uint32_t row = 0;
    for (uint64_t k = 0; k < count; ++k) {
        while (row_ptr[row + 1] <= k * stride) ++row;
        src[k] = row;
        tgt[k] &= kTargetMask;
    }
}

void* CudaEngine::locate(const StateBlock& b) const {
    void* ptr = nullptr;
    uint64_t have = 0;
    const std::string& v = b.var;
    if (b.kind == StateBlock::Kind::population) {
        const auto& d = pops_[b.index];
        const PopView& w = d.view;
        const uint64_t n = w.n;
        float* f = float_var(w, v);
        if (f) {
            ptr = f;
            have = n * 4;
        } else if (v == "history" && w.history) {
            ptr = w.history;
            have = n * 4;
        } else if (v == "burst" && w.burst) {
            ptr = w.burst;
            have = n;
        } else if (v == "spikes" || v == "calcium_spikes") {
            ptr = w.counters + (v == "spikes" ? 0 : 1);
            have = 8;
        }
    } else if (b.kind == StateBlock::Kind::projection) {
        const auto& d = projs_[b.index];
        if (v == "weight") {
            ptr = const_cast<float*>(d.csr.weight.data());
            have = d.csr.weight.size() * 4;
        } else if (d.view.plastic && (v == "x" || v == "r2")) {
            ptr = v == "x" ? d.view.x : d.view.r2;
            have = uint64_t(d.view.n_src) * 4;
        } else if (d.view.plastic && (v == "y" || v == "o2")) {
            ptr = v == "y" ? d.view.y : d.view.o2;
            have = uint64_t(d.view.n_tgt) * 4;
        }
    }
    if (!ptr || have != b.bytes())
        throw Error("state block " + b.name + ": the CUDA engine holds " + std::to_string(have) +
                    " bytes, the layout says " + std::to_string(b.bytes()));
    return ptr;
}

void CudaEngine::read_block(const StateBlock& b, int64_t step, void* dst) const {
    if (b.var == "ring") {
        const auto& v = projs_[b.index].view;
        std::vector<model::RingCell> ring(uint64_t(v.slots) * v.n_tgt);
        to_host(ring.data(), v.ring, ring.size() * sizeof(model::RingCell));
        ring_to_rotated(ring.data(), v.slots, v.n_tgt, step, static_cast<model::RingCell*>(dst),
                        b.count / v.n_tgt);
    } else if (b.var == "events") {
        const uint64_t total = synaptic_events();
        std::memcpy(dst, &total, 8);
    } else {
        to_host(dst, locate(b), b.bytes());
    }
}

void CudaEngine::write_block(const StateBlock& b, int64_t step, const void* src) {
    if (b.var == "ring") {
        const auto& v = projs_[b.index].view;
        std::vector<model::RingCell> ring(uint64_t(v.slots) * v.n_tgt);
        ring_from_rotated(static_cast<const model::RingCell*>(src), b.count / v.n_tgt, v.n_tgt,
                          step, ring.data(), v.slots, b.name);
        to_device(v.ring, ring.data(), ring.size() * sizeof(model::RingCell));
    } else if (b.var == "events") {
        // The engine counts per projection; a checkpoint holds the total: all of it on the first.
        uint64_t total = 0;
        std::memcpy(&total, src, 8);
        for (size_t j = 0; j < projs_.size(); ++j) {
            const unsigned long long x = j == 0 ? total : 0;
            to_device(projs_[j].view.events, &x, 8);
        }
        if (projs_.empty() && total != 0)
            throw Error(
                "checkpoint block events: synaptic events in a network without projections");
    } else {
        to_device(locate(b), src, b.bytes());
    }
}

uint64_t CudaEngine::connectivity_bytes() const {
    uint64_t b = 0;
    for (const auto& p : projs_) {
        const auto& c = p.csr;
        b += c.row_ptr.size() * 8 + c.target_delay.size() * 4 + c.weight.size() * 4 +
             c.rev.size() * 4;
    }
    return b;
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
    bool fused_ = true;                        // no member has a delay of 0 steps: windows
    int64_t window_ = 1;                       // every member's max_window
    Table<PopTask> cells_;                     // every population (phase 1; phases 2b-5)
    std::array<Table<PopTask>, 6> by_inputs_;  // windows: populations with 0..4, 5..8 inputs
    Table<PopTask> traced_;                    // populations that own STDP traces
    Table<ProjTask> projs_, plastic_, triplet_;
    DeviceBuffer<PopTail> tails_;
    std::vector<std::pair<CudaEngine*, uint32_t>> tail_owner_;  // member and population
    DeviceBuffer<unsigned long long> fill_;
    bool recording_ = false;
    int64_t next_step_ = -1, last_check_ = 0;
    uint64_t params_seen_ = 0;
    std::array<cudaGraphExec_t, 33> graphs_{};
};

void CudaPack::finalize() {
    fused_ = true;
    window_ = 32;
    for (const CudaEngine* m : members_) {
        fused_ = fused_ && m->fused_order_;
        window_ = std::min(window_, m->window_);
    }
    if (!fused_) window_ = 1;
    std::vector<PopTail> tails;
    for (CudaEngine* m : members_) {
        m->window_ = window_;  // every member's max_window: the pack's
        const auto t = m->tails();
        for (uint32_t p = 0; p < t.size(); ++p) {
            tails.push_back(t[p]);
            tail_owner_.emplace_back(m, p);
            recording_ = recording_ || t[p].record;
        }
    }
    tails_ = DeviceBuffer<PopTail>(tails);
    fill_ = DeviceBuffer<unsigned long long>(std::max<size_t>(tails.size(), 1));
    build_tasks();
    params_seen_ = member_params();
}

void CudaPack::build_tasks() {
    const bool sized = !cells_.host.empty() || !projs_.host.empty();
    auto reset = [](auto& t) {
        t.host.clear();
        t.first.assign(1, 0);
    };
    reset(cells_);
    for (auto& t : by_inputs_) reset(t);
    reset(traced_);
    reset(projs_);
    reset(plastic_);
    reset(triplet_);
    uint64_t n_proj = 0;
    for (const CudaEngine* m : members_) n_proj += m->projs_.size();
    // Warps per projection task: enough for a busy step of a few members, a block at least
    // (each task's warps grid-stride over its spikes; idle ones exit at once).
    const uint64_t cap = std::max<uint64_t>(8, 16384 / std::max<uint64_t>(n_proj, 1));
    auto blocks_for_warps = [&](uint64_t items) {
        const uint64_t warps = std::max<uint64_t>(1, std::min(items, cap));
        return (warps * 32 + kBlock - 1) / kBlock;
    };
    for (CudaEngine* m : members_) {
        const std::vector<InputSet> inputs = m->input_sets();
        for (uint32_t p = 0; p < m->pops_.size(); ++p) {
            const PopView& v = m->pops_[p].view;
            const PopTask t{v, inputs[p], m->cfg_.seed};
            const uint64_t blocks = (uint64_t(v.n) + kBlock - 1) / kBlock;
            cells_.add(t, blocks);
            by_inputs_[std::min(inputs[p].count, 5)].add(t, blocks);
            if (v.n_traces > 0) traced_.add(t, blocks);
        }
        for (uint32_t j = 0; j < m->projs_.size(); ++j) {
            const ProjView& v = m->projs_[j].view;
            const auto& c = m->cfg_.projections[j];
            const PopView& src = m->pops_[c.source].view;
            const PopView& tgt = m->pops_[c.target].view;
            const ProjTask t{v, src.spike_ids, src.spike_count, tgt.spike_ids, tgt.spike_count};
            projs_.add(t, blocks_for_warps(uint64_t(v.n_src) * v.row_chunks));
            if (!v.plastic) continue;
            const uint64_t chunks = (v.in_degree + kChunk - 1) / kChunk;
            plastic_.add(t, blocks_for_warps(uint64_t(v.n_tgt) * chunks));
            if (v.stdp.rule == model::StdpRule::triplet) triplet_.add(t, 1);
        }
    }
    if (sized && cells_.tasks.size() != cells_.host.size())
        throw Error("packed replicas: the task tables changed shape");
    upload(cells_);
    for (auto& t : by_inputs_) upload(t);
    upload(traced_);
    upload(projs_);
    upload(plastic_);
    upload(triplet_);
}

// Every spike record at least half full is flushed (sorted on the device, copied to its
// member's host record): one gather of the fill levels, one copy.
void CudaPack::check_records(int64_t step) {
    if (!recording_ || step - last_check_ < kRecordCheckEvery) return;
    last_check_ = step;
    CudaEngine::flush_half_full(tail_owner_, tails_.data(), fill_.data(), shared_->stream);
}

void CudaPack::run_window(int64_t step, int64_t count) {
    if (count < 1 || count > window_)
        throw Error("packed replicas: a window of " + std::to_string(count) +
                    " steps, the pack takes 1 to " + std::to_string(window_));
    check_records(step);
    if (step != next_step_) {  // the first step, or a caller that skipped
        const auto s = static_cast<uint32_t>(step);
        copy_in(shared_->step.data(), &s, sizeof s);
    }
    next_step_ = step + count;
    if (const uint64_t p = member_params(); p != params_seen_) {  // a knob changed a view
        build_tasks();
        params_seen_ = p;
    }
    const auto c = static_cast<uint32_t>(count);
    if (!CudaEngine::graphs_allowed()) {
        enqueue(c);
        return;
    }
    cudaGraphExec_t& g = graphs_.at(fused_ ? c : 0);
    if (!g) {  // the tables' device addresses never change: one capture per window length
        cudaGraph_t graph = nullptr;
        L5_CUDA_CHECK(cudaStreamBeginCapture(shared_->stream, cudaStreamCaptureModeThreadLocal));
        enqueue(c);
        L5_CUDA_CHECK(cudaStreamEndCapture(shared_->stream, &graph));
        L5_CUDA_CHECK(cudaGraphInstantiate(&g, graph, 0));
        L5_CUDA_CHECK(cudaGraphDestroy(graph));
    }
    L5_CUDA_CHECK(cudaGraphLaunch(g, shared_->stream));
    if (sync_after_launch()) L5_CUDA_CHECK(cudaStreamSynchronize(shared_->stream));
}

// The stages of CudaEngine::enqueue_window (fused) or of its single step with phase 1 first
// (a member has a delay of 0 steps), each one launch for all members.
void CudaPack::enqueue(uint32_t count) {
    cudaStream_t s = shared_->stream;
    const auto n_tails = static_cast<uint32_t>(tail_owner_.size());
    if (fused_) {
        for (int k = 0; k < 6; ++k)
            window_tasks(by_inputs_[k].list(), k < 5 ? k : kMaxInputs, count, s);
        proj_tasks(ProjStage::propagate_window, projs_.list(), s);
        proj_tasks(ProjStage::potentiate_window, plastic_.list(), s);
        traces_tasks(traced_.list(), count, s);
        finish_window(tails_.data(), n_tails, count, shared_->step.data(), s);
    } else {
        detect_tasks(cells_.list(), s);
        proj_tasks(ProjStage::propagate, projs_.list(), s);
        update_tasks(cells_.list(), s);
        proj_tasks(ProjStage::potentiate, plastic_.list(), s);
        proj_tasks(ProjStage::jump, triplet_.list(), s);
        finish_step(tails_.data(), n_tails, shared_->step.data(), s);
    }
}

}  // namespace

/// Device memory a config needs at its peak (bytes), for the check before anything is
/// allocated: state, spike records and rings, then projections built largest first, each adding
/// its final arrays after a transient of sparse_build_bytes.
uint64_t estimate_device_bytes(const Config& cfg) {
    // In 128 bits, saturated at 2^64 - 1: a huge n times a huge K must not wrap to a small
    // estimate.
    using wide = unsigned __int128;
    wide resident = wide(64) << 20, peak = 0;
    for (const auto& pop : cfg.populations)
        resident += wide(pop.n) * (100 + (cfg.recording.spikes ? 16 * 8 : 0));
    if (cfg.recording.spikes) {  // the record's sort: a second buffer as large as the largest
        wide largest = 0;
        for (const auto& pop : cfg.populations) largest = std::max<wide>(largest, pop.n);
        resident += (largest * 16 + 65536) * 8 + (largest * 16 + 65536) / 4 + (1u << 20);
    }
    for (const auto& p : cfg.projections) {
        const wide n_src = cfg.populations[p.source].n, n_tgt = cfg.populations[p.target].n;
        const wide slots = max_ring_slots(cfg, p);
        resident += slots * n_tgt * sizeof(model::RingCell) + (p.stdp ? (n_src + n_tgt) * 8 : 0);
    }
    for (uint32_t j : build_order(cfg)) {
        const auto& p = cfg.projections[j];
        const wide syn = projection_synapses(cfg, p);
        const wide final_bytes =
            syn * (8 + (p.stdp ? 4 : 0)) + (wide(cfg.populations[p.source].n) + 1) * 8;
        const wide transient = p.rule == ConnRule::sparse
                                   ? wide(sparse_build_bytes(static_cast<uint64_t>(syn)))
                                   : final_bytes;
        peak = std::max(peak, resident + std::max(transient, final_bytes));
        resident += final_bytes;
    }
    const wide need = std::max(peak, resident);
    return need > wide(UINT64_MAX) ? UINT64_MAX : static_cast<uint64_t>(need);
}

/// Device-to-device copy bandwidth (bytes/s): the card's practical memory limit, measured.
double measure_copy_bandwidth() {
    const size_t bytes = size_t(1) << 30;
    DeviceBuffer<char> a(bytes), b(bytes);
    L5_CUDA_CHECK(cudaMemset(a.data(), 1, bytes));
    cudaEvent_t e0, e1;
    L5_CUDA_CHECK(cudaEventCreate(&e0));
    L5_CUDA_CHECK(cudaEventCreate(&e1));
    L5_CUDA_CHECK(cudaMemcpy(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice));  // warm-up
    float best_ms = 1e30f;
    for (int rep = 0; rep < 5; ++rep) {
        L5_CUDA_CHECK(cudaEventRecord(e0));
        L5_CUDA_CHECK(cudaMemcpy(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice));
        L5_CUDA_CHECK(cudaEventRecord(e1));
        L5_CUDA_CHECK(cudaEventSynchronize(e1));
        float ms = 0;
        L5_CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
        best_ms = std::min(best_ms, ms);
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    return 2.0 * bytes / (best_ms * 1e-3);  // a copy reads and writes every byte
}

}  // namespace cuda

bool cuda_built() { return true; }

std::vector<std::string> cuda_devices(std::string* why) {
    int n = 0;
    const cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
        if (why) *why = cudaGetErrorString(err);
        return {};
    }
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
        cudaDeviceProp p{};
        if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
        char buf[256];
        snprintf(buf, sizeof buf, "%s, sm_%d%d, %.1f GiB, %d SMs", p.name, p.major, p.minor,
                 p.totalGlobalMem / 1073741824.0, p.multiProcessorCount);
        out.emplace_back(buf);
    }
    if (out.empty() && why) *why = "no CUDA device visible";
    return out;
}

bool cuda_available(std::string* why) { return !cuda_devices(why).empty(); }

double cuda_copy_bandwidth() { return cuda::measure_copy_bandwidth(); }

std::unique_ptr<Engine> make_cuda_engine(const Config& cfg) {
    std::string why;
    if (!cuda_available(&why)) throw Error("--backend cuda: no usable CUDA device (" + why + ")");
    size_t free_b = 0, total_b = 0;
    L5_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    const uint64_t need = cuda::estimate_device_bytes(cfg);
    if (need > free_b) {
        char buf[256];
        snprintf(buf, sizeof buf,
                 "the network needs %.1f GiB of device memory, the device has %.1f GiB free; "
                 "reduce N or K",
                 need / 1073741824.0, free_b / 1073741824.0);
        throw ConfigError(buf);
    }
    std::unique_ptr<cuda::CudaEngine> engine;
    const char* fuse = std::getenv("L5SIM_CUDA_FUSE");
    if (fuse && std::string(fuse) == "1") {
        auto pack = std::make_unique<cuda::CudaPack>();
        engine = std::make_unique<cuda::CudaEngine>(cfg, pack->shared());
        pack->add(engine.get());
        pack->finalize();
        engine->adopt_pack(std::move(pack));
    } else {
        engine = std::make_unique<cuda::CudaEngine>(cfg);
    }
    size_t free_after = 0;
    L5_CUDA_CHECK(cudaMemGetInfo(&free_after, &total_b));
    engine->set_device_bytes(free_b > free_after ? free_b - free_after : 0);
    return engine;
}

uint64_t cuda_member_bytes(const Config& cfg) {
    // A member shares the context the estimate's fixed 64 MiB stands for; 1 MiB for its many
    // small buffers.
    return cuda::estimate_device_bytes(cfg) - (64ull << 20) + (1ull << 20);
}

uint64_t cuda_free_bytes() {
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return free_b;
}

EnginePack make_cuda_pack(const std::vector<Config>& cfgs) {
    std::string why;
    if (!cuda_available(&why)) throw Error("--backend cuda: no usable CUDA device (" + why + ")");
    size_t free_b = 0, total_b = 0;
    L5_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    uint64_t need = 64ull << 20;
    for (const Config& c : cfgs) need += cuda_member_bytes(c);
    if (need > free_b) {
        char buf[256];
        snprintf(buf, sizeof buf,
                 "%zu packed replicas need %.1f GiB of device memory, the device has %.1f GiB "
                 "free; pack fewer replicas at a time (--max-pack)",
                 cfgs.size(), need / 1073741824.0, free_b / 1073741824.0);
        throw Error(buf);
    }
    auto pack = std::make_unique<cuda::CudaPack>();
    EnginePack out;
    for (const Config& c : cfgs) {
        auto e = std::make_unique<cuda::CudaEngine>(c, pack->shared());
        pack->add(e.get());
        out.engines.push_back(std::move(e));
    }
    pack->finalize();
    size_t free_after = 0;
    L5_CUDA_CHECK(cudaMemGetInfo(&free_after, &total_b));
    const uint64_t share =
        cfgs.empty() || free_b <= free_after ? 0 : (free_b - free_after) / cfgs.size();
    for (auto& e : out.engines) static_cast<cuda::CudaEngine&>(*e).set_device_bytes(share);
    out.group = std::move(pack);
    return out;
}

}  // namespace l5sim
