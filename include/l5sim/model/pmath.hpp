#pragma once
/// Portable float transcendentals: the same bits from g++ (-ffp-contract=off) and nvcc
/// (--fmad=false), because only +, -, *, / and float<->int conversions are used, all of which
/// IEEE 754 defines exactly (DESIGN.md section 2). libm and CUDA's expf differ in the last bits.
#include <cstdint>
#include <cstring>

#include "l5sim/model/hd.hpp"

namespace l5sim::model {

L5_HD inline float bits_to_float(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}
L5_HD inline uint32_t float_to_bits(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

/// Round to nearest integer (ties away from zero) without libm.
L5_HD inline int round_to_int(float x) { return static_cast<int>(x >= 0.0f ? x + 0.5f : x - 0.5f); }

/// exp(x), relative error below 2e-7 on [-87, 88]; 0 below, +large above. Branch-free (selects
/// only), so that loops over cells calling it vectorise.
L5_HD inline float pexp(float x) {
    const bool underflow = x < -87.0f;
    x = x > 88.0f ? 88.0f : (underflow ? 0.0f : x);
    const int n = round_to_int(x * 1.44269504088896341f);
    const float fn = static_cast<float>(n);
    // Cody-Waite reduction: ln2_hi has 9 significant bits, so fn * ln2_hi is exact.
    const float r = (x - fn * 0.693359375f) - fn * -2.12194440e-4f;
    // exp(r) on |r| <= 0.347 by its Taylor polynomial to degree 7 (error < 1e-8).
    float p = 1.98412698e-4f;
    p = p * r + 1.38888889e-3f;
    p = p * r + 8.33333333e-3f;
    p = p * r + 4.16666667e-2f;
    p = p * r + 1.66666667e-1f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    // 2^n in two factors so that n down to -126-ish and up to 127 stays representable.
    const int n1 = n / 2;
    const int n2 = n - n1;
    const float e = p * bits_to_float(static_cast<uint32_t>(n1 + 127) << 23) *
                    bits_to_float(static_cast<uint32_t>(n2 + 127) << 23);
    return underflow ? 0.0f : e;
}

/// Natural log of x > 0 (normal floats), absolute error below 2e-7 near 1.
L5_HD inline float plog(float x) {
    uint32_t b = float_to_bits(x);
    int e = static_cast<int>((b >> 23) & 0xff) - 127;
    float m = bits_to_float((b & 0x007fffffu) | 0x3f800000u);  // [1, 2)
    if (m > 1.41421356f) {
        m = m * 0.5f;
        e += 1;
    }
    // log(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716.
    const float s = (m - 1.0f) / (m + 1.0f);
    const float s2 = s * s;
    float p = 1.0f / 11.0f;
    p = p * s2 + 1.0f / 9.0f;
    p = p * s2 + 1.0f / 7.0f;
    p = p * s2 + 1.0f / 5.0f;
    p = p * s2 + 1.0f / 3.0f;
    p = p * s2 + 1.0f;
    const float fe = static_cast<float>(e);
    return (fe * 0.693359375f + 2.0f * s * p) + fe * -2.12194440e-4f;
}

/// sin(2 pi u) and cos(2 pi u) for any u (exact quadrant reduction on u itself).
L5_HD inline void psincos_2pi(float u, float* s_out, float* c_out) {
    const float x = u * 4.0f;  // in quarter turns, exact
    const float fq = static_cast<float>(round_to_int(x));
    const float t = (x - fq) * 1.57079632679489662f;  // |t| <= pi/4
    const float t2 = t * t;
    // Taylor to t^9 / t^8 on |t| <= pi/4: error < 4e-8.
    float sp = 2.75573192e-6f;
    sp = sp * t2 - 1.98412698e-4f;
    sp = sp * t2 + 8.33333333e-3f;
    sp = sp * t2 - 1.66666667e-1f;
    sp = sp * t2 + 1.0f;
    const float s = sp * t;
    float cp = 2.48015873e-5f;
    cp = cp * t2 - 1.38888889e-3f;
    cp = cp * t2 + 4.16666667e-2f;
    cp = cp * t2 - 0.5f;
    const float c = cp * t2 + 1.0f;
    const int q = static_cast<int>(static_cast<int64_t>(fq) & 3);
    switch (q) {
        case 0:
            *s_out = s;
            *c_out = c;
            break;
        case 1:
            *s_out = c;
            *c_out = -s;
            break;
        case 2:
            *s_out = -s;
            *c_out = -c;
            break;
        default:
            *s_out = -c;
            *c_out = s;
            break;
    }
}

/// Logistic 1 / (1 + exp(-x)).
L5_HD inline float psigmoid(float x) { return 1.0f / (1.0f + pexp(-x)); }

}  // namespace l5sim::model
