// Thread mapping: one thread per cell. Writes are per cell; the only atomics are the integer
// spike counters and one per warp with spikes for the spike list.
#include "l5sim/model/cell_step.hpp"
#include "l5sim/model/rng.hpp"
#include "l5sim/model/stdp.hpp"
#include "launch.cuh"
#include "tasks.cuh"
#include "update.hpp"

namespace l5sim::cuda {

namespace kernel {

// Warp-aggregated append: the lanes with `flag` write `value` to list[*count ...] with one
// atomic per warp (the list is in no particular order); returns the lane's slot, or -1.
// Every lane of the warp must call it.
template <class Count>
__device__ __forceinline__ long long warp_append(bool flag, Count* count) {
    const unsigned mask = __ballot_sync(0xffffffffu, flag);
    if (mask == 0) return -1;
    const unsigned lane = threadIdx.x & 31u;
    const int leader = __ffs(static_cast<int>(mask)) - 1;
    Count base = 0;
    if (lane == static_cast<unsigned>(leader))
        base = atomicAdd(count, static_cast<Count>(__popc(mask)));
    base = __shfl_sync(0xffffffffu, base, leader);
    if (!flag) return -1;
    return static_cast<long long>(base) + __popc(mask & ((1u << lane) - 1u));
}

// This step's spikes of one warp appended to the population's spike list with one atomic
// (warp-aggregated; the list is in no particular order) and, when recording, to the record.
// Every lane of the warp must call it (threads past the last cell with spiked = false).
__device__ __forceinline__ void emit_spikes(const PopView& p, bool spiked, uint32_t i,
                                            uint32_t step) {
    const long long q = warp_append(spiked, p.spike_count);
    if (q < 0) return;
    p.spike_ids[q] = i;
    if (p.record_spikes) {
        const unsigned long long at = *p.record_count + static_cast<unsigned long long>(q);
        if (at < p.record_capacity) p.record[at] = spike_key(step, i);
    }
}

// A window's spikes of one step appended straight to the record (the record's fill level is
// advanced here, not by the last kernel; overflow is flagged in counters[2]).
__device__ __forceinline__ void record_spikes(const PopView& p, bool spiked, uint32_t i,
                                              uint32_t step) {
    const long long at = warp_append(spiked, p.record_count);
    if (at < 0) return;
    if (static_cast<unsigned long long>(at) < p.record_capacity) {
        p.record[at] = spike_key(step, i);
    } else {
        p.counters[2] = 1;
    }
}

// Phase 1 on loaded values (model::spike_phase): spike test and reset with the c, d chosen in
// the previous step, adaptation jump, BAP history; the calcium-spike counter. Every type takes
// the adaptation jump here: a type that does not adapt has an increment of 0 and g_adapt at +0
// throughout (its init key does not exist), so +0 + 0 leaves it +0, the CPU engine's result,
// and the kernels test one flag, not two (measured: a second flag costs 1-2 registers in the
// window kernels).
__device__ __forceinline__ bool spike_test(const PopView& p, bool burst, float* v, float* u,
                                           float* g_adapt, uint32_t* history) {
    bool spiked;
    if (p.has_dendrite) {
        spiked = model::spike_phase(p.soma, true, true, burst, p.adapt_increment, v, u, g_adapt,
                                    history);
        if (spiked && burst) atomicAdd(&p.counters[1], 1ull);
    } else {
        spiked = model::spike_phase(p.soma, false, true, false, p.adapt_increment, v, u, g_adapt,
                                    history);
    }
    return spiked;
}

// The STDP traces this population owns, stepped with its spike test (model::trace_step; the
// triplet rule's slow traces only decay here).
struct Traces {
    float fast[kMaxTraces], slow[kMaxTraces];
};

__device__ __forceinline__ void load_traces(const PopView& p, uint32_t i, Traces* t) {
#pragma unroll
    for (int k = 0; k < kMaxTraces; ++k) {
        if (k >= p.n_traces) break;
        t->fast[k] = p.traces[k].fast[i];
        t->slow[k] = p.traces[k].slow ? p.traces[k].slow[i] : 0.0f;
    }
}

__device__ __forceinline__ void store_traces(const PopView& p, uint32_t i, const Traces& t,
                                             bool spiked) {
#pragma unroll
    for (int k = 0; k < kMaxTraces; ++k) {
        if (k >= p.n_traces) break;
        const TraceView& x = p.traces[k];
        x.fast[i] = model::trace_step(x.rule, t.fast[k], x.decay, spiked);
        if (x.slow) x.slow[i] = t.slow[k] * x.slow_decay;
    }
}

// Phase 1 alone (when a projection has a delay of 0 steps, or when profiling), for cell i.
// Every lane of the warp must call it.
__device__ __forceinline__ void detect_cell(const PopView& p, uint32_t i) {
    const uint32_t step = *p.step;
    bool spiked = false;
    if (i < p.n) {
        const bool burst = p.has_dendrite && p.burst[i];
        float v = p.v[i], u = p.u[i];
        float g_adapt = p.g_adapt[i];
        uint32_t history = p.has_dendrite ? p.history[i] : 0u;
        Traces tr;
        load_traces(p, i, &tr);
        spiked = spike_test(p, burst, &v, &u, &g_adapt, &history);
        if (p.has_dendrite) p.history[i] = history;
        if (spiked) {
            p.v[i] = v;
            p.u[i] = u;
            p.g_adapt[i] = g_adapt;
        }
        store_traces(p, i, tr, spiked);
    }
    emit_spikes(p, spiked, i, step);
}

__global__ void detect_spikes(PopView p) { detect_cell(p, blockIdx.x * blockDim.x + threadIdx.x); }

// One cell's state between steps, in registers.
struct CellState {
    model::CellInputs c;
    float g_adapt, v, u, i_soma, rem_s, rem_d, v_d, u_d, gamma, i_dend;
    uint32_t history;
    bool burst;  // the burst mode the last dendrite step chose (used by the next spike test)
};

// Whether receptor r's conductance array exists: always for a core receptor (folded at compile
// time); beyond those, when the population steps every receptor (kN = kReceptorCount serves
// both kinds, packed launches mix them: a missing receptor is +0 throughout, as without it).
__device__ __forceinline__ bool has_receptor(const float* const* g, int r) {
    return r < model::kCoreReceptors || g[r] != nullptr;
}

// kN: the receptors stepped (model::receptors_of).
template <int kN>
__device__ __forceinline__ void load_cell(const PopView& p, uint32_t i, bool with_burst,
                                          CellState* s) {
    s->c = model::CellInputs{};
#pragma unroll
    for (int r = 0; r < kN; ++r) s->c.soma[r] = has_receptor(p.g, r) ? p.g[r][i] : 0.0f;
    s->c.nmda_bg = p.g_nmda_bg[i];
    s->g_adapt = p.g_adapt[i];
    s->v = p.v[i];
    s->u = p.u[i];
    s->i_soma = p.i_ext[i];
    s->rem_s = p.rem_soma[i];
    s->rem_d = s->v_d = s->u_d = s->gamma = s->i_dend = 0;
    s->history = 0;
    s->burst = false;
    if (p.has_dendrite) {
#pragma unroll
        for (int r = 0; r < kN; ++r) s->c.dend[r] = has_receptor(p.g_d, r) ? p.g_d[r][i] : 0.0f;
        s->v_d = p.v_d[i];
        s->rem_d = p.rem_dend[i];
        s->u_d = p.u_d[i];
        s->gamma = p.gamma[i];
        s->i_dend = p.i_ext_d[i];
        s->history = p.history[i];
        if (with_burst) s->burst = p.burst[i];
    }
}

template <int kN>
__device__ __forceinline__ void store_cell(const PopView& p, uint32_t i, bool with_history,
                                           const CellState& s) {
#pragma unroll
    for (int r = 0; r < kN; ++r)
        if (has_receptor(p.g, r)) p.g[r][i] = s.c.soma[r];
    p.g_nmda_bg[i] = s.c.nmda_bg;
    p.g_adapt[i] = s.g_adapt;
    p.rem_soma[i] = s.rem_s;
    p.v[i] = s.v;
    p.u[i] = s.u;
    if (p.has_dendrite) {
#pragma unroll
        for (int r = 0; r < kN; ++r)
            if (has_receptor(p.g_d, r)) p.g_d[r][i] = s.c.dend[r];
        p.v_d[i] = s.v_d;
        p.u_d[i] = s.u_d;
        p.burst[i] = s.burst;
        p.rem_dend[i] = s.rem_d;
        if (with_history) p.history[i] = s.history;
    }
}

// This step's ring slot of every input (raw fixed point), and the slots zeroed.
__device__ __forceinline__ void load_inputs(const InputSet& in, uint32_t n, uint32_t step,
                                            uint32_t i, model::RingCell* raw) {
#pragma unroll
    for (int j = 0; j < kMaxInputs; ++j)
        if (j < in.count)
            raw[j] = in.in[j].ring[static_cast<uint64_t>(step % in.in[j].slots) * n + i];
}

__device__ __forceinline__ void clear_inputs(const InputSet& in, uint32_t n, uint32_t step,
                                             uint32_t i) {
#pragma unroll
    for (int j = 0; j < kMaxInputs; ++j)
        if (j < in.count)
            in.in[j].ring_mut[static_cast<uint64_t>(step % in.in[j].slots) * n + i] = 0;
}

// Phases 2b (arrivals, background), 3 (decay), 4 (dendrite), 5 (soma) of one step, in the CPU
// engine's order. kIn bounds the inputs (in.count <= kIn); kN: the receptors stepped.
template <int kIn, int kN>
__device__ __forceinline__ void step_cell(const PopView& p, const InputSet& in,
                                          const model::RingCell* raw, uint64_t seed, uint32_t step,
                                          uint32_t i, CellState* s) {
#pragma unroll
    for (int j = 0; j < kIn; ++j) {
        if (j >= in.count) break;
        const InputView& x = in.in[j];
        model::add_arrivals<kN>(&s->c, x.dendrite, x.factor,
                                model::from_fixed(raw[j], x.ns_per_fixed));
    }
    // The cell's random-number key: its global id on a rank (read here, once per step, so
    // that no register holds it across a window).
    const uint32_t key = p.gid ? p.gid[i] : i;
    model::add_background(&s->c, p.bg_soma, p.bg_dend, p.has_dendrite, seed, p.index, step, key,
                          &s->rem_s, &s->rem_d);
    model::decay_inputs<kN>(&s->c, p.rc);
    s->g_adapt = model::decay(s->g_adapt, p.adapt_decay);
    s->burst = false;
    if (p.has_dendrite)
        s->burst = model::dendrite_phase<kN>(p.dend, p.rc, p.coupling, s->c, s->history, s->gamma,
                                             s->i_dend, seed, p.index, step, key, &s->v_d, &s->u_d);
    model::SomaConductances gs{};
#pragma unroll
    for (int r = 0; r < kN; ++r) gs.g[r] = s->c.soma[r];
    gs.nmda_bg = s->c.nmda_bg;
    gs.adapt = s->g_adapt;
    model::soma_step<kN>(p.soma, p.rc, gs, p.adapt_E, s->i_soma, &s->v, &s->u);
}

// Phases 2b-5 for one cell, in the CPU engine's order: ring slots and background into the
// conductances, Euler decay, dendrite (BAP, calcium, plateau), soma. With kDetect, phase 1
// (spike test, traces, spike list) first, in the same thread: valid when no projection has a
// delay of 0 steps, so that this step's propagation cannot reach this step's ring slot.
// Every load is issued before the first store: the state arrays are distinct, but the compiler
// cannot know it, and loads behind stores would serialise the memory latency (measured: 25 %
// of bandwidth otherwise).
template <bool kDetect, int kN>
__device__ __forceinline__ void update_cell(const PopView& p, const InputSet& in, uint64_t seed,
                                            uint32_t i) {
    const uint32_t step = *p.step;
    bool spiked = false;
    if (i < p.n) {
        CellState s;
        load_cell<kN>(p, i, kDetect, &s);
        Traces tr;
        if (kDetect) load_traces(p, i, &tr);
        model::RingCell raw[kMaxInputs];
        load_inputs(in, p.n, step, i, raw);
        if (kDetect) spiked = spike_test(p, s.burst, &s.v, &s.u, &s.g_adapt, &s.history);
        step_cell<kMaxInputs, kN>(p, in, raw, seed, step, i, &s);
        clear_inputs(in, p.n, step, i);
        store_cell<kN>(p, i, kDetect, s);
        if (kDetect) store_traces(p, i, tr, spiked);
    }
    if (kDetect) emit_spikes(p, spiked, i, step);
}

template <bool kDetect, int kN>
__global__ void update_cells(PopView p, InputSet in, uint64_t seed) {
    update_cell<kDetect, kN>(p, in, seed, blockIdx.x * blockDim.x + threadIdx.x);
}

// A window of `count` steps (DESIGN.md section 4) for one cell, its state in registers: per
// step phase 1 (spike test, history), then 2b-5; each step's ring slots are read one step ahead.
// Valid when every delay is at least `count` steps: nothing this window emits can arrive in it.
// Writes the cell's spike mask, lists it once in spike_ids if it spiked, records each spike
// with its step, counts the spikes. The STDP traces are left as they were before the window
// (the window's STDP reads them; advance_traces moves them on). kIn: the number of inputs (a
// compile-time bound keeps the ring values in as few registers as the population needs); the
// ring slot of each input advances by one per step (one division per window, not per step).
// At most 80 registers, so that three blocks of 256 fit an SM (measured: 82 registers, two
// blocks, 25 % occupancy and the issue slots 58 % busy otherwise).
// kIn = kMaxInputs serves every count from 5 to 8 (the inputs past in.count are skipped).
// kN: the receptors stepped.
template <int kIn, int kN>
__device__ __forceinline__ void window_cell(const PopView& p, const InputSet& in, uint64_t seed,
                                            uint32_t count, uint32_t i) {
    constexpr bool kExact = kIn < kMaxInputs;  // exactly kIn inputs
    const uint32_t first = *p.step;
    const bool live = i < p.n;
    CellState s;
    model::RingCell raw[kIn > 0 ? kIn : 1];
    uint32_t slot[kIn > 0 ? kIn : 1];
#pragma unroll
    for (int j = 0; j < kIn; ++j) slot[j] = kExact || j < in.count ? first % in.in[j].slots : 0u;
    if (live) {
        load_cell<kN>(p, i, true, &s);
#pragma unroll
        for (int j = 0; j < kIn; ++j)
            if (kExact || j < in.count)
                raw[j] = in.in[j].ring[static_cast<uint64_t>(slot[j]) * p.n + i];
    }
    uint32_t mask = 0;
    for (uint32_t k = 0; k < count; ++k) {
        const uint32_t step = first + k;
        bool spiked = false;
        if (live) {
            model::RingCell cur[kIn > 0 ? kIn : 1];
#pragma unroll
            for (int j = 0; j < kIn; ++j) {
                if (!kExact && j >= in.count) break;
                cur[j] = raw[j];
                in.in[j].ring_mut[static_cast<uint64_t>(slot[j]) * p.n + i] = 0;
                slot[j] = slot[j] + 1 == in.in[j].slots ? 0 : slot[j] + 1;
                if (k + 1 < count) raw[j] = in.in[j].ring[static_cast<uint64_t>(slot[j]) * p.n + i];
            }
            spiked = spike_test(p, s.burst, &s.v, &s.u, &s.g_adapt, &s.history);
            step_cell<kIn, kN>(p, in, cur, seed, step, i, &s);
            mask |= static_cast<uint32_t>(spiked) << k;
        }
        if (p.record_spikes) record_spikes(p, spiked, i, step);
    }
    if (live) {
        store_cell<kN>(p, i, true, s);
        p.spike_mask[i] = mask;
    }
    const long long q = warp_append(mask != 0u, p.spike_count);
    if (q >= 0) p.spike_ids[q] = i;
    // The window's spikes: one atomic per warp.
    unsigned long long spikes = __popc(mask);
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) spikes += __shfl_xor_sync(0xffffffffu, spikes, off);
    if ((threadIdx.x & 31u) == 0 && spikes) atomicAdd(&p.counters[0], spikes);
}

template <int kIn, int kN>
__global__ void __launch_bounds__(kBlock, 4)
    update_window(PopView p, InputSet in, uint64_t seed, uint32_t count) {
    window_cell<kIn, kN>(p, in, seed, count, blockIdx.x * blockDim.x + threadIdx.x);
}

// After a window's STDP: each cell's traces moved through the window with its spike mask
// (model::trace_after, slow_trace_after: what per-step phases 1 and 6 do to them).
__device__ __forceinline__ void traces_cell(const PopView& p, uint32_t count, uint32_t i) {
    if (i >= p.n) return;
    const uint32_t mask = p.spike_mask[i];
#pragma unroll
    for (int k = 0; k < kMaxTraces; ++k) {
        if (k >= p.n_traces) break;
        const TraceView& x = p.traces[k];
        x.fast[i] = model::trace_after(x.rule, x.fast[i], x.decay, mask, count);
        if (x.slow) x.slow[i] = model::slow_trace_after(x.slow[i], x.slow_decay, mask, count);
    }
}

__global__ void advance_traces(PopView p, uint32_t count) {
    traces_cell(p, count, blockIdx.x * blockDim.x + threadIdx.x);
}

// ---- packed replicas: one launch for the populations of many members (TaskList) ----

// The cell of this thread in its task's population.
__device__ __forceinline__ uint32_t task_cell(const uint32_t* __restrict__ first, uint32_t t) {
    return (blockIdx.x - first[t]) * blockDim.x + threadIdx.x;
}

__global__ void detect_tasks(const PopTask* __restrict__ task, const uint32_t* __restrict__ first,
                             uint32_t count) {
    const uint32_t t = task_of(first, count, blockIdx.x);
    detect_cell(task[t].pop, task_cell(first, t));
}

template <int kN>
__global__ void update_tasks(const PopTask* __restrict__ task, const uint32_t* __restrict__ first,
                             uint32_t count) {
    const uint32_t t = task_of(first, count, blockIdx.x);
    update_cell<false, kN>(task[t].pop, task[t].in, task[t].seed, task_cell(first, t));
}

template <int kIn, int kN>
__global__ void __launch_bounds__(kBlock, 4)
    window_tasks(const PopTask* __restrict__ task, const uint32_t* __restrict__ first,
                 uint32_t count, uint32_t steps) {
    const uint32_t t = task_of(first, count, blockIdx.x);
    window_cell<kIn, kN>(task[t].pop, task[t].in, task[t].seed, steps, task_cell(first, t));
}

__global__ void traces_tasks(const PopTask* __restrict__ task, const uint32_t* __restrict__ first,
                             uint32_t count, uint32_t steps) {
    const uint32_t t = task_of(first, count, blockIdx.x);
    traces_cell(task[t].pop, steps, task_cell(first, t));
}

// A background rate change at `step` (model::poisson_rate_change): word 0 soma, 1 dendrite.
__global__ void background_rate_change(float* rem, const uint32_t* gid, uint32_t n,
                                       float lambda_old, float lambda_new, uint64_t seed,
                                       uint32_t stream, uint32_t step, int word) {
    const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        rem[i] = model::poisson_rate_change(rem[i], lambda_old, lambda_new, seed, stream, step,
                                            gid ? gid[i] : i, word);
}

}  // namespace kernel

