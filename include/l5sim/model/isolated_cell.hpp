#pragma once
/// One isolated PYR cell (soma + dendrite, Poisson background, constant currents) stepped in the
/// order of MODEL.md section 5. It composes the shared functions exactly as the engines do, so
/// it is the unit both the CPU and the device are checked on, bit for bit.
#include <cstdint>

#include "l5sim/model/dendrite.hpp"
#include "l5sim/model/izhikevich.hpp"
#include "l5sim/model/poisson.hpp"
#include "l5sim/model/rng.hpp"
#include "l5sim/model/synapse.hpp"

namespace l5sim::model {

struct IsolatedCellSetup {
    IzhConstants soma;
    DendriteConstants dend;
    ReceptorConstants rc;
    PoissonConstants bg_soma, bg_dend;
    Coupling coupling;
    float gamma;
    float adapt_increment, adapt_decay, adapt_E;
    float i_soma_pA, i_dend_pA;
    uint64_t seed;
};

struct IsolatedCellState {
    float v, u, v_d, u_d;
    float g_ampa, g_nmda_bg, g_adapt, g_ampa_d, g_nmda_d;
    uint32_t history;
    uint8_t burst;
};

/// Advance one step; returns 1 on a somatic spike (2 if it was fired in burst mode).
L5_HD inline int isolated_cell_step(const IsolatedCellSetup& s, IsolatedCellState* c, uint32_t id,
                                    uint32_t step) {
    const bool burst = c->burst != 0;
    const bool spiked = soma_reset(s.soma, burst, &c->v, &c->u);
    c->history = advance_history(c->history, spiked);
    if (spiked) c->g_adapt = c->g_adapt + s.adapt_increment;
    const Draw4 bg = philox(s.seed, stream_id(StreamKind::background, 0), step, id);
    const float ks = static_cast<float>(poisson_count(s.bg_soma, u01(bg.v[0])));
    const float kd = static_cast<float>(poisson_count(s.bg_dend, u01(bg.v[1])));
    c->g_ampa = decay(c->g_ampa + ks * s.bg_soma.weight_ns, s.rc.decay_ampa);
    c->g_nmda_bg = decay(c->g_nmda_bg + ks * s.bg_soma.weight_ns, s.rc.decay_nmda);
    c->g_adapt = decay(c->g_adapt, s.adapt_decay);
    c->g_ampa_d = decay(c->g_ampa_d + kd * s.bg_dend.weight_ns, s.rc.decay_ampa);
    c->g_nmda_d = decay(c->g_nmda_d + kd * s.bg_dend.weight_ns, s.rc.decay_nmda);
    const Draw4 r = philox(s.seed, stream_id(StreamKind::coupling, 0), step, id);
    const float bap = bap_current(s.dend, s.coupling, c->history, s.gamma, u01(r.v[0]));
    const DendriteConductances gd{c->g_ampa_d, c->g_nmda_d, 0.0f};
    dendrite_step(s.dend, s.rc, gd, bap, s.i_dend_pA, &c->v_d, &c->u_d);
    c->burst = plateau_burst(s.dend, s.coupling, c->v_d, s.gamma, u01(r.v[1])) ? 1 : 0;
    const SomaConductances gs{c->g_ampa, 0.0f, c->g_nmda_bg, 0.0f, c->g_adapt};
    soma_step(s.soma, s.rc, gs, s.adapt_E, s.i_soma_pA, &c->v, &c->u);
    return spiked ? (burst ? 2 : 1) : 0;
}

}  // namespace l5sim::model
