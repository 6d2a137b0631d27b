#pragma once
/// One isolated PYR cell (soma + dendrite, Poisson background, constant currents) stepped in the
/// order of MODEL.md section 5. It composes the shared functions exactly as the engines do, so
/// it is the unit both the CPU and the device are checked on, bit for bit.
#include <cstdint>

#include "l5sim/model/cell_step.hpp"
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
    float rem_soma, rem_dend;  // background: steps to the next input spike (model/poisson.hpp)
    uint32_t history;
    uint8_t burst;
};

/// The state at the start of a run (v = v_r, u = 0, dendrite at E_Ld; background sources started
/// at step 0 with the draws an engine makes for population 0, cell `id`).
L5_HD inline IsolatedCellState isolated_cell_start(const IsolatedCellSetup& s, float v_r,
                                                   float E_Ld, uint32_t id) {
    const uint32_t stream = stream_id(StreamKind::background, 0);
    return IsolatedCellState{v_r,
                             0.0f,
                             E_Ld,
                             0.0f,
                             0.0f,
                             0.0f,
                             0.0f,
                             0.0f,
                             0.0f,
                             poisson_start(s.bg_soma.lambda, s.seed, stream, 0, id, 0),
                             poisson_start(s.bg_dend.lambda, s.seed, stream, 0, id, 1),
                             0u,
                             0};
}

/// Advance one step; returns 1 on a somatic spike (2 if it was fired in burst mode).
L5_HD inline int isolated_cell_step(const IsolatedCellSetup& s, IsolatedCellState* c, uint32_t id,
                                    uint32_t step) {
    const bool burst = c->burst != 0;
    const bool spiked = soma_reset(s.soma, burst, &c->v, &c->u);
    c->history = advance_history(c->history, spiked);
    if (spiked) c->g_adapt = c->g_adapt + s.adapt_increment;
    constexpr int kAmpa = index_of(Receptor::ampa), kNmda = index_of(Receptor::nmda);
    constexpr int kN = kCoreReceptors;
    CellInputs in{};
    in.soma[kAmpa] = c->g_ampa;
    in.nmda_bg = c->g_nmda_bg;
    in.dend[kAmpa] = c->g_ampa_d;
    in.dend[kNmda] = c->g_nmda_d;
    add_background(&in, s.bg_soma, s.bg_dend, true, s.seed, 0, step, id, &c->rem_soma,
                   &c->rem_dend);
    decay_inputs<kN>(&in, s.rc);
    c->g_ampa = in.soma[kAmpa];
    c->g_nmda_bg = in.nmda_bg;
    c->g_ampa_d = in.dend[kAmpa];
    c->g_nmda_d = in.dend[kNmda];
    c->g_adapt = decay(c->g_adapt, s.adapt_decay);
    c->burst = dendrite_phase<kN>(s.dend, s.rc, s.coupling, in, c->history, s.gamma, s.i_dend_pA,
                                  s.seed, 0, step, id, &c->v_d, &c->u_d)
                   ? 1
                   : 0;
    SomaConductances gs{};
    gs.g[kAmpa] = c->g_ampa;
    gs.nmda_bg = c->g_nmda_bg;
    gs.adapt = c->g_adapt;
    soma_step<kN>(s.soma, s.rc, gs, s.adapt_E, s.i_soma_pA, &c->v, &c->u);
    return spiked ? (burst ? 2 : 1) : 0;
}

}  // namespace l5sim::model
