#pragma once
/// Counter-based random numbers (Random123 Philox4x32-10), keyed by (seed, stream, step, id):
/// no generator state, so any engine, thread count or restart draws the same numbers.
#include <Random123/philox.h>

#include <cmath>
#include <cstdint>

#include "l5sim/model/hd.hpp"
#include "l5sim/model/pmath.hpp"

namespace l5sim::model {

/// The registry of random streams. A stream id is (kind << 16) | index, where index is a
/// population or projection number. Never renumber a kind: it would change every result.
enum class StreamKind : uint32_t {
    background = 1,  // per (population, step, cell): word 0 soma, word 1 dendrite
    coupling = 2,    // per (population, step, cell): word 0 BAP draw, word 1 plateau draw
    positions = 3,   // per (population, cell): words 0, 1 jitter
    connect = 4,     // per (projection, draw k, target cell, attempt)
    init = 5,        // per (population, cell, variable): the initial-state spread
};

L5_HD inline uint32_t stream_id(StreamKind kind, uint32_t index) {
    return (static_cast<uint32_t>(kind) << 16) | (index & 0xffffu);
}

struct Draw4 {
    uint32_t v[4];
};

/// The counter of the draw (stream, step, id, sub): its four words, in Philox's order. The one
/// definition of the layout: model::philox and the CPU engine's vectorised batch
/// (host/cpu/philox_batch.cpp) both build their counters here.
struct Counter4 {
    uint32_t w[4];
};
L5_HD inline Counter4 philox_counter(uint32_t stream, uint32_t step, uint32_t id, uint32_t sub) {
    return Counter4{{id, step, stream, sub}};
}

#if defined(L5SIM_PHILOX_TRACE) && !defined(__CUDACC__)
/// Test builds only (l5sim_core_trace, tests/trace): every counter a draw uses is passed here.
inline void (*philox_trace)(const Counter4&) = nullptr;
#define L5_PHILOX_TRACE(c)                                                 \
    do {                                                                   \
        if (::l5sim::model::philox_trace) ::l5sim::model::philox_trace(c); \
    } while (0)
#else
#define L5_PHILOX_TRACE(c) \
    do {                   \
    } while (0)
#endif

/// Four independent 32-bit words for (seed, stream, step, id, sub).
L5_HD inline Draw4 philox(uint64_t seed, uint32_t stream, uint32_t step, uint32_t id,
                          uint32_t sub = 0) {
    r123::Philox4x32 gen;
    const Counter4 c = philox_counter(stream, step, id, sub);
    L5_PHILOX_TRACE(c);
    r123::Philox4x32::ctr_type ctr = {{c.w[0], c.w[1], c.w[2], c.w[3]}};
    r123::Philox4x32::key_type key = {
        {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)}};
    const auto r = gen(ctr, key);
    return Draw4{{r[0], r[1], r[2], r[3]}};
}

/// Uniform float in [0, 1) with 24 random bits (exact on every compiler).
L5_HD inline float u01(uint32_t x) { return static_cast<float>(x >> 8) * 5.9604644775390625e-8f; }

/// Uniform float in (0, 1]: safe for log().
L5_HD inline float u01_open0(uint32_t x) {
    return static_cast<float>((x >> 8) + 1u) * 5.9604644775390625e-8f;
}

/// Two standard normal numbers from two uniforms (Box-Muller with portable log and sincos).
L5_HD inline void gaussian_pair(uint32_t w0, uint32_t w1, float* z0, float* z1) {
    const float r = sqrtf(-2.0f * plog(u01_open0(w0)));
    float s, c;
    psincos_2pi(u01(w1), &s, &c);
    *z0 = r * c;
    *z1 = r * s;
}

}  // namespace l5sim::model
