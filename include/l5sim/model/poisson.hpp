#pragma once
/// Poisson background sources (MODEL.md section 6) as renewal processes: each source keeps the
/// time, in steps from the start of the current step, to its next input spike (`rem`), and draws
/// an exponential gap only when a spike arrives, so a cell at 700 Hz needs a random number on ~7 %
/// of the steps instead of every step. The counts per step are exactly Poisson(lambda = rate dt),
/// independent across steps, as a per-step count would be.
#include <cstdint>

#include "l5sim/model/hd.hpp"
#include "l5sim/model/pmath.hpp"
#include "l5sim/model/rng.hpp"

namespace l5sim::model {

/// Constants of one Poisson source: lambda = rate * dt (expected spikes per step).
struct PoissonConstants {
    float lambda;
    float weight_ns;  // conductance added per input spike
};

/// "No spike pending": the `rem` of a source without a rate.
L5_HD inline float poisson_never() { return bits_to_float(0x7f800000u); }

/// Exponential gap (in steps) with mean 1 / lambda from one uniform word: -log(u) / lambda,
/// u in (0, 1].
L5_HD inline float exponential_gap(uint32_t word, float lambda) {
    return -plog(u01_open0(word)) / lambda;
}

/// Counter `sub` of the draw that starts a source afresh (at the start of a run, or when its
/// rate becomes positive): beyond any arrival index.
constexpr uint32_t kFreshSub = 0xffffffffu;

/// `rem` after a rate change at `step` from lambda_old to lambda_new: the remaining time scaled by
/// lambda_old / lambda_new (exact for an exponential, which is memoryless), a fresh gap when the
/// source was off, never when it is switched off. `word` is 0 for the soma source, 1 for the
/// dendrite's (of the background stream of the population).
L5_HD inline float poisson_rate_change(float rem, float lambda_old, float lambda_new, uint64_t seed,
                                       uint32_t stream, uint32_t step, uint32_t id, int word) {
    if (!(lambda_new > 0.0f)) return poisson_never();
    if (!(lambda_old > 0.0f) || rem == poisson_never())
        return exponential_gap(philox(seed, stream, step, id, kFreshSub).v[word], lambda_new);
    if (lambda_old == lambda_new) return rem;
    return rem * (lambda_old / lambda_new);
}

/// `rem` of a source that starts at `step` with rate lambda (never if lambda is 0).
L5_HD inline float poisson_start(float lambda, uint64_t seed, uint32_t stream, uint32_t step,
                                 uint32_t id, int word) {
    return poisson_rate_change(poisson_never(), 0.0f, lambda, seed, stream, step, id, word);
}

}  // namespace l5sim::model
