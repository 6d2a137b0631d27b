// Thread mapping: one thread per cell. Writes are per cell; the only atomics are the integer
// spike counters and one per warp with spikes for the spike list.
#include "launch.cuh"
#include "l5sim/model/cell_step.hpp"
#include "l5sim/model/rng.hpp"
#include "update.hpp"

namespace l5sim::cuda {

namespace kernel {

// This step's spikes of one warp appended to the population's spike list with one atomic
// (warp-aggregated; the list is in no particular order) and, when recording, to the record.
// Every lane of the warp must call it (threads past the last cell with spiked = false).
__device__ __forceinline__ void emit_spikes(const PopView& p, bool spiked, uint32_t i,
                                            uint32_t step) {
    const unsigned mask = __ballot_sync(0xffffffffu, spiked);
    if (mask == 0) return;
    const unsigned lane = threadIdx.x & 31u;
    const int leader = __ffs(static_cast<int>(mask)) - 1;
    int base = 0;
    if (lane == static_cast<unsigned>(leader)) base = atomicAdd(p.spike_count, __popc(mask));
    base = __shfl_sync(0xffffffffu, base, leader);
    if (!spiked) return;
    const int q = base + __popc(mask & ((1u << lane) - 1u));
    p.spike_ids[q] = i;
    if (p.record_spikes) {
        const unsigned long long at = *p.record_count + static_cast<unsigned long long>(q);
        if (at < p.record_capacity) p.record[at] = SpikeEvent{step, i};
    }
}

// Phase 1 on loaded values: spike test and reset with the c, d chosen in the previous step,
// BAP history, g_adapt, the calcium-spike counter. Interneurons keep no history.
__device__ __forceinline__ bool spike_test(const PopView& p, bool burst, float* v, float* u,
                                           float* g_adapt, uint32_t* history) {
    const bool spiked = model::soma_reset(p.soma, burst, v, u);
    if (p.pyramidal) {
        *history = model::advance_history(*history, spiked);
        if (spiked) {
            *g_adapt = *g_adapt + p.adapt_increment;
            if (burst) atomicAdd(&p.counters[1], 1ull);
        }
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

// Phase 1 alone (when a projection has a delay of 0 steps, or when profiling).
__global__ void detect_spikes(PopView p) {
    const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    const uint32_t step = *p.step;
    bool spiked = false;
    if (i < p.n) {
        const bool burst = p.pyramidal && p.burst[i];
        float v = p.v[i], u = p.u[i];
        float g_adapt = p.pyramidal ? p.g_adapt[i] : 0.0f;
        uint32_t history = p.pyramidal ? p.history[i] : 0u;
        Traces tr;
        load_traces(p, i, &tr);
        spiked = spike_test(p, burst, &v, &u, &g_adapt, &history);
        if (p.pyramidal) p.history[i] = history;
        if (spiked) {
            p.v[i] = v;
            p.u[i] = u;
            if (p.pyramidal) p.g_adapt[i] = g_adapt;
        }
        store_traces(p, i, tr, spiked);
    }
    emit_spikes(p, spiked, i, step);
}

// Phases 2b-5 for one cell, in the CPU engine's order: ring slots and background into the
// conductances, Euler decay, dendrite (BAP, calcium, plateau), soma. With kDetect, phase 1
// (spike test, traces, spike list) first, in the same thread: valid when no projection has a
// delay of 0 steps, so that this step's propagation cannot reach this step's ring slot.
// Every load is issued before the first store: the state arrays are distinct, but the compiler
// cannot know it, and loads behind stores would serialise the memory latency (measured: 25 %
// of bandwidth otherwise).
template <bool kDetect>
__global__ void update_cells(PopView p, InputSet in, uint64_t seed) {
    const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    const uint32_t step = *p.step;
    bool spiked = false;
    if (i < p.n) {
        // ---- loads
        model::CellInputs c{p.g_ampa[i], p.g_nmda[i], p.g_nmda_bg[i], p.g_gaba[i], 0, 0, 0};
        float g_adapt = p.g_adapt[i];
        float v = p.v[i], u = p.u[i];
        const float i_soma = p.i_ext[i];
        float rem_s = p.rem_soma[i], rem_d = 0;
        float v_d = 0, u_d = 0, gamma = 0, i_dend = 0;
        uint32_t history = 0;
        bool burst_prev = false;
        if (p.pyramidal) {
            c.gad = p.g_ampa_d[i];
            c.gnd = p.g_nmda_d[i];
            c.ggd = p.g_gaba_d[i];
            v_d = p.v_d[i];
            rem_d = p.rem_dend[i];
            u_d = p.u_d[i];
            gamma = p.gamma[i];
            i_dend = p.i_ext_d[i];
            history = p.history[i];
            if (kDetect) burst_prev = p.burst[i];
        }
        Traces tr;
        if (kDetect) load_traces(p, i, &tr);
        unsigned long long raw[kMaxInputs];
#pragma unroll
        for (int j = 0; j < kMaxInputs; ++j)
            if (j < in.count)
                raw[j] = in.in[j].ring[static_cast<uint64_t>(step % in.in[j].slots) * p.n + i];
        // ---- phase 1 (fused), then 2b (arrivals, background), 3 (decay), 4 (dendrite), 5 (soma)
        if (kDetect) spiked = spike_test(p, burst_prev, &v, &u, &g_adapt, &history);
#pragma unroll
        for (int j = 0; j < kMaxInputs; ++j) {
            if (j >= in.count) break;
            const InputView& x = in.in[j];
            model::add_arrivals(&c, x.dendrite, x.f_ampa, x.f_nmda, x.f_gaba,
                                model::from_fixed(static_cast<int64_t>(raw[j])));
        }
        model::add_background(&c, p.bg_soma, p.bg_dend, p.pyramidal, seed, p.index, step, i,
                              &rem_s, &rem_d);
        model::decay_inputs(&c, p.rc);
        const float gadapt = model::decay(g_adapt, p.adapt_decay);
        bool burst = false;
        if (p.pyramidal)
            burst = model::dendrite_phase(p.dend, p.rc, p.coupling, c, history, gamma, i_dend,
                                          seed, p.index, step, i, &v_d, &u_d);
        const model::SomaConductances gs{c.ga, c.gn, c.gnb, c.gg, gadapt};
        model::soma_step(p.soma, p.rc, gs, p.adapt_E, i_soma, &v, &u);
        // ---- stores
#pragma unroll
        for (int j = 0; j < kMaxInputs; ++j)
            if (j < in.count)
                in.in[j].ring_mut[static_cast<uint64_t>(step % in.in[j].slots) * p.n + i] = 0;
        p.g_ampa[i] = c.ga;
        p.g_nmda[i] = c.gn;
        p.g_nmda_bg[i] = c.gnb;
        p.g_gaba[i] = c.gg;
        p.g_adapt[i] = gadapt;
        p.rem_soma[i] = rem_s;
        p.v[i] = v;
        p.u[i] = u;
        if (p.pyramidal) {
            p.g_ampa_d[i] = c.gad;
            p.g_nmda_d[i] = c.gnd;
            p.g_gaba_d[i] = c.ggd;
            p.v_d[i] = v_d;
            p.u_d[i] = u_d;
            p.burst[i] = burst;
            p.rem_dend[i] = rem_d;
            if (kDetect) p.history[i] = history;
        }
        if (kDetect) store_traces(p, i, tr, spiked);
    }
    if (kDetect) emit_spikes(p, spiked, i, step);
}

// A background rate change at `step` (model::poisson_rate_change): word 0 soma, 1 dendrite.
__global__ void background_rate_change(float* rem, uint32_t n, float lambda_old, float lambda_new,
                                       uint64_t seed, uint32_t stream, uint32_t step, int word) {
    const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        rem[i] = model::poisson_rate_change(rem[i], lambda_old, lambda_new, seed, stream, step, i,
                                            word);
}

template <class T>
__global__ void gather(const T* src, const uint32_t* cells, uint32_t n, float* out) {
    const uint32_t k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k < n) out[k] = static_cast<float>(src[cells[k]]);
}

}  // namespace kernel

void detect_spikes(const PopView& pop, cudaStream_t stream) {
    launch(kernel::detect_spikes, stream, pop.n, pop);
}

void update_cells(const PopView& pop, const InputSet& inputs, uint64_t seed, bool detect,
                  cudaStream_t stream) {
    if (detect) {
        launch(kernel::update_cells<true>, stream, pop.n, pop, inputs, seed);
    } else {
        launch(kernel::update_cells<false>, stream, pop.n, pop, inputs, seed);
    }
}

void background_rate_change(float* rem, uint32_t n, float lambda_old, float lambda_new,
                            uint64_t seed, uint32_t stream, uint32_t step, int word,
                            cudaStream_t cs) {
    launch(kernel::background_rate_change, cs, n, rem, n, lambda_old, lambda_new, seed, stream,
           step, word);
}

void gather(const float* src, const uint32_t* cells, uint32_t n, float* out, cudaStream_t stream) {
    launch(kernel::gather<float>, stream, n, src, cells, n, out);
}

void gather(const uint8_t* src, const uint32_t* cells, uint32_t n, float* out,
            cudaStream_t stream) {
    launch(kernel::gather<uint8_t>, stream, n, src, cells, n, out);
}

}  // namespace l5sim::cuda