void detect_spikes(const PopView& pop, cudaStream_t stream) {
    launch(kernel::detect_spikes, stream, pop.n, pop);
}

// Populations with only the core receptors run the kernels built for them (kN =
// kCoreReceptors); those with every receptor, the kernels built for all (the window kernel in its
// form for any number of inputs).
void update_cells(const PopView& pop, const InputSet& inputs, uint64_t seed, bool detect,
                  cudaStream_t stream) {
    constexpr int kCore = model::kCoreReceptors, kAll = model::kReceptorCount;
    if (pop.all_receptors) {
        if (detect) {
            launch(kernel::update_cells<true, kAll>, stream, pop.n, pop, inputs, seed);
        } else {
            launch(kernel::update_cells<false, kAll>, stream, pop.n, pop, inputs, seed);
        }
    } else if (detect) {
        launch(kernel::update_cells<true, kCore>, stream, pop.n, pop, inputs, seed);
    } else {
        launch(kernel::update_cells<false, kCore>, stream, pop.n, pop, inputs, seed);
    }
}

void update_window(const PopView& pop, const InputSet& inputs, uint64_t seed, uint32_t count,
                   cudaStream_t stream) {
    constexpr int kCore = model::kCoreReceptors, kAll = model::kReceptorCount;
    if (pop.all_receptors) {
        launch(kernel::update_window<kMaxInputs, kAll>, stream, pop.n, pop, inputs, seed, count);
        return;
    }
    switch (inputs.count) {
        case 0:
            launch(kernel::update_window<0, kCore>, stream, pop.n, pop, inputs, seed, count);
            break;
        case 1:
            launch(kernel::update_window<1, kCore>, stream, pop.n, pop, inputs, seed, count);
            break;
        case 2:
            launch(kernel::update_window<2, kCore>, stream, pop.n, pop, inputs, seed, count);
            break;
        case 3:
            launch(kernel::update_window<3, kCore>, stream, pop.n, pop, inputs, seed, count);
            break;
        case 4:
            launch(kernel::update_window<4, kCore>, stream, pop.n, pop, inputs, seed, count);
            break;
        default:
            launch(kernel::update_window<kMaxInputs, kCore>, stream, pop.n, pop, inputs, seed,
                   count);
    }
}

