#pragma once
/// Izhikevich (2007) soma, shared by PYR somata, PV and SOM cells (MODEL.md section 2).
#include <cstdint>

#include "l5sim/model/hd.hpp"
#include "l5sim/model/synapse.hpp"

namespace l5sim::model {

/// Soma parameters in user units (pF, nS/mV, mV, 1/ms, nS, pA). The defaults of each cell type
/// are its row of the registry (l5sim/cell_types.hpp), not here.
struct IzhParams {
    double C, k, v_r, v_t, v_peak, a, b;
    double c, d;              // regular-firing reset
    double c_burst, d_burst;  // reset after a dendritic plateau (types with a dendrite)
};

/// Per-step soma constants (float, derived in double on the host).
struct IzhConstants {
    float dt_over_C;  // ms / pF
    float k, v_r, v_t, v_peak;
    float dt_a;  // dt * a
    float b;
    float c, d, c_burst, d_burst;
};

inline IzhConstants make_izh_constants(const IzhParams& p, double dt_ms) {
    return IzhConstants{static_cast<float>(dt_ms / p.C), static_cast<float>(p.k),
                        static_cast<float>(p.v_r),       static_cast<float>(p.v_t),
                        static_cast<float>(p.v_peak),    static_cast<float>(dt_ms * p.a),
                        static_cast<float>(p.b),         static_cast<float>(p.c),
                        static_cast<float>(p.d),         static_cast<float>(p.c_burst),
                        static_cast<float>(p.d_burst)};
}

/// Somatic conductances (nS) of one cell at the start of the integration phase: one per
/// receptor (model/receptors.hpp), the background's NMDA, adaptation.
struct SomaConductances {
    float g[kReceptorCount];
    float nmda_bg, adapt;
};

/// Spike test and reset, phase 1: if v >= v_peak: v <- c, u <- u + d (burst c, d if the
/// dendrite signalled a plateau in the previous step). Returns true on a spike.
L5_HD inline bool soma_reset(const IzhConstants& k, bool burst_mode, float* v, float* u) {
    // Written with selects only, so that loops over cells calling it vectorise.
    const bool spiked = *v >= k.v_peak;
    const float u_reset = *u + (burst_mode ? k.d_burst : k.d);
    *v = spiked ? (burst_mode ? k.c_burst : k.c) : *v;
    *u = spiked ? u_reset : *u;
    return spiked;
}

/// One soma step, linearly implicit in the total conductance G (MODEL.md section 2):
///   v' = (v + dt/C (k (v - v_r)(v - v_t) - u + GE + I)) / (1 + dt/C G)
///   u' = u + dt a (b (v - v_r) - u)
/// G and GE sum the first kN receptors in table order (the background's NMDA right after the
/// recurrent NMDA), then adaptation. A magnesium-gated conductance is gated at v and,
/// separately for recurrent and background input, capped at the soma.
template <int kN>
L5_HD inline void soma_step(const IzhConstants& k, const ReceptorConstants& rc,
                            const SomaConductances& g, float e_adapt, float i_ext_pA, float* v,
                            float* u) {
    static_assert(kN >= 1 && kN <= kReceptorCount, "receptor count");
    const float v0 = *v;
    const float u0 = *u;
    const float gate = nmda_gate(v0);
    float G = 0.0f, GE = 0.0f;
    L5_UNROLL
    for (int r = 0; r < kN; ++r) {
        const bool mg = ((kMagnesiumGated >> r) & 1u) != 0;
        float gr = gated(r, g.g[r], gate);
        if (mg && gr > rc.nmda_soma_cap) gr = rc.nmda_soma_cap;
        G = r == 0 ? gr : G + gr;
        GE = r == 0 ? gr * rc.E[r] : GE + gr * rc.E[r];
        if (r == index_of(Receptor::nmda)) {
            float gb = g.nmda_bg * gate;
            if (gb > rc.nmda_soma_cap) gb = rc.nmda_soma_cap;
            G = G + gb;
            GE = GE + gb * rc.E[r];
        }
    }
    G = G + g.adapt;
    GE = GE + g.adapt * e_adapt;
    const float drive = k.k * (v0 - k.v_r) * (v0 - k.v_t) - u0 + GE + i_ext_pA;
    *v = (v0 + k.dt_over_C * drive) / (1.0f + k.dt_over_C * G);
    *u = u0 + k.dt_a * (k.b * (v0 - k.v_r) - u0);
}

}  // namespace l5sim::model
