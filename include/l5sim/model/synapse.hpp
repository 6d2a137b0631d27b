#pragma once
/// Conductance synapses (MODEL.md section 6): receptor gating, decay, and the fixed-point
/// accumulation that makes delivery order irrelevant (DESIGN.md section 2).
#include <cstdint>

#include "l5sim/model/hd.hpp"

namespace l5sim::model {

/// Fixed-point scale of accumulated synaptic input: 2^32 units per nS.
inline constexpr float kFixedPerNs = 4294967296.0f;
inline constexpr float kNsPerFixed = 2.3283064365386963e-10f;

/// Weight (nS) -> fixed point; truncation toward zero, exact because the scale is 2^32.
L5_HD inline int64_t to_fixed(float w_ns) { return static_cast<int64_t>(w_ns * kFixedPerNs); }
/// Accumulated fixed point -> nS (one rounding, round to nearest).
L5_HD inline float from_fixed(int64_t x) { return static_cast<float>(x) * kNsPerFixed; }

/// NMDA magnesium gate B(v) = q^2 / (1 + q^2), q = (v + 80) / 60.
L5_HD inline float nmda_gate(float v_mV) {
    const float q = (v_mV + 80.0f) * (1.0f / 60.0f);
    const float q2 = q * q;
    return q2 / (1.0f + q2);
}

/// Per-step receptor constants, derived once on the host in double.
struct ReceptorConstants {
    float decay_ampa;   // 1 - dt / tau_ampa
    float decay_nmda;   // 1 - dt / tau_nmda
    float decay_gaba;   // 1 - dt / tau_gaba
    float e_ampa;       // mV
    float e_nmda;       // mV
    float e_gaba;       // mV
    float nmda_soma_cap;  // nS, cap on the gated NMDA conductance at the soma
};

/// Euler decay of one conductance: g <- g + dt * (-g / tau) == g * (1 - dt / tau).
L5_HD inline float decay(float g, float factor) { return g * factor; }

}  // namespace l5sim::model
