#pragma once
/// The per-cell phases 1 and 2b-4 of MODEL.md section 5, composed from the model functions once,
/// so the CPU loop and the CUDA kernel (and the isolated-cell check) cannot drift apart.
#include <cstdint>

#include "l5sim/model/dendrite.hpp"
#include "l5sim/model/hd.hpp"
#include "l5sim/model/izhikevich.hpp"
#include "l5sim/model/poisson.hpp"
#include "l5sim/model/rng.hpp"
#include "l5sim/model/synapse.hpp"

namespace l5sim::model {

/// Phase 1 for one cell: spike test and reset (the burst-mode c, d when the previous step's
/// dendrite chose them), the adaptation jump g_adapt += increment on a spike (adapting types),
/// the spike history of the BAP window (types with a dendrite). Returns true on a spike. On
/// locals, so that a loop over cells with constant `has_dendrite` and `adapts` if-converts and
/// vectorises.
L5_HD inline bool spike_phase(const IzhConstants& k, bool has_dendrite, bool adapts, bool burst,
                              float adapt_increment, float* v, float* u, float* g_adapt,
                              uint32_t* history) {
    const bool spiked = soma_reset(k, burst, v, u);
    if (has_dendrite) *history = advance_history(*history, spiked);
    if (adapts && spiked) *g_adapt = *g_adapt + adapt_increment;
    return spiked;
}

/// Synaptic conductances of one cell (nS), indexed by compartment x receptor (model/receptors.hpp;
/// a population steps the first kN receptors, receptors_of), and the soma's background NMDA,
/// its own conductance. The dendrite's are zero for cells without a dendrite.
struct CellInputs {
    float soma[kReceptorCount];
    float nmda_bg;
    float dend[kReceptorCount];
};

/// Phase 2b for one receptor of one compartment: the arrivals `x` (nS, one projection's ring
/// slot) times the projection's factor for the receptor, added to its conductance.
L5_HD inline float receptor_arrival(float g, float factor, float x) { return g + factor * x; }

/// Phase 2b for one cell: receptor_arrival into the first kN receptors of the projection's
/// compartment, `factor` the projection's receptor factors (times its gain).
/// (Each element selected on its own, not a pointer to one of the two arrays: on the device the
/// arrays live in registers only while every index is a constant.)
template <int kN>
L5_HD inline void add_arrivals(CellInputs* c, bool dendrite, const float* factor, float x) {
    L5_UNROLL
    for (int r = 0; r < kN; ++r) {
        if (dendrite) {
            c->dend[r] = receptor_arrival(c->dend[r], factor[r], x);
        } else {
            c->soma[r] = receptor_arrival(c->soma[r], factor[r], x);
        }
    }
}

/// True when a cell's background has an input spike this step (model/poisson.hpp: a source's
/// `rem` below 1 step).
L5_HD inline bool background_arrives(float rem_soma, float rem_dend) {
    return rem_soma < 1.0f || rem_dend < 1.0f;
}

/// One cell's background this step while its arrivals are drawn: the times to the next input
/// spike of the soma and dendrite sources (in steps from the start of this step; `never` without
/// a dendrite) and the input spikes counted so far.
struct BackgroundDraws {
    float rs, rd, ks, kd;
};

/// Draw j = 0 of a cell's background arrivals (see add_background_arrivals), given its two
/// gaps: a source with rem < 1 has an input spike and moves on by its gap. Selects only, so that
/// loops over cells calling it vectorise.
L5_HD inline BackgroundDraws background_first_draw(float rem_soma, float rem_dend, float gap_soma,
                                                   float gap_dend) {
    const bool soma = rem_soma < 1.0f, dend = rem_dend < 1.0f;
    return BackgroundDraws{soma ? rem_soma + gap_soma : rem_soma,
                           dend ? rem_dend + gap_dend : rem_dend, soma ? 1.0f : 0.0f,
                           dend ? 1.0f : 0.0f};
}

/// True when a source still has an input spike this step after the draws so far (rare: two
/// input spikes of one source within a step).
L5_HD inline bool background_more_draws(const BackgroundDraws& b) {
    return background_arrives(b.rs, b.rd);
}

/// Draws j = 1, 2, ... from (background stream of `pop`, step, cell, j) while a source has an
/// input spike this step (after background_first_draw), word 0 for the soma and 1 for the
/// dendrite.
L5_HD inline void background_more(BackgroundDraws* b, const PoissonConstants& soma,
                                  const PoissonConstants& dend, uint64_t seed, uint32_t pop,
                                  uint32_t step, uint32_t id) {
    const uint32_t stream = stream_id(StreamKind::background, pop);
    for (uint32_t j = 1; background_more_draws(*b) && j < 100000u; ++j) {
        const Draw4 r = philox(seed, stream, step, id, j);
        if (b->rs < 1.0f) {
            b->ks = b->ks + 1.0f;
            b->rs = b->rs + exponential_gap(r.v[0], soma.lambda);
        }
        if (b->rd < 1.0f) {
            b->kd = b->kd + 1.0f;
            b->rd = b->rd + exponential_gap(r.v[1], dend.lambda);
        }
    }
}

/// The counted input spikes into the conductances (each adds its weight to AMPA and NMDA; at the
/// soma the background NMDA is its own conductance), and rem counted from the next step.
L5_HD inline void background_apply(CellInputs* c, const BackgroundDraws& b,
                                   const PoissonConstants& soma, const PoissonConstants& dend,
                                   bool has_dendrite, float* rem_soma, float* rem_dend) {
    constexpr int kAmpa = index_of(Receptor::ampa), kNmda = index_of(Receptor::nmda);
    if (b.ks > 0.0f) {
        c->soma[kAmpa] = c->soma[kAmpa] + b.ks * soma.weight_ns;
        c->nmda_bg = c->nmda_bg + b.ks * soma.weight_ns;
    }
    if (b.kd > 0.0f) {
        c->dend[kAmpa] = c->dend[kAmpa] + b.kd * dend.weight_ns;
        c->dend[kNmda] = c->dend[kNmda] + b.kd * dend.weight_ns;
    }
    *rem_soma = b.rs - 1.0f;
    if (has_dendrite) *rem_dend = b.rd - 1.0f;
}

/// Phase 2b for a cell with an input spike this step (background_arrives): spikes with rem < 1
/// arrive now; each draws the gap to the next from (background stream of `pop`, step, cell, j)
/// for the j-th draw of this step, word 0 for the soma and 1 for the dendrite. `first` is draw
/// j = 0, which the caller may have computed in a batch. Each input spike adds its weight to AMPA
/// and NMDA (at the soma the background NMDA is its own conductance). On return rem counts from
/// the next step. `rem_dend` is ignored (and may be null) without a dendrite. The CPU engine runs
/// the same three stages (first draw, more draws, apply) over batches of cells.
L5_HD inline void add_background_arrivals(CellInputs* c, const PoissonConstants& soma,
                                          const PoissonConstants& dend, bool has_dendrite,
                                          uint64_t seed, uint32_t pop, uint32_t step, uint32_t id,
                                          float* rem_soma, float* rem_dend, const Draw4& first) {
    const float rs = *rem_soma;
    const float rd = has_dendrite ? *rem_dend : poisson_never();
    BackgroundDraws b =
        background_first_draw(rs, rd, rs < 1.0f ? exponential_gap(first.v[0], soma.lambda) : 0.0f,
                              rd < 1.0f ? exponential_gap(first.v[1], dend.lambda) : 0.0f);
    background_more(&b, soma, dend, seed, pop, step, id);
    background_apply(c, b, soma, dend, has_dendrite, rem_soma, rem_dend);
}

/// Phase 2b: Poisson background. Two sources per cell (soma; dendrite, pyramidal only), each a
/// renewal process (model/poisson.hpp) whose `rem` is the time in steps from the start of this
/// step to its next input spike. Without an input spike this step only the times count down.
L5_HD inline void add_background(CellInputs* c, const PoissonConstants& soma,
                                 const PoissonConstants& dend, bool has_dendrite, uint64_t seed,
                                 uint32_t pop, uint32_t step, uint32_t id, float* rem_soma,
                                 float* rem_dend) {
    const float rd = has_dendrite ? *rem_dend : poisson_never();
    if (!background_arrives(*rem_soma, rd)) {
        *rem_soma = *rem_soma - 1.0f;
        if (has_dendrite) *rem_dend = rd - 1.0f;
        return;
    }
    add_background_arrivals(c, soma, dend, has_dendrite, seed, pop, step, id, rem_soma, rem_dend,
                            philox(seed, stream_id(StreamKind::background, pop), step, id, 0));
}

/// Phase 3: one Euler decay of every synaptic conductance (the first kN receptors).
template <int kN>
L5_HD inline void decay_inputs(CellInputs* c, const ReceptorConstants& rc) {
    L5_UNROLL
    for (int r = 0; r < kN; ++r) {
        c->soma[r] = decay(c->soma[r], rc.decay[r]);
        c->dend[r] = decay(c->dend[r], rc.decay[r]);
    }
    c->nmda_bg = decay(c->nmda_bg, rc.decay[index_of(Receptor::nmda)]);
}

/// Phase 4 for one PYR cell: BAP current (window from the spike history; a gamma draw in
/// stochastic mode), the dendrite's Euler step, then the plateau test that selects burst-mode
/// c, d for the next reset (returned). The coupling stream (word 0 BAP, word 1 plateau) is drawn
/// only when a draw can matter: counter-based numbers make skipping a draw change nothing.
template <int kN>
L5_HD inline bool dendrite_phase(const DendriteConstants& k, const ReceptorConstants& rc,
                                 Coupling mode, const CellInputs& c, uint32_t history, float gamma,
                                 float i_ext_pA, uint64_t seed, uint32_t pop, uint32_t step,
                                 uint32_t id, float* v_d, float* u_d) {
    const bool stochastic = mode == Coupling::stochastic;
    const uint32_t stream = stream_id(StreamKind::coupling, pop);
    Draw4 r{{0, 0, 0, 0}};
    const bool drawn = stochastic && (bap_window_open(k, history) || *v_d >= k.theta_ca);
    if (drawn) r = philox(seed, stream, step, id);
    const float bap = bap_current(k, mode, history, gamma, u01(r.v[0]));
    DendriteConductances g{};
    L5_UNROLL
    for (int r = 0; r < kN; ++r) g.g[r] = c.dend[r];
    dendrite_step<kN>(k, rc, g, bap, i_ext_pA, v_d, u_d);
    if (stochastic && !drawn && *v_d >= k.theta_ca) r = philox(seed, stream, step, id);
    return plateau_burst(k, mode, *v_d, gamma, u01(r.v[1]));
}

}  // namespace l5sim::model