void advance_traces(const PopView& pop, uint32_t count, cudaStream_t stream) {
    if (pop.n_traces > 0) launch(kernel::advance_traces, stream, pop.n, pop, count);
}

void background_rate_change(float* rem, const uint32_t* gid, uint32_t n, float lambda_old,
                            float lambda_new, uint64_t seed, uint32_t stream, uint32_t step,
                            int word, cudaStream_t cs) {
    launch(kernel::background_rate_change, cs, n, rem, gid, n, lambda_old, lambda_new, seed, stream,
           step, word);
}

void detect_tasks(const TaskList<PopTask>& l, cudaStream_t stream) {
    launch_tasks(kernel::detect_tasks, l, stream);
}

void update_tasks(const TaskList<PopTask>& l, bool all_receptors, cudaStream_t stream) {
    if (all_receptors) {
        launch_tasks(kernel::update_tasks<model::kReceptorCount>, l, stream);
    } else {
        launch_tasks(kernel::update_tasks<model::kCoreReceptors>, l, stream);
    }
}

void window_tasks(const TaskList<PopTask>& l, int inputs, bool all_receptors, uint32_t steps,
                  cudaStream_t stream) {
    constexpr int kCore = model::kCoreReceptors, kAll = model::kReceptorCount;
    if (all_receptors) {
        launch_tasks(kernel::window_tasks<kMaxInputs, kAll>, l, stream, steps);
        return;
    }
    switch (inputs) {
        case 0:
            launch_tasks(kernel::window_tasks<0, kCore>, l, stream, steps);
            break;
        case 1:
            launch_tasks(kernel::window_tasks<1, kCore>, l, stream, steps);
            break;
        case 2:
            launch_tasks(kernel::window_tasks<2, kCore>, l, stream, steps);
            break;
        case 3:
            launch_tasks(kernel::window_tasks<3, kCore>, l, stream, steps);
            break;
        case 4:
            launch_tasks(kernel::window_tasks<4, kCore>, l, stream, steps);
            break;
        default:
            launch_tasks(kernel::window_tasks<kMaxInputs, kCore>, l, stream, steps);
    }
}

void traces_tasks(const TaskList<PopTask>& l, uint32_t steps, cudaStream_t stream) {
    launch_tasks(kernel::traces_tasks, l, stream, steps);
}

}  // namespace l5sim::cuda
