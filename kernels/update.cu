// Thread mapping: one thread per cell (or per trace). Writes are per cell; the only atomics are
// the integer spike counters.
#include "launch.cuh"
#include "l5sim/model/cell_step.hpp"
#include "l5sim/model/rng.hpp"
#include "update.hpp"

namespace l5sim::cuda {

namespace kernel {

// Phase 1: spike test and reset with the c, d chosen in the previous step; BAP history; g_adapt.
__global__ void detect_spikes(PopView p) {
    const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= p.n) return;
    const bool burst = p.pyramidal && p.burst[i];
    float v = p.v[i], u = p.u[i];
    const bool spiked = model::soma_reset(p.soma, burst, &v, &u);
    p.spiked[i] = spiked;
    if (!p.pyramidal) {
        if (spiked) {
            p.v[i] = v;
            p.u[i] = u;
        }
        return;
    }
    p.history[i] = model::advance_history(p.history[i], spiked);
    if (spiked) {
        p.v[i] = v;
        p.u[i] = u;
        p.g_adapt[i] = p.g_adapt[i] + p.adapt_increment;
        if (burst) atomicAdd(&p.counters[1], 1ull);
    }
}

// Phases 2b-5 for one cell, in the CPU engine's order: ring slots and background into the
// conductances, Euler decay, dendrite (BAP, calcium, plateau), soma. Every load is issued before
// the first store: the state arrays are distinct, but the compiler cannot know it, and loads
// behind stores would serialise the memory latency (measured: 25 % of bandwidth otherwise).
__global__ void update_cells(PopView p, InputSet in, uint64_t seed) {
    const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= p.n) return;
    const uint32_t step = *p.step;
    // ---- loads
    model::CellInputs c{p.g_ampa[i], p.g_nmda[i], p.g_nmda_bg[i], p.g_gaba[i], 0, 0, 0};
    const float g_adapt = p.g_adapt[i];
    float v = p.v[i], u = p.u[i];
    const float i_soma = p.i_ext[i];
    float rem_s = p.rem_soma[i], rem_d = 0;
    float v_d = 0, u_d = 0, gamma = 0, i_dend = 0;
    uint32_t history = 0;
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
    }
    unsigned long long raw[kMaxInputs];
#pragma unroll
    for (int j = 0; j < kMaxInputs; ++j)
        if (j < in.count) raw[j] = in.in[j].ring[static_cast<uint64_t>(step % in.in[j].slots) * p.n + i];
    // ---- phases 2b (arrivals, background), 3 (decay), 4 (dendrite), 5 (soma)
#pragma unroll
    for (int j = 0; j < kMaxInputs; ++j) {
        if (j >= in.count) break;
        const InputView& x = in.in[j];
        model::add_arrivals(&c, x.dendrite, x.f_ampa, x.f_nmda, x.f_gaba,
                            model::from_fixed(static_cast<int64_t>(raw[j])));
    }
    model::add_background(&c, p.bg_soma, p.bg_dend, p.pyramidal, seed, p.index, step, i, &rem_s,
                          &rem_d);
    model::decay_inputs(&c, p.rc);
    const float gadapt = model::decay(g_adapt, p.adapt_decay);
    bool burst = false;
    if (p.pyramidal)
        burst = model::dendrite_phase(p.dend, p.rc, p.coupling, c, history, gamma, i_dend, seed,
                                      p.index, step, i, &v_d, &u_d);
    const model::SomaConductances gs{c.ga, c.gn, c.gnb, c.gg, gadapt};
    model::soma_step(p.soma, p.rc, gs, p.adapt_E, i_soma, &v, &u);
    // ---- stores
#pragma unroll
    for (int j = 0; j < kMaxInputs; ++j)
        if (j < in.count) in.in[j].ring_mut[static_cast<uint64_t>(step % in.in[j].slots) * p.n + i] = 0;
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
    }
}

// A background rate change at `step` (model::poisson_rate_change): word 0 soma, 1 dendrite.
__global__ void background_rate_change(float* rem, uint32_t n, float lambda_old, float lambda_new,
                                       uint64_t seed, uint32_t stream, uint32_t step, int word) {
    const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        rem[i] = model::poisson_rate_change(rem[i], lambda_old, lambda_new, seed, stream, step, i,
                                            word);
}

__global__ void step_traces(ProjView pj, const uint8_t* src_spiked, const uint8_t* tgt_spiked) {
    const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    const bool triplet = pj.stdp.rule == model::StdpRule::triplet;
    if (i < pj.n_src) {
        pj.x[i] = model::trace_step(pj.stdp.rule, pj.x[i], pj.stdp.decay_plus, src_spiked[i]);
        if (triplet) pj.r2[i] = pj.r2[i] * pj.stdp.decay_x;
    }
    if (i < pj.n_tgt) {
        pj.y[i] = model::trace_step(pj.stdp.rule, pj.y[i], pj.stdp.decay_minus, tgt_spiked[i]);
        if (triplet) pj.o2[i] = pj.o2[i] * pj.stdp.decay_y;
    }
}

__global__ void advance_step(uint32_t* step) { *step = *step + 1; }

template <class T>
__global__ void gather(const T* src, const uint32_t* cells, uint32_t n, float* out) {
    const uint32_t k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k < n) out[k] = static_cast<float>(src[cells[k]]);
}

}  // namespace kernel

void detect_spikes(const PopView& pop, cudaStream_t stream) {
    launch(kernel::detect_spikes, stream, pop.n, pop);
}

void update_cells(const PopView& pop, const InputSet& inputs, uint64_t seed, cudaStream_t stream) {
    launch(kernel::update_cells, stream, pop.n, pop, inputs, seed);
}

void background_rate_change(float* rem, uint32_t n, float lambda_old, float lambda_new,
                            uint64_t seed, uint32_t stream, uint32_t step, int word,
                            cudaStream_t cs) {
    launch(kernel::background_rate_change, cs, n, rem, n, lambda_old, lambda_new, seed, stream,
           step, word);
}

void step_traces(const ProjView& proj, const uint8_t* src_spiked, const uint8_t* tgt_spiked,
                 cudaStream_t stream) {
    launch(kernel::step_traces, stream, proj.n_src > proj.n_tgt ? proj.n_src : proj.n_tgt, proj,
           src_spiked, tgt_spiked);
}

void gather(const float* src, const uint32_t* cells, uint32_t n, float* out, cudaStream_t stream) {
    launch(kernel::gather<float>, stream, n, src, cells, n, out);
}

void gather(const uint8_t* src, const uint32_t* cells, uint32_t n, float* out,
            cudaStream_t stream) {
    launch(kernel::gather<uint8_t>, stream, n, src, cells, n, out);
}

void advance_step(uint32_t* step, cudaStream_t stream) {
    kernel::advance_step<<<1, 1, 0, stream>>>(step);
    check_launch("advance_step", stream);
}

}  // namespace l5sim::cuda
