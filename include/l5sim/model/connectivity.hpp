#pragma once
/// Gaussian connectivity (MODEL.md section 7): distances on the ring and on the torus sheet,
/// the dense weight profile, and the O(1) draw of one Gaussian-displaced source.
#include <cmath>
#include <cstdint>

#include "l5sim/model/hd.hpp"
#include "l5sim/model/pmath.hpp"
#include "l5sim/model/rng.hpp"

namespace l5sim::model {

/// Chord distance on the unit circle between cell i of n_i and cell j of n_j (angle 2 pi i/n).
/// Computed in double on the host only (network building), so libm is fine here.
double ring_distance(uint32_t i, uint32_t n_i, uint32_t j, uint32_t n_j);

/// Periodic distance on the unit torus (float, shared by both engines).
L5_HD inline float torus_delta(float a, float b) {
    float d = a - b;
    if (d > 0.5f) d = d - 1.0f;
    if (d < -0.5f) d = d + 1.0f;
    return d;
}
L5_HD inline float torus_distance(float x0, float y0, float x1, float y1) {
    const float dx = torus_delta(x0, x1);
    const float dy = torus_delta(y0, y1);
    return sqrtf(dx * dx + dy * dy);
}

/// Wrap a coordinate into [0, 1).
L5_HD inline float wrap01(float x) {
    x = x - static_cast<float>(static_cast<int>(x >= 0.0f ? x : x - 1.0f));
    if (x >= 1.0f) x = x - 1.0f;
    if (x < 0.0f) x = x + 1.0f;
    return x;
}

/// Grid position of cell i among n cells laid on a side x side grid (side = ceil(sqrt(n))),
/// at cell centres; cells fill rows in order.
L5_HD inline void grid_position(uint32_t i, uint32_t side, float* x, float* y) {
    const float inv = 1.0f / static_cast<float>(side);
    *x = (static_cast<float>(i % side) + 0.5f) * inv;
    *y = (static_cast<float>(i / side) + 0.5f) * inv;
}

/// The grid cell holding point (x, y) in [0,1)^2 on a side x side grid, or n if that grid
/// slot is empty (the last row may be partly filled).
L5_HD inline uint32_t grid_cell_at(float x, float y, uint32_t side, uint32_t n) {
    uint32_t cx = static_cast<uint32_t>(x * static_cast<float>(side));
    uint32_t cy = static_cast<uint32_t>(y * static_cast<float>(side));
    if (cx >= side) cx = side - 1;
    if (cy >= side) cy = side - 1;
    const uint32_t id = cy * side + cx;
    return id < n ? id : n;
}

}  // namespace l5sim::model

