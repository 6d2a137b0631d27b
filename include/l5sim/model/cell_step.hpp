#pragma once
/// The per-cell phases 2b-4 of MODEL.md section 5, composed from the model functions once, so the
/// CPU loop and the CUDA kernel (and the isolated-cell check) cannot drift apart.
#include <cstdint>

#include "l5sim/model/dendrite.hpp"
#include "l5sim/model/hd.hpp"
#include "l5sim/model/poisson.hpp"
#include "l5sim/model/rng.hpp"
#include "l5sim/model/synapse.hpp"

namespace l5sim::model {

/// Synaptic conductances of one cell (nS): soma AMPA, NMDA, background NMDA, GABA_A; dendrite
/// AMPA, NMDA, GABA_A (zero for cells without a dendrite).
struct CellInputs {
    float ga, gn, gnb, gg, gad, gnd, ggd;
};

/// Phase 2b: the arrivals `g` (nS, one projection's ring slot) times its receptor factors.
L5_HD inline void add_arrivals(CellInputs* c, bool dendrite, float f_ampa, float f_nmda,
                               float f_gaba, float g) {
    if (!dendrite) {
        c->ga = c->ga + f_ampa * g;
        c->gn = c->gn + f_nmda * g;
        c->gg = c->gg + f_gaba * g;
    } else {
        c->gad = c->gad + f_ampa * g;
        c->gnd = c->gnd + f_nmda * g;
        c->ggd = c->ggd + f_gaba * g;
    }
}

/// True when a population's background needs this step's draw (any source with a rate).
L5_HD inline bool background_drawn(const PoissonConstants& soma, const PoissonConstants& dend,
                                   bool has_dendrite) {
    return soma.lambda > 0 || (has_dendrite && dend.lambda > 0);
}

/// Phase 2b from this cell's draw words (w0 soma, w1 dendrite): each input spike adds its weight
/// to AMPA and NMDA (at the soma the background NMDA is its own conductance).
L5_HD inline void add_background_words(CellInputs* c, const PoissonConstants& soma,
                                       const PoissonConstants& dend, bool has_dendrite,
                                       uint32_t w0, uint32_t w1) {
    if (soma.lambda > 0) {
        const float k = static_cast<float>(poisson_count(soma, u01(w0)));
        c->ga = c->ga + k * soma.weight_ns;
        c->gnb = c->gnb + k * soma.weight_ns;
    }
    if (has_dendrite && dend.lambda > 0) {
        const float k = static_cast<float>(poisson_count(dend, u01(w1)));
        c->gad = c->gad + k * dend.weight_ns;
        c->gnd = c->gnd + k * dend.weight_ns;
    }
}

/// Phase 2b: Poisson background. Draws (background stream of `pop`, step, cell): word 0 soma,
/// word 1 dendrite.
L5_HD inline void add_background(CellInputs* c, const PoissonConstants& soma,
                                 const PoissonConstants& dend, bool has_dendrite, uint64_t seed,
                                 uint32_t pop, uint32_t step, uint32_t id) {
    if (!background_drawn(soma, dend, has_dendrite)) return;
    const Draw4 r = philox(seed, stream_id(StreamKind::background, pop), step, id);
    add_background_words(c, soma, dend, has_dendrite, r.v[0], r.v[1]);
}

/// Phase 3: one Euler decay of every synaptic conductance.
L5_HD inline void decay_inputs(CellInputs* c, const ReceptorConstants& rc) {
    c->ga = decay(c->ga, rc.decay_ampa);
    c->gn = decay(c->gn, rc.decay_nmda);
    c->gnb = decay(c->gnb, rc.decay_nmda);
    c->gg = decay(c->gg, rc.decay_gaba);
    c->gad = decay(c->gad, rc.decay_ampa);
    c->gnd = decay(c->gnd, rc.decay_nmda);
    c->ggd = decay(c->ggd, rc.decay_gaba);
}

/// Phase 4 for one PYR cell: BAP current (window from the spike history; a gamma draw in
/// stochastic mode), the dendrite's Euler step, then the plateau test that selects burst-mode
/// c, d for the next reset (returned). The coupling stream (word 0 BAP, word 1 plateau) is drawn
/// only when a draw can matter: counter-based numbers make skipping a draw change nothing.
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
    const DendriteConductances g{c.gad, c.gnd, c.ggd};
    dendrite_step(k, rc, g, bap, i_ext_pA, v_d, u_d);
    if (stochastic && !drawn && *v_d >= k.theta_ca) r = philox(seed, stream, step, id);
    return plateau_burst(k, mode, *v_d, gamma, u01(r.v[1]));
}

}  // namespace l5sim::model
