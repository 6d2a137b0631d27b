#pragma once
// The CPU engine's vectorised per-cell loops (included by cpu_step.cpp alone: each is a function
// of its own, built for SSE2 and AVX2).
#include <cstdint>
#include <cstring>

#include "cpu/cpu_engine.hpp"

namespace l5sim::cpu {

namespace {

// The vectorised per-cell loops are built twice, for SSE2 and for AVX2, and the loader picks the
// one the CPU runs (GCC target_clones). Results are bit-identical: no FMA (-ffp-contract=off,
// and the avx2 target does not enable it), the same IEEE operations in the same order per lane.
// Not under ASan or TSan: the loader runs the clones' resolvers before the sanitizer's runtime
// is up, and their instrumented code crashes the process at start. Not with clang (the fuzzing
// build, scripts/fuzz.sh), which does not combine target_clones with noinline.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || defined(__clang__)
#define L5_CPU_LOOP __attribute__((noinline))
#else
#define L5_CPU_LOOP __attribute__((noinline, target_clones("avx2", "default")))
#endif

// The conductance arrays of one compartment, indexed by receptor (model/receptors.hpp), at the
// first cell of a block; the loops below step the first kN (the population's receptors_of) and
// the others may be null. Distinct arrays: the soma and dendrite loops say so with `ivdep`.
struct ReceptorArrays {
    float* g[model::kReceptorCount];
};

// Phase 2b for one projection and `count` cells: this step's ring slot into the conductances of
// its compartment (model::receptor_arrival per receptor, as the CUDA engine's
// model::add_arrivals), the slot cleared. The conductance arrays are restrict-qualified
// parameters, one per receptor (g3: the receptor beyond the core ones, used when kN = 4), so
// that a group of eight cells is one 8-wide operation per receptor; a fifth receptor adds a
// parameter here (the static_assert says so).
static_assert(model::kReceptorCount == 4, "arrivals_body takes one array per receptor");
template <int kN>
__attribute__((always_inline)) inline void arrivals_body(model::RingCell* __restrict slot,
                                                         float* __restrict g0, float* __restrict g1,
                                                         float* __restrict g2, float* __restrict g3,
                                                         const float* factor, float ns_per_fixed,
                                                         int64_t count) {
    // Most slots are empty (a few % of the cells get input in a step): eight slots at a time,
    // skipped when all eight are empty (one 32-byte test). A group with input is added whole,
    // its empty slots too: adding the +0 of an empty slot leaves a conductance (never -0) bit
    // for bit unchanged, and unconditional full-width loads and stores beat a branch per cell
    // (or the masked stores the compiler makes of one).
    const float f0 = factor[0], f1 = factor[1], f2 = factor[2], f3 = kN > 3 ? factor[3] : 0.0f;
    auto one = [&](int64_t i) {
        const float x = model::from_fixed(slot[i], ns_per_fixed);
        slot[i] = 0;
        g0[i] = model::receptor_arrival(g0[i], f0, x);
        g1[i] = model::receptor_arrival(g1[i], f1, x);
        g2[i] = model::receptor_arrival(g2[i], f2, x);
        if constexpr (kN > 3) g3[i] = model::receptor_arrival(g3[i], f3, x);
    };
    static_assert(sizeof(model::RingCell) == 4);
    int64_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __builtin_prefetch(slot + i + 256, 1);  // 1 KB ahead: a row spans pages
        uint64_t w[4];
        std::memcpy(w, slot + i, sizeof w);
        if ((w[0] | w[1] | w[2] | w[3]) == 0) continue;
        for (int k = 0; k < 8; ++k) one(i + k);
    }
    for (; i < count; ++i)
        if (slot[i] != 0) one(i);
}
L5_CPU_LOOP void arrivals_block_core(model::RingCell* __restrict slot, float* __restrict g0,
                                     float* __restrict g1, float* __restrict g2,
                                     const float* factor, float ns_per_fixed, int64_t count) {
    arrivals_body<model::kCoreReceptors>(slot, g0, g1, g2, nullptr, factor, ns_per_fixed, count);
}
L5_CPU_LOOP void arrivals_block_all(model::RingCell* __restrict slot, float* __restrict g0,
                                    float* __restrict g1, float* __restrict g2,
                                    float* __restrict g3, const float* factor, float ns_per_fixed,
                                    int64_t count) {
    arrivals_body<model::kReceptorCount>(slot, g0, g1, g2, g3, factor, ns_per_fixed, count);
}

// Phase 3 for the somatic conductances (one Euler decay each, written back), then phase 5's
// arithmetic, for `count` consecutive cells (vectorised by the compiler): the conductances are
// read once for both. kN: the population's receptors.
template <int kN>
__attribute__((always_inline)) inline void soma_body(
    const model::IzhConstants& k, const model::ReceptorConstants& rc, float e_adapt,
    float adapt_decay, const ReceptorArrays& c, float* __restrict gnb, float* __restrict gad,
    const float* __restrict iext, float* __restrict v, float* __restrict u, int64_t count) {
    float* g[kN];
    for (int r = 0; r < kN; ++r) g[r] = c.g[r];
    constexpr int kNmda = model::index_of(model::Receptor::nmda);
#pragma GCC ivdep
    for (int64_t i = 0; i < count; ++i) {
        model::SomaConductances s{};
        L5_UNROLL
        for (int r = 0; r < kN; ++r) s.g[r] = model::decay(g[r][i], rc.decay[r]);
        s.nmda_bg = model::decay(gnb[i], rc.decay[kNmda]);
        s.adapt = model::decay(gad[i], adapt_decay);
        L5_UNROLL
        for (int r = 0; r < kN; ++r) g[r][i] = s.g[r];
        gnb[i] = s.nmda_bg;
        gad[i] = s.adapt;
        float vi = v[i], ui = u[i];
        model::soma_step<kN>(k, rc, s, e_adapt, iext[i], &vi, &ui);
        v[i] = vi;
        u[i] = ui;
    }
}
L5_CPU_LOOP void soma_block_core(const model::IzhConstants k, const model::ReceptorConstants rc,
                                 float e_adapt, float adapt_decay, const ReceptorArrays& c,
                                 float* __restrict gnb, float* __restrict gad,
                                 const float* __restrict iext, float* __restrict v,
                                 float* __restrict u, int64_t count) {
    soma_body<model::kCoreReceptors>(k, rc, e_adapt, adapt_decay, c, gnb, gad, iext, v, u, count);
}
L5_CPU_LOOP void soma_block_all(const model::IzhConstants k, const model::ReceptorConstants rc,
                                float e_adapt, float adapt_decay, const ReceptorArrays& c,
                                float* __restrict gnb, float* __restrict gad,
                                const float* __restrict iext, float* __restrict v,
                                float* __restrict u, int64_t count) {
    soma_body<model::kReceptorCount>(k, rc, e_adapt, adapt_decay, c, gnb, gad, iext, v, u, count);
}

// The cells id0 + k (k < count) whose flag is set (non-zero), in order, into idx; returns how
// many. Eight flags at a time: a group of eight clear flags (most groups: spikes, open BAP
// windows and plateaus are rare) costs one test; the others are written branch-free, so the
// selected cells cost no mispredictions.
__attribute__((noinline)) int64_t select_flagged(uint32_t id0, const uint8_t* __restrict flags,
                                                 int64_t count, uint32_t* __restrict idx) {
    int64_t m = 0, k = 0;
    for (; k + 8 <= count; k += 8) {
        uint64_t group;
        std::memcpy(&group, flags + k, sizeof group);
        if (group == 0) continue;
        for (int64_t q = k; q < k + 8; ++q) {
            idx[m] = id0 + static_cast<uint32_t>(q);
            m += flags[q] != 0 ? 1 : 0;
        }
    }
    for (; k < count; ++k) {
        idx[m] = id0 + static_cast<uint32_t>(k);
        m += flags[k] != 0 ? 1 : 0;
    }
    return m;
}

// Flags of the cells whose background has an input spike this step (model::background_arrives;
// rem_d null: no dendrite); every other cell's times count down one step (the flagged cells' times
// are left for their draws), vectorised.
L5_CPU_LOOP void flag_background(float* __restrict rem_s, float* __restrict rem_d, int64_t count,
                                 uint8_t* __restrict flags) {
    if (rem_d) {
        for (int64_t k = 0; k < count; ++k) {
            const float rs = rem_s[k], rd = rem_d[k];
            const bool arrives = model::background_arrives(rs, rd);
            flags[k] = arrives ? 1 : 0;
            rem_s[k] = arrives ? rs : rs - 1.0f;
            rem_d[k] = arrives ? rd : rd - 1.0f;
        }
    } else {
        for (int64_t k = 0; k < count; ++k) {
            const float rs = rem_s[k];
            const bool arrives = model::background_arrives(rs, model::poisson_never());
            flags[k] = arrives ? 1 : 0;
            rem_s[k] = arrives ? rs : rs - 1.0f;
        }
    }
}

// Flags of the cells whose BAP window is open this step (model::bap_window_open), vectorised.
L5_CPU_LOOP void flag_bap_window(const model::DendriteConstants k,
                                 const uint32_t* __restrict history, int64_t count,
                                 uint8_t* __restrict flags) {
    for (int64_t i = 0; i < count; ++i) flags[i] = model::bap_window_open(k, history[i]) ? 1 : 0;
}

// Phase 1 (model::spike_phase) for `count` cells without a dendrite or adaptation: spike test
// and reset with the regular c, d; vectorised.
L5_CPU_LOOP void reset_block(const model::IzhConstants k, float* __restrict v, float* __restrict u,
                             uint8_t* __restrict spiked, int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
        float vi = v[i], ui = u[i], gi = 0.0f;
        uint32_t hi = 0;
        const bool sp = model::spike_phase(k, false, false, false, 0.0f, &vi, &ui, &gi, &hi);
        v[i] = vi;
        u[i] = ui;
        spiked[i] = sp;
    }
}

