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
    float decay_plus;   // exp(-dt / tau_plus): pre trace x
    float decay_minus;  // exp(-dt / tau_minus): post trace y
    float decay_x;      // exp(-dt / tau_x): triplet slow pre trace r2
    float decay_y;      // exp(-dt / tau_y): triplet slow post trace o2
    float a_plus;       // nS (pair amplitude A2+ for the triplet rule)
    float a_minus;      // nS
    float a3_plus;      // nS, triplet only
    float a3_minus;     // nS, triplet only
    float w_max;        // nS
    float eta;          // learning-rate knob (schedulable)
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

// ---- Windows of steps (DESIGN.md section 4, temporal blocking). No spike reaches any cell
// sooner than the shortest delay, so an engine may advance every cell through a window of up
// to that many steps (at most 32) first, with each cell's spikes as a bit mask (bit j: the
// window's step j), and apply the window's STDP afterwards. The functions below replay the
// per-step order exactly (MODEL.md section 5: phase 1 steps the traces, a presynaptic spike
// is delivered and then depresses, a postsynaptic spike potentiates, the triplet slow traces
// jump after phase 6), so a window gives bit for bit what stepping gives.

/// A fast trace (x or y) after `count` steps of trace_step with the spikes of `mask`.
L5_HD inline float trace_after(StdpRule rule, float trace, float decay, uint32_t mask,
                               uint32_t count) {
    for (uint32_t j = 0; j < count; ++j) trace = trace_step(rule, trace, decay, (mask >> j) & 1u);
    return trace;
}

/// A triplet slow trace (r2 or o2) after `count` steps: decay in phase 1, +1 after phase 6 of
/// a step with a spike.
L5_HD inline float slow_trace_after(float trace, float decay, uint32_t mask, uint32_t count) {
    for (uint32_t j = 0; j < count; ++j) {
        trace = trace * decay;
        if ((mask >> j) & 1u) trace = trace + 1.0f;
    }
    return trace;
}

/// The traces of one synapse's source (x, r2) and target (y, o2) before a window.
struct SynapseTraces {
    float x, r2, y, o2;
};

/// One synapse through a window: `pre` / `post` are the source's / target's spike masks, `t`
/// the traces before the window. At each presynaptic spike on_pre(j, w) is called with the
/// weight being delivered (before that spike's depression). Returns the weight after the
/// window. Steps after the last spike of either side change nothing and are not visited.
template <class OnPre>
L5_HD inline float stdp_window(const StdpConstants& s, float w, uint32_t pre, uint32_t post,
                               SynapseTraces t, OnPre&& on_pre) {
    const bool triplet = s.rule == StdpRule::triplet;
    const uint32_t any = pre | post;
    for (uint32_t j = 0; j < 32u && (any >> j) != 0u; ++j) {
        const bool a = (pre >> j) & 1u, b = (post >> j) & 1u;
        t.x = trace_step(s.rule, t.x, s.decay_plus, a);
        t.y = trace_step(s.rule, t.y, s.decay_minus, b);
        if (triplet) {
            t.r2 = t.r2 * s.decay_x;
            t.o2 = t.o2 * s.decay_y;
        }
        if (a) {
            on_pre(j, w);
            w = depress(s, w, t.y, t.r2);
        }
        if (b) w = potentiate(s, w, t.x, t.o2);
        if (triplet) {
            if (a) t.r2 = t.r2 + 1.0f;
            if (b) t.o2 = t.o2 + 1.0f;
        }
    }
    return w;
}

/// The presynaptic row holding synapse `syn` of a CSR with row pointers row_ptr[0..n_rows]:
/// the largest r with row_ptr[r] <= syn (binary search; used by post-side STDP).
L5_HD inline uint32_t csr_row_of(const uint64_t* row_ptr, uint32_t n_rows, uint64_t syn) {
    uint32_t lo = 0, hi = n_rows;  // invariant: row_ptr[lo] <= syn < row_ptr[hi]
    while (hi - lo > 1) {
        const uint32_t mid = lo + (hi - lo) / 2;
        if (row_ptr[mid] <= syn)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

}  // namespace l5sim::model
