// Thread mapping: one thread per cell (or per trace). Writes are per cell; the only atomics are
// the integer spike counters.
#include "launch.cuh"
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
    float ga = p.g_ampa[i], gn = p.g_nmda[i], gnb = p.g_nmda_bg[i], gg = p.g_gaba[i];
    const float g_adapt = p.g_adapt[i];
    float v = p.v[i], u = p.u[i];
    const float i_soma = p.i_ext[i];
    float gad = 0, gnd = 0, ggd = 0, v_d = 0, u_d = 0, gamma = 0, i_dend = 0;
    uint32_t history = 0;
    if (p.pyramidal) {
        gad = p.g_ampa_d[i];
        gnd = p.g_nmda_d[i];
        ggd = p.g_gaba_d[i];
        v_d = p.v_d[i];
        u_d = p.u_d[i];
        gamma = p.gamma[i];
        i_dend = p.i_ext_d[i];
        history = p.history[i];
    }
    unsigned long long raw[kMaxInputs];
#pragma unroll
    for (int j = 0; j < kMaxInputs; ++j)
        if (j < in.count) raw[j] = in.in[j].ring[static_cast<uint64_t>(step % in.in[j].slots) * p.n + i];
    // ---- phase 2b: arrivals, background
#pragma unroll
    for (int j = 0; j < kMaxInputs; ++j) {
        if (j >= in.count) break;
        const InputView& x = in.in[j];
        const float g = model::from_fixed(static_cast<int64_t>(raw[j]));
        if (!x.dendrite) {
            ga = ga + x.f_ampa * g;
            gn = gn + x.f_nmda * g;
            gg = gg + x.f_gaba * g;
        } else {
            gad = gad + x.f_ampa * g;
            gnd = gnd + x.f_nmda * g;
            ggd = ggd + x.f_gaba * g;
        }
    }
    if (p.bg_soma.lambda > 0 || p.bg_dend.lambda > 0) {
        const model::Draw4 r =
            model::philox(seed, model::stream_id(model::StreamKind::background, p.index), step, i);
        if (p.bg_soma.lambda > 0) {
            const float k = static_cast<float>(model::poisson_count(p.bg_soma, model::u01(r.v[0])));
            ga = ga + k * p.bg_soma.weight_ns;
            gnb = gnb + k * p.bg_soma.weight_ns;
        }
        if (p.pyramidal && p.bg_dend.lambda > 0) {
            const float k = static_cast<float>(model::poisson_count(p.bg_dend, model::u01(r.v[1])));
            gad = gad + k * p.bg_dend.weight_ns;
            gnd = gnd + k * p.bg_dend.weight_ns;
        }
    }
    // ---- phase 3: decay
    ga = model::decay(ga, p.rc.decay_ampa);
    gn = model::decay(gn, p.rc.decay_nmda);
    gnb = model::decay(gnb, p.rc.decay_nmda);
    gg = model::decay(gg, p.rc.decay_gaba);
    const float gadapt = model::decay(g_adapt, p.adapt_decay);
    bool burst = false;
    if (p.pyramidal) {
        gad = model::decay(gad, p.rc.decay_ampa);
        gnd = model::decay(gnd, p.rc.decay_nmda);
        ggd = model::decay(ggd, p.rc.decay_gaba);
        // ---- phase 4: dendrite
        const bool stochastic = p.coupling == model::Coupling::stochastic;
        const bool window = model::bap_window_open(p.dend, history);
        model::Draw4 r{{0, 0, 0, 0}};
        const bool need_draw = stochastic && (window || v_d >= p.dend.theta_ca);
        const uint32_t cs = model::stream_id(model::StreamKind::coupling, p.index);
        if (need_draw) r = model::philox(seed, cs, step, i);
        const float bap = model::bap_current(p.dend, p.coupling, history, gamma, model::u01(r.v[0]));
        const model::DendriteConductances g{gad, gnd, ggd};
        model::dendrite_step(p.dend, p.rc, g, bap, i_dend, &v_d, &u_d);
        if (v_d >= p.dend.theta_ca && stochastic && !need_draw) r = model::philox(seed, cs, step, i);
        burst = model::plateau_burst(p.dend, p.coupling, v_d, gamma, model::u01(r.v[1]));
    }
    // ---- phase 5: soma
    const model::SomaConductances gs{ga, gn, gnb, gg, gadapt};
    model::soma_step(p.soma, p.rc, gs, p.adapt_E, i_soma, &v, &u);
    // ---- stores
#pragma unroll
    for (int j = 0; j < kMaxInputs; ++j)
        if (j < in.count) in.in[j].ring_mut[static_cast<uint64_t>(step % in.in[j].slots) * p.n + i] = 0;
    p.g_ampa[i] = ga;
    p.g_nmda[i] = gn;
    p.g_nmda_bg[i] = gnb;
    p.g_gaba[i] = gg;
    p.g_adapt[i] = gadapt;
    p.v[i] = v;
    p.u[i] = u;
    if (p.pyramidal) {
        p.g_ampa_d[i] = gad;
        p.g_nmda_d[i] = gnd;
        p.g_gaba_d[i] = ggd;
        p.v_d[i] = v_d;
        p.u_d[i] = u_d;
        p.burst[i] = burst;
    }
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

}  // namespace kernel

void detect_spikes(const PopView& pop, cudaStream_t stream) {
    launch(kernel::detect_spikes, stream, pop.n, pop);
}

void update_cells(const PopView& pop, const InputSet& inputs, uint64_t seed, cudaStream_t stream) {
    launch(kernel::update_cells, stream, pop.n, pop, inputs, seed);
}

void step_traces(const ProjView& proj, const uint8_t* src_spiked, const uint8_t* tgt_spiked,
                 cudaStream_t stream) {
    launch(kernel::step_traces, stream, proj.n_src > proj.n_tgt ? proj.n_src : proj.n_tgt, proj,
           src_spiked, tgt_spiked);
}

void advance_step(uint32_t* step, cudaStream_t stream) {
    kernel::advance_step<<<1, 1, 0, stream>>>(step);
    check_launch("advance_step", stream);
}

}  // namespace l5sim::cuda