// Phase 1 (model::spike_phase) for `count` adapting cells without a dendrite: spike test, reset
// with the regular c, d, adaptation jump; vectorised.
L5_CPU_LOOP void reset_adapting_block(const model::IzhConstants k, float adapt_increment,
                                      float* __restrict v, float* __restrict u,
                                      float* __restrict g_adapt, uint8_t* __restrict spiked,
                                      int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
        float vi = v[i], ui = u[i], gi = g_adapt[i];
        uint32_t hi = 0;
        const bool sp =
            model::spike_phase(k, false, true, false, adapt_increment, &vi, &ui, &gi, &hi);
        v[i] = vi;
        u[i] = ui;
        g_adapt[i] = gi;
        spiked[i] = sp;
    }
}

// Phase 1 (model::spike_phase) for `count` cells with a dendrite: spike test and reset (burst-mode
// c, d chosen by the previous step's dendrite), spike history, adaptation jump (adapting types);
// vectorised. Returns the number of calcium-triggered
// (burst-mode) spikes.
L5_CPU_LOOP int64_t reset_dendrite_block(const model::IzhConstants k, bool adapts,
                                         float adapt_increment, const uint8_t* __restrict burst,
                                         float* __restrict v, float* __restrict u,
                                         uint32_t* __restrict history, float* __restrict g_adapt,
                                         uint8_t* __restrict spiked, int64_t count) {
    int64_t calcium = 0;
    for (int64_t i = 0; i < count; ++i) {
        float vi = v[i], ui = u[i], gi = g_adapt[i];
        uint32_t hi = history[i];
        const bool b = burst[i] != 0;
        const bool sp = model::spike_phase(k, true, adapts, b, adapt_increment, &vi, &ui, &gi, &hi);
        v[i] = vi;
        u[i] = ui;
        g_adapt[i] = gi;
        history[i] = hi;
        spiked[i] = sp;
        calcium += static_cast<int64_t>(static_cast<unsigned>(sp) & static_cast<unsigned>(b));
    }
    return calcium;
}

