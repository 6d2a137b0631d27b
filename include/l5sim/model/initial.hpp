#pragma once
/// The initial state of a cell: a constant, or a value drawn per cell from its own Philox
/// counter (seed, init stream of the population, cell, variable), so that every engine, thread
/// count and partition of the cells starts from the same state.
#include <cstdint>

#include "l5sim/model/hd.hpp"
#include "l5sim/model/rng.hpp"

namespace l5sim::model {

/// The state variables whose initial value a config can set (populations.<name>.init). The
/// number is part of the random counter: never renumber.
enum class InitVar : uint32_t {
    v = 0,
    u = 1,
    v_d = 2,
    u_d = 3,
    g_ampa = 4,
    g_nmda = 5,
    g_nmda_bg = 6,
    g_gaba = 7,
    g_adapt = 8,
    g_ampa_d = 9,
    g_nmda_d = 10,
    g_gaba_d = 11,
};
inline constexpr int kInitVars = 12;

/// constant: a; uniform: a + (b - a) U with U uniform in [0, 1); normal: a + b Z with Z
/// standard normal (Box-Muller from two words of the same draw), clipped to [lo, hi] (a
/// conductance never starts negative).
struct InitSpec {
    enum class Kind : uint8_t { constant, uniform, normal };
    Kind kind = Kind::constant;
    double a = 0, b = 0;
    double lo = -1e300, hi = 1e300;
};

/// The initial value of variable `var` of cell `cell` of population `pop`.
L5_HD inline float initial_value(const InitSpec& s, uint64_t seed, uint32_t pop, InitVar var,
                                 uint32_t cell) {
    if (s.kind == InitSpec::Kind::constant) return static_cast<float>(s.a);
    const Draw4 d =
        philox(seed, stream_id(StreamKind::init, pop), static_cast<uint32_t>(var), cell);
    if (s.kind == InitSpec::Kind::uniform)
        return static_cast<float>(s.a + (s.b - s.a) * static_cast<double>(u01(d.v[0])));
    float z0 = 0, z1 = 0;
    gaussian_pair(d.v[0], d.v[1], &z0, &z1);
    const double x = s.a + s.b * static_cast<double>(z0);
    return static_cast<float>(x < s.lo ? s.lo : (x > s.hi ? s.hi : x));
}

}  // namespace l5sim::model
