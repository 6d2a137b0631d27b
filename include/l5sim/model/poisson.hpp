#pragma once
/// Poisson spike counts for background drive (MODEL.md section 6), by inverse CDF with
/// multiplications only, so that every engine gets the same count from the same uniform.
#include <cstdint>

#include "l5sim/model/hd.hpp"

namespace l5sim::model {

/// Constants of one Poisson source: lambda = rate * dt, p0 = exp(-lambda) (host, double).
struct PoissonConstants {
    float lambda;
    float p0;
    float weight_ns;  // conductance added per input spike
};

/// Count k with P(k) = lambda^k e^-lambda / k! from one uniform u in [0, 1).
L5_HD inline uint32_t poisson_count(const PoissonConstants& pc, float u) {
    if (pc.lambda <= 0.0f) return 0;
    float p = pc.p0;
    float cdf = p;
    uint32_t k = 0;
    while (u >= cdf && k < 1000u) {
        ++k;
        p = p * pc.lambda / static_cast<float>(k);
        const float next = cdf + p;
        if (next == cdf) break;  // float tail exhausted
        cdf = next;
    }
    return k;
}

}  // namespace l5sim::model