// The first gaps exponential_gap(w[a], lambda) of a batch of background draws (vectorised).
L5_CPU_LOOP void gap_batch(const uint32_t* __restrict w, int64_t m, float lambda,
                           float* __restrict gap) {
    for (int64_t a = 0; a < m; ++a) gap[a] = model::exponential_gap(w[a], lambda);
}

// The first draws of a batch of background arrivals (model::background_first_draw), vectorised:
// rs, rd in: the times to the next input spike; out: after draw j = 0, with the spikes counted
// (ks, kd) and the cells that need more draws flagged.
L5_CPU_LOOP void first_draw_batch(float* __restrict rs, float* __restrict rd,
                                  const float* __restrict gap_s, const float* __restrict gap_d,
                                  int64_t m, float* __restrict ks, float* __restrict kd,
                                  uint8_t* __restrict more) {
    for (int64_t a = 0; a < m; ++a) {
        const model::BackgroundDraws d =
            model::background_first_draw(rs[a], rd[a], gap_s[a], gap_d[a]);
        rs[a] = d.rs;
        rd[a] = d.rd;
        ks[a] = d.ks;
        kd[a] = d.kd;
        more[a] = model::background_more_draws(d) ? 1 : 0;
    }
}

// Phase 3 for one conductance of `count` cells.
L5_CPU_LOOP void decay_block(float* __restrict g, int64_t count, float factor) {
    for (int64_t i = 0; i < count; ++i) g[i] = model::decay(g[i], factor);
}

