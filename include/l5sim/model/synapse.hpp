#pragma once
/// Conductance synapses (MODEL.md section 6): receptor gating, decay, and the fixed-point
/// accumulation that makes delivery order irrelevant (DESIGN.md section 2).
#include <cstdint>

#include "l5sim/model/hd.hpp"
#include "l5sim/model/receptors.hpp"

namespace l5sim::model {

/// One cell of a delay ring: synaptic input in 32-bit fixed point, two's complement held in a
/// uint32 so that adds wrap (defined behaviour on both compilers). Wrapped adds are exact: the
/// sum comes out right whenever the true sum fits in 31 bits, which each projection's scale
/// guarantees (ring_fixed_exponent: every input synapse of a cell arriving in one step at its
/// largest weight still fits).
using RingCell = uint32_t;

/// The finest scale a ring may use, 2^24 units per nS.
inline constexpr int kMaxFixedExponent = 24;

/// Weight (nS) -> fixed point at `per_ns` = 2^e units per nS: exact scaling (a power of two),
/// then truncation toward zero. The scale keeps w * per_ns inside the int32 range.
L5_HD inline RingCell to_fixed(float w_ns, float per_ns) {
    return static_cast<RingCell>(static_cast<int32_t>(w_ns * per_ns));
}
/// Accumulated fixed point -> nS at `ns_per` = 2^-e nS per unit (one rounding, to nearest).
L5_HD inline float from_fixed(RingCell x, float ns_per) {
    return static_cast<float>(static_cast<int32_t>(x)) * ns_per;
}

/// Euler decay of one conductance: g <- g + dt * (-g / tau) == g * (1 - dt / tau).
L5_HD inline float decay(float g, float factor) { return g * factor; }

}  // namespace l5sim::model
