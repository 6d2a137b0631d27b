#pragma once
/// The PYR apical dendrite (MODEL.md section 3) and the soma <-> dendrite coupling (section 4).
#include <cstdint>

#include "l5sim/model/hd.hpp"
#include "l5sim/model/pmath.hpp"
#include "l5sim/model/synapse.hpp"

namespace l5sim::model {

/// Dendrite parameters in user units; the defaults are the registry's (l5sim/cell_types.hpp).
struct DendriteParams {
    double C_d;           // pF
    double g_Ld;          // nS
    double E_Ld;          // mV
    double g_Ca;          // pA
    double E_half, D;     // mV
    double a_d;           // 1/ms
    double b_d;           // nS
    double p_bap;         // pA
    double theta_ca;      // mV
    int bap_delay_steps;  // window opens this many steps after the somatic spike
    int bap_last_steps;   // ... and closes after this one (inclusive)
};

struct DendriteConstants {
    float dt_over_C;  // ms / pF
    float g_Ld, E_Ld, g_Ca, E_half, inv_D, dt_a, b_d, p_bap, theta_ca;
    uint32_t bap_mask;  // bits of the spike history that open the BAP window
};

inline DendriteConstants make_dendrite_constants(const DendriteParams& p, double dt_ms) {
    uint32_t mask = 0;
    for (int s = p.bap_delay_steps; s <= p.bap_last_steps; ++s) mask |= 1u << s;
    return DendriteConstants{static_cast<float>(dt_ms / p.C_d),
                             static_cast<float>(p.g_Ld),
                             static_cast<float>(p.E_Ld),
                             static_cast<float>(p.g_Ca),
                             static_cast<float>(p.E_half),
                             static_cast<float>(1.0 / p.D),
                             static_cast<float>(dt_ms * p.a_d),
                             static_cast<float>(p.b_d),
                             static_cast<float>(p.p_bap),
                             static_cast<float>(p.theta_ca),
                             mask};
}

/// Spike history: bit s is set when the soma spiked s steps ago. Shifted once per step in
/// phase 1, so a spike at step n sets bit s at step n + s.
L5_HD inline uint32_t advance_history(uint32_t history, bool spiked) {
    return (history << 1) | (spiked ? 1u : 0u);
}

/// True on the steps n + delay ... n + last after any somatic spike n (union of windows).
L5_HD inline bool bap_window_open(const DendriteConstants& k, uint32_t history) {
    return (history & k.bap_mask) != 0;
}

/// Calcium nonlinearity F(v) = 1 / (1 + exp((E_half - v) / D)).
L5_HD inline float calcium_activation(const DendriteConstants& k, float v_d) {
    return 1.0f / (1.0f + pexp((k.E_half - v_d) * k.inv_D));
}

/// Dendritic conductances (nS), one per receptor (model/receptors.hpp).
struct DendriteConductances {
    float g[kReceptorCount];
};

/// One explicit Euler step (MODEL.md section 3):
///   C_d dv_d/dt = -g_Ld (v_d - E_Ld) + g_Ca F(v_d) + BAP + u_d + I_syn,d + I_ext,d
///   du_d/dt     = a_d (b_d (v_d - E_Ld) - u_d)
/// bap_pA is the back-propagated current this step (0, p_BAP, or gamma p_BAP when scaled).
/// I_syn,d sums the first kN receptors in table order, each through its gate.
template <int kN>
L5_HD inline void dendrite_step(const DendriteConstants& k, const ReceptorConstants& rc,
                                const DendriteConductances& g, float bap_pA, float i_ext_pA,
                                float* v_d, float* u_d) {
    const float v0 = *v_d;
    const float u0 = *u_d;
    const float gate = nmda_gate(v0);
    float i_syn = 0.0f;
    L5_UNROLL
    for (int r = 0; r < kN; ++r) {
        const float term = gated(r, g.g[r], gate) * (rc.E[r] - v0);
        i_syn = r == 0 ? term : i_syn + term;
    }
    const float i_total = -k.g_Ld * (v0 - k.E_Ld) + k.g_Ca * calcium_activation(k, v0) + bap_pA +
                          u0 + i_syn + i_ext_pA;
    *v_d = v0 + k.dt_over_C * i_total;
    *u_d = u0 + k.dt_a * (k.b_d * (v0 - k.E_Ld) - u0);
}

/// Coupling modes (MODEL.md section 4).
enum class Coupling : uint8_t { stochastic = 0, scaled = 1 };

/// BAP current this step: p_BAP with probability gamma (stochastic) or gamma * p_BAP (scaled).
/// `draw` is this cell's uniform in [0, 1) for (bap stream, step).
L5_HD inline float bap_current(const DendriteConstants& k, Coupling mode, uint32_t history,
                               float gamma, float draw) {
    if (!bap_window_open(k, history)) return 0.0f;
    if (mode == Coupling::scaled) return gamma * k.p_bap;
    return draw < gamma ? k.p_bap : 0.0f;
}

/// Plateau -> burst mode for the next somatic reset: v_d >= theta_Ca and (stochastic) a draw
/// below gamma, or (scaled) deterministically.
L5_HD inline bool plateau_burst(const DendriteConstants& k, Coupling mode, float v_d, float gamma,
                                float draw) {
    if (!(v_d >= k.theta_ca)) return false;
    if (mode == Coupling::scaled) return true;
    return draw < gamma;
}

}  // namespace l5sim::model