// Phase 1's STDP trace step for `count` cells (model::trace_step), vectorised.
L5_CPU_LOOP void trace_block(model::StdpRule rule, float* __restrict trace,
                             const uint8_t* __restrict spiked, float decay, int64_t count) {
    for (int64_t i = 0; i < count; ++i)
        trace[i] = model::trace_step(rule, trace[i], decay, spiked[i] != 0);
}

// Phase 4: BAP window, calcium dendrite, plateau -> burst-mode choice for the next reset.
// Phase 3 for the dendritic conductances (written back), then phase 4's arithmetic, for `count`
// consecutive cells (vectorised by the compiler); `plateau` flags the cells at or above the
// calcium threshold (model::plateau_burst's first test).
template <int kN>
__attribute__((always_inline)) inline void dendrite_body(
    const model::DendriteConstants& k, const model::ReceptorConstants& rc, const ReceptorArrays& c,
    const float* __restrict bap, const float* __restrict iext, float* __restrict v_d,
    float* __restrict u_d, uint8_t* __restrict plateau, int64_t count) {
    float* g[kN];
    for (int r = 0; r < kN; ++r) g[r] = c.g[r];
#pragma GCC ivdep
    for (int64_t i = 0; i < count; ++i) {
        model::DendriteConductances d{};
        L5_UNROLL
        for (int r = 0; r < kN; ++r) d.g[r] = model::decay(g[r][i], rc.decay[r]);
        L5_UNROLL
        for (int r = 0; r < kN; ++r) g[r][i] = d.g[r];
        float v = v_d[i], u = u_d[i];
        model::dendrite_step<kN>(k, rc, d, bap[i], iext[i], &v, &u);
        v_d[i] = v;
        u_d[i] = u;
        plateau[i] = v >= k.theta_ca ? 1 : 0;
    }
}
L5_CPU_LOOP void dendrite_block_core(const model::DendriteConstants k,
                                     const model::ReceptorConstants rc, const ReceptorArrays& c,
                                     const float* __restrict bap, const float* __restrict iext,
                                     float* __restrict v_d, float* __restrict u_d,
                                     uint8_t* __restrict plateau, int64_t count) {
    dendrite_body<model::kCoreReceptors>(k, rc, c, bap, iext, v_d, u_d, plateau, count);
}
L5_CPU_LOOP void dendrite_block_all(const model::DendriteConstants k,
                                    const model::ReceptorConstants rc, const ReceptorArrays& c,
                                    const float* __restrict bap, const float* __restrict iext,
                                    float* __restrict v_d, float* __restrict u_d,
                                    uint8_t* __restrict plateau, int64_t count) {
    dendrite_body<model::kReceptorCount>(k, rc, c, bap, iext, v_d, u_d, plateau, count);
}

// Phase 4 for cells [b, b + count) of pyramidal population p: the per-cell composition of
// model::dendrite_phase, split into three passes so that the arithmetic (pass 2) runs as SIMD:
// the Philox draws, needed only while a BAP window is open or a plateau is on (rare), stay in
// their own passes. Counter-based draws make drawing the same (step, cell) counter twice give the
// same words, so the results are bit-identical to dendrite_phase (the CUDA kernel's form).
}  // namespace

}  // namespace l5sim::cpu