namespace l5sim::model {

/// Parameters of one sparse (fixed in-degree) torus projection, as both engines see them.
struct SheetDraw {
    uint64_t seed;
    uint32_t stream;
    uint32_t n_src, side_src;  // source grid
    uint32_t n_tgt, side_tgt;  // target grid
    float sigma;               // torus units
    float jitter;              // 0: grid centres; 1: uniform within the grid square
    uint32_t pos_stream_src, pos_stream_tgt;
    bool same_population;  // forbid i -> i when autapses are off
    bool autapses;
    uint32_t delay_min_steps;
    float steps_per_unit;      // 1 / (conduction speed * dt): steps per torus unit of distance
    uint32_t delay_max_steps;  // clamp (ring-buffer size - 1)
};

/// Position of cell i: its grid square's centre, jittered uniformly inside the square.
L5_HD inline void sheet_position(uint64_t seed, uint32_t pos_stream, uint32_t i, uint32_t side,
                                 float jitter, float* x, float* y) {
    grid_position(i, side, x, y);
    if (jitter > 0.0f) {
        const Draw4 d = philox(seed, pos_stream, 0, i);
        const float inv = 1.0f / static_cast<float>(side);
        *x = *x + (u01(d.v[0]) - 0.5f) * jitter * inv;
        *y = *y + (u01(d.v[1]) - 0.5f) * jitter * inv;
    }
}

/// Source k of target t: a Gaussian displacement from the target's position (xt, yt), mapped to
/// the source whose grid square holds that point; retried (fresh numbers) on an empty square or
/// a forbidden autapse. O(1) expected.
L5_HD inline uint32_t sheet_source_at(const SheetDraw& p, uint32_t t, uint32_t k, float xt,
                                      float yt) {
    uint32_t s = p.n_src;
    for (uint32_t attempt = 0; attempt < 64u && s == p.n_src; ++attempt) {
        const Draw4 d = philox(p.seed, p.stream, k, t, attempt);
        float z0, z1;
        gaussian_pair(d.v[0], d.v[1], &z0, &z1);
        const float x = wrap01(xt + p.sigma * z0);
        const float y = wrap01(yt + p.sigma * z1);
        s = grid_cell_at(x, y, p.side_src, p.n_src);
        if (s != p.n_src && p.same_population && !p.autapses && s == t) s = p.n_src;
    }
    if (s == p.n_src) {  // pathological sigma / tiny population: uniform fallback
        const Draw4 d = philox(p.seed, p.stream, k, t, 64u);
        s = d.v[0] % p.n_src;
        if (p.same_population && !p.autapses && s == t) s = (t + 1) % p.n_src;
    }
    return s;
}

/// Source k of target t (sheet_source_at at the target's own position).
L5_HD inline uint32_t sheet_source(const SheetDraw& p, uint32_t t, uint32_t k) {
    float xt, yt;
    sheet_position(p.seed, p.pos_stream_tgt, t, p.side_tgt, p.jitter, &xt, &yt);
    return sheet_source_at(p, t, k, xt, yt);
}

/// Draw source k of target t and its delay in steps (d_min + distance / speed).
L5_HD inline void sheet_draw_source(const SheetDraw& p, uint32_t t, uint32_t k, uint32_t* src,
                                    uint32_t* delay_steps) {
    float xt, yt;
    sheet_position(p.seed, p.pos_stream_tgt, t, p.side_tgt, p.jitter, &xt, &yt);
    const uint32_t s = sheet_source_at(p, t, k, xt, yt);
    float xs, ys;
    sheet_position(p.seed, p.pos_stream_src, s, p.side_src, p.jitter, &xs, &ys);
    const float dist = torus_distance(xt, yt, xs, ys);
    uint32_t steps = p.delay_min_steps + static_cast<uint32_t>(dist * p.steps_per_unit + 0.5f);
    if (steps > p.delay_max_steps) steps = p.delay_max_steps;
    *src = s;
    *delay_steps = steps;
}

/// How to find the source of input k of a target without storing it: recomputed from the
/// connectivity rule (post-side STDP reads the presynaptic trace through this).
struct SourceRule {
    uint8_t sheet;      // 0: dense ring (all sources in order), 1: sparse sheet draw
    uint8_t skip_self;  // dense: the target's own id is left out (same population, no autapses)
    SheetDraw draw;     // sheet only
};

L5_HD inline uint32_t source_of(const SourceRule& r, uint32_t t, uint32_t k) {
    if (r.sheet) return sheet_source(r.draw, t, k);
    return (r.skip_self && k >= t) ? k + 1 : k;
}

/// source_of for many k of one target t: the target's position is drawn once (a sheet
/// projection's sources are Gaussian draws around it); identical results.
struct SourcesOf {
    const SourceRule& r;
    uint32_t t;
    float xt = 0.0f, yt = 0.0f;
    L5_HD SourcesOf(const SourceRule& rule, uint32_t target) : r(rule), t(target) {
        if (r.sheet)
            sheet_position(r.draw.seed, r.draw.pos_stream_tgt, t, r.draw.side_tgt, r.draw.jitter,
                           &xt, &yt);
    }
    L5_HD uint32_t operator()(uint32_t k) const {
        if (r.sheet) return sheet_source_at(r.draw, t, k, xt, yt);
        return (r.skip_self && k >= t) ? k + 1 : k;
    }
};

}  // namespace l5sim::model
