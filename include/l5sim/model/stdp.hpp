#pragma once
/// Spike-timing-dependent plasticity (MODEL.md section 8). Traces decay by exp(-dt/tau) per
/// step and jump in phase 1; depression is applied when the presynaptic spike is propagated,
/// potentiation in phase 6 through the reverse index (depression first when both meet).
#include <cstdint>

#include "l5sim/model/hd.hpp"

namespace l5sim::model {

enum class StdpRule : uint8_t { pair_all = 0, nearest = 1, triplet = 2 };
enum class StdpBounds : uint8_t { hard = 0, soft = 1 };

struct StdpConstants {
    StdpRule rule;
    StdpBounds bounds;
    float decay_plus;    // exp(-dt / tau_plus): pre trace x
    float decay_minus;   // exp(-dt / tau_minus): post trace y
    float decay_x;       // exp(-dt / tau_x): triplet slow pre trace r2
    float decay_y;       // exp(-dt / tau_y): triplet slow post trace o2
    float a_plus;        // nS (pair amplitude A2+ for the triplet rule)
    float a_minus;       // nS
    float a3_plus;       // nS, triplet only
    float a3_minus;      // nS, triplet only
    float w_max;         // nS
    float eta;           // learning-rate knob (schedulable)
};

/// A fast trace at a spike: all-to-all adds 1, nearest-neighbour resets to 1.
L5_HD inline float trace_jump(StdpRule rule, float trace) {
    return rule == StdpRule::nearest ? 1.0f : trace + 1.0f;
}

/// One step of a trace: decay, then jump if the cell spiked in this step.
L5_HD inline float trace_step(StdpRule rule, float trace, float decay, bool spiked) {
    const float t = trace * decay;
    return spiked ? trace_jump(rule, t) : t;
}

/// Hard bounds [0, w_max] (soft bounds keep w inside by construction; clamped for safety).
/// The triplet rule's slow traces (all-to-all, Pfister & Gerstner 2006) only decay in phase 1
/// and jump after the plasticity phase, so the rule reads their value at t - epsilon.
L5_HD inline float clamp_weight(const StdpConstants& s, float w) {
    if (w < 0.0f) return 0.0f;
    if (w > s.w_max) return s.w_max;
    return w;
}

/// Depression at a presynaptic spike: w -= eta A- y (hard) or eta (A-/w_max) w y (soft);
/// the triplet rule adds A3- r2 (slow pre trace before this spike).
L5_HD inline float depress(const StdpConstants& s, float w, float y_post, float r2_pre) {
    float amp = s.a_minus;
    if (s.rule == StdpRule::triplet) amp = amp + s.a3_minus * r2_pre;
    float dw = s.eta * amp * y_post;
    if (s.bounds == StdpBounds::soft) dw = dw * (w / s.w_max);
    return clamp_weight(s, w - dw);
}

/// Potentiation at a postsynaptic spike: w += eta A+ x (hard) or eta (A+/w_max)(w_max - w) x
/// (soft); the triplet rule adds A3+ o2 (slow post trace before this spike).
L5_HD inline float potentiate(const StdpConstants& s, float w, float x_pre, float o2_post) {
    float amp = s.a_plus;
    if (s.rule == StdpRule::triplet) amp = amp + s.a3_plus * o2_post;
    float dw = s.eta * amp * x_pre;
    if (s.bounds == StdpBounds::soft) dw = dw * ((s.w_max - w) / s.w_max);
    return clamp_weight(s, w + dw);
}

/// The presynaptic row holding synapse `syn` of a CSR with row pointers row_ptr[0..n_rows]:
/// the largest r with row_ptr[r] <= syn (binary search; used by post-side STDP).
L5_HD inline uint32_t csr_row_of(const uint64_t* row_ptr, uint32_t n_rows, uint64_t syn) {
    uint32_t lo = 0, hi = n_rows;  // invariant: row_ptr[lo] <= syn < row_ptr[hi]
    while (hi - lo > 1) {
        const uint32_t mid = lo + (hi - lo) / 2;
        if (row_ptr[mid] <= syn) lo = mid; else hi = mid;
    }
    return lo;
}

}  // namespace l5sim::model
