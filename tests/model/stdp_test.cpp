// STDP (MODEL.md section 8) at the level of the shared functions: traces stepped as the engine
// steps them (decay, then jump in phase 1), then potentiate / depress, against the pair-rule
// window A exp(-|dt| / tau) computed in double.
#include "l5sim/model/stdp.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <utility>
#include <vector>

#include "l5sim/model/rng.hpp"

using namespace l5sim::model;

namespace {

constexpr double kDt = 0.1, kTauPlus = 20, kTauMinus = 20, kTauX = 101, kTauY = 125;
constexpr double kWMax = 1.0, kAPlus = 0.005 * kWMax, kAMinus = 1.05 * kAPlus;

StdpConstants constants(StdpRule rule, StdpBounds bounds = StdpBounds::hard, double eta = 1,
                        double a3_plus = 0.0062, double a3_minus = 0.0) {
    return StdpConstants{rule,
                         bounds,
                         static_cast<float>(std::exp(-kDt / kTauPlus)),
                         static_cast<float>(std::exp(-kDt / kTauMinus)),
                         static_cast<float>(std::exp(-kDt / kTauX)),
                         static_cast<float>(std::exp(-kDt / kTauY)),
                         static_cast<float>(kAPlus),
                         static_cast<float>(kAMinus),
                         static_cast<float>(a3_plus),
                         static_cast<float>(a3_minus),
                         static_cast<float>(kWMax),
                         static_cast<float>(eta)};
}

// A trace after a spike at step `spike` (and at any step in `more`), read at step `read`.
float trace_at(StdpRule rule, float decay, std::initializer_list<int> spikes, int read) {
    float t = 0;
    for (int s = 0; s <= read; ++s) {
        bool spiked = false;
        for (int k : spikes) spiked = spiked || k == s;
        t = trace_step(rule, t, decay, spiked);
    }
    return t;
}

// Float rounding of m trace multiplications (and of the float decay factor): ~1.2e-7 per step.
double rel_tol(int m) { return 2e-6 + 1.5e-7 * m; }

}  // namespace

TEST(Stdp, PairWindowPotentiation) {
    const StdpConstants s = constants(StdpRule::pair_all);
    for (int m : {1, 10, 50, 100, 200, 400}) {  // post m steps after pre: dt = m * 0.1 ms
        const float x = trace_at(StdpRule::pair_all, s.decay_plus, {0}, m);
        const float w = potentiate(s, 0.0f, x, 0.0f);
        const double expected = kAPlus * std::exp(-m * kDt / kTauPlus);
        EXPECT_NEAR(w / expected, 1.0, rel_tol(m)) << "dt = " << m * kDt << " ms";
        // From a nonzero weight the change is the same.
        const float w2 = potentiate(s, 0.25f, x, 0.0f);
        EXPECT_NEAR((double(w2) - 0.25) / expected, 1.0, rel_tol(m) + 2e-5);
    }
}

TEST(Stdp, PairWindowDepression) {
    const StdpConstants s = constants(StdpRule::pair_all);
    for (int m : {1, 10, 50, 100, 200, 400}) {  // pre m steps after post
        const float y = trace_at(StdpRule::pair_all, s.decay_minus, {0}, m);
        const float w0 = 0.02f;  // small, so the float rounding of w0 - dw stays tiny
        const float w = depress(s, w0, y, 0.0f);
        const double expected = kAMinus * std::exp(-m * kDt / kTauMinus);
        EXPECT_NEAR((double(w0) - double(w)) / expected, 1.0, rel_tol(m) + 1e-6)
            << "dt = -" << m * kDt << " ms";
    }
}

TEST(Stdp, EtaScalesTheChange) {
    for (double eta : {0.0, 0.5, 3.0}) {
        const StdpConstants s = constants(StdpRule::pair_all, StdpBounds::hard, eta);
        EXPECT_NEAR(potentiate(s, 0.1f, 0.8f, 0.0f), 0.1 + eta * kAPlus * 0.8, 1e-7);
        EXPECT_NEAR(depress(s, 0.1f, 0.8f, 0.0f), 0.1 - eta * kAMinus * 0.8, 1e-7);
    }
}

TEST(Stdp, HardBoundsHold) {
    // Large amplitudes so that the bounds are hit often.
    StdpConstants s = constants(StdpRule::pair_all);
    s.a_plus = 0.3f;
    s.a_minus = 0.35f;
    float w = 0.5f;
    int at_max = 0, at_zero = 0;
    for (uint32_t i = 0; i < 20000; ++i) {
        const Draw4 d = philox(3, 99, i, 0);
        const float trace = 3.0f * u01(d.v[0]);
        w = (d.v[1] & 1) ? potentiate(s, w, trace, 0.0f) : depress(s, w, trace, 0.0f);
        ASSERT_GE(w, 0.0f);
        ASSERT_LE(w, s.w_max);
        at_max += w == s.w_max;
        at_zero += w == 0.0f;
    }
    EXPECT_GT(at_max, 0);
    EXPECT_GT(at_zero, 0);
    // Exactly the bound, not beyond: one big step each way.
    EXPECT_EQ(potentiate(s, 0.9f, 10.0f, 0.0f), s.w_max);
    EXPECT_EQ(depress(s, 0.1f, 10.0f, 0.0f), 0.0f);
}

TEST(Stdp, SoftBounds) {
    const StdpConstants s = constants(StdpRule::pair_all, StdpBounds::soft);
    // dw+ = A+ x (w_max - w) / w_max, dw- = A- y w / w_max.
    EXPECT_NEAR(potentiate(s, 0.3f, 0.6f, 0.0f), 0.3 + kAPlus * 0.6 * (kWMax - 0.3) / kWMax, 1e-7);
    EXPECT_NEAR(depress(s, 0.3f, 0.6f, 0.0f), 0.3 - kAMinus * 0.6 * 0.3 / kWMax, 1e-7);
    // Repeated potentiation with x = 1 approaches w_max geometrically and never reaches it:
    // w_n = w_max - (w_max - w_0) (1 - A+/w_max)^n.
    StdpConstants big = s;
    big.a_plus = 0.05f;
    big.a_minus = 0.05f;
    float w = 0.2f;
    for (int n = 1; n <= 200; ++n) {
        w = potentiate(big, w, 1.0f, 0.0f);
        ASSERT_LT(w, big.w_max);
        const double expected = kWMax - (kWMax - 0.2) * std::pow(1 - 0.05 / kWMax, n);
        ASSERT_NEAR(w, expected, 2e-6) << n;
    }
    float v = 0.8f;
    for (int n = 1; n <= 200; ++n) {
        v = depress(big, v, 1.0f, 0.0f);
        ASSERT_GT(v, 0.0f);
        ASSERT_NEAR(v, 0.8 * std::pow(1 - 0.05 / kWMax, n), 2e-6) << n;
    }
}

TEST(Stdp, NearestNeighbourVersusAllToAll) {
    // Pre spikes at steps 0 and 50, post at 100.
    const float d = constants(StdpRule::pair_all).decay_plus;
    const float x_all = trace_at(StdpRule::pair_all, d, {0, 50}, 100);
    const float x_nn = trace_at(StdpRule::nearest, d, {0, 50}, 100);
    const double e50 = std::exp(-5.0 / kTauPlus), e100 = std::exp(-10.0 / kTauPlus);
    EXPECT_NEAR(x_all, e50 + e100, 1e-5);
    EXPECT_NEAR(x_nn, e50, 1e-5);
    const StdpConstants all = constants(StdpRule::pair_all), nn = constants(StdpRule::nearest);
    EXPECT_NEAR(potentiate(all, 0.0f, x_all, 0.0f), kAPlus * (e50 + e100), 1e-8);
    EXPECT_NEAR(potentiate(nn, 0.0f, x_nn, 0.0f), kAPlus * e50, 1e-8);
    // Nearest resets the trace to 1 at a spike, all-to-all adds 1.
    EXPECT_EQ(trace_jump(StdpRule::nearest, 0.5f), 1.0f);
    EXPECT_EQ(trace_jump(StdpRule::pair_all, 0.5f), 1.5f);
    // A lone pair is the same under both.
    EXPECT_EQ(trace_at(StdpRule::pair_all, d, {3}, 60), trace_at(StdpRule::nearest, d, {3}, 60));
}

// The triplet rule (Pfister & Gerstner 2006, all-to-all): potentiation at a post spike is
// x (A2+ + A3+ o2), o2 the slow post trace *before* this spike's own jump. A lone post spike has
// o2 = 0 and gets the pair term only; a second post spike 5 ms later gets A3+ exp(-5/tau_y) more.
TEST(Stdp, TripletTermOnlyWithPostBursts) {
    const StdpConstants tri = constants(StdpRule::triplet);
    const StdpConstants pair = constants(StdpRule::pair_all);
    // Pre at step 0, post at steps 100 and 150. Engine order per step: phase 1 decays x, y, r2,
    // o2 and jumps x, y; phase 6 potentiates with o2, then o2 (and r2) jump.
    float x = 0, o2 = 0, w_tri = 0.1f, w_pair = 0.1f;
    float o2_seen[2] = {-1, -1};
    int post_index = 0;
    for (int step = 0; step <= 150; ++step) {
        const bool pre = step == 0, post = step == 100 || step == 150;
        x = trace_step(StdpRule::triplet, x, tri.decay_plus, pre);
        o2 = o2 * tri.decay_y;
        if (post) {
            o2_seen[post_index++] = o2;
            w_tri = potentiate(tri, w_tri, x, o2);
            w_pair = potentiate(pair, w_pair, x, 0.0f);
            o2 = o2 + 1.0f;
        }
    }
    EXPECT_EQ(o2_seen[0], 0.0f);  // a lone post spike: no triplet term
    EXPECT_NEAR(o2_seen[1], std::exp(-5.0 / kTauY), 1e-5);
    const double x1 = std::exp(-10.0 / kTauPlus), x2 = std::exp(-15.0 / kTauPlus);
    EXPECT_NEAR(w_pair, 0.1 + kAPlus * (x1 + x2), 1e-7);
    EXPECT_NEAR(w_tri, 0.1 + kAPlus * x1 + (kAPlus + 0.0062 * std::exp(-5.0 / kTauY)) * x2, 1e-7);
    EXPECT_GT(w_tri - w_pair, 1e-3);
    // The extra term is exactly A3+ o2 x, and vanishes for o2 = 0 (the first spike of a burst).
    EXPECT_EQ(potentiate(tri, 0.2f, 0.5f, 0.0f), potentiate(pair, 0.2f, 0.5f, 0.0f));
    EXPECT_NEAR(potentiate(tri, 0.2f, 0.5f, 0.4f) - potentiate(pair, 0.2f, 0.5f, 0.4f),
                0.0062 * 0.4 * 0.5, 1e-7);
    // Pair rules ignore o2.
    EXPECT_EQ(potentiate(pair, 0.2f, 0.5f, 0.9f), potentiate(pair, 0.2f, 0.5f, 0.0f));
}

TEST(Stdp, TripletDepressionTerm) {
    const StdpConstants tri = constants(StdpRule::triplet, StdpBounds::hard, 1, 0.0062, 0.002);
    const StdpConstants pair = constants(StdpRule::pair_all);
    EXPECT_EQ(depress(tri, 0.5f, 0.3f, 0.0f), depress(pair, 0.5f, 0.3f, 0.0f));
    EXPECT_NEAR(depress(tri, 0.5f, 0.3f, 0.7f), 0.5 - (kAMinus + 0.002 * 0.7) * 0.3, 1e-7);
}

TEST(Stdp, CsrRowOf) {
    const uint64_t row_ptr[] = {0, 3, 3, 7, 10};  // row 1 empty
    const uint32_t expected[] = {0, 0, 0, 2, 2, 2, 2, 3, 3, 3};
    for (uint64_t syn = 0; syn < 10; ++syn) EXPECT_EQ(csr_row_of(row_ptr, 4, syn), expected[syn]);
}

// A window replayed by stdp_window / trace_after / slow_trace_after equals stepping the
// engines' phases one step at a time (phase 1 traces, delivery then depression at a pre spike,
// potentiation at a post spike, slow-trace jumps after phase 6), bit for bit: every rule and
// bound, masks from empty to full, windows of 1 to 32 steps, with the weight delivered at each
// presynaptic spike checked too. A replay that skipped a step, swapped depression and
// potentiation, or read a trace before its own step's jump fails.
TEST(Stdp, WindowReplayEqualsStepping) {
    int checked = 0, changed = 0;
    for (StdpRule rule : {StdpRule::pair_all, StdpRule::nearest, StdpRule::triplet}) {
        for (StdpBounds bounds : {StdpBounds::hard, StdpBounds::soft}) {
            const StdpConstants s = constants(rule, bounds, 1.5, 0.0062, 0.002);
            const bool triplet = rule == StdpRule::triplet;
            for (uint32_t trial = 0; trial < 400; ++trial) {
                const Draw4 d =
                    philox(5, 17, trial, static_cast<uint32_t>(rule) * 2 + uint32_t(bounds), 0);
                const uint32_t count = 1 + d.v[0] % 32;
                const uint32_t keep = count == 32 ? 0xffffffffu : (1u << count) - 1u;
                // Sparse and dense masks (bursts), and the two extremes.
                uint32_t pre = d.v[1] & d.v[3] & keep;
                uint32_t post = d.v[2] & (trial % 3 ? d.v[3] : ~0u) & keep;
                if (trial % 50 == 0) pre = keep;
                if (trial % 50 == 1) post = 0;
                const SynapseTraces t0{0.1f * (d.v[3] % 17), 0.3f * (d.v[0] % 5),
                                       0.05f * (d.v[1] % 23), 0.2f * (d.v[2] % 7)};
                const float w0 = 0.01f * (d.v[3] % 101);
                // Reference: per step, as the engines' phases do it.
                float x = t0.x, r2 = t0.r2, y = t0.y, o2 = t0.o2, w = w0;
                std::vector<std::pair<uint32_t, float>> delivered_ref, delivered;
                for (uint32_t j = 0; j < count; ++j) {
                    const bool a = (pre >> j) & 1u, b = (post >> j) & 1u;
                    x = trace_step(rule, x, s.decay_plus, a);  // phase 1
                    y = trace_step(rule, y, s.decay_minus, b);
                    if (triplet) {
                        r2 = r2 * s.decay_x;
                        o2 = o2 * s.decay_y;
                    }
                    if (a) {  // phase 2a
                        delivered_ref.emplace_back(j, w);
                        w = depress(s, w, y, r2);
                    }
                    if (b) w = potentiate(s, w, x, o2);  // phase 6
                    if (triplet) {
                        if (a) r2 = r2 + 1.0f;
                        if (b) o2 = o2 + 1.0f;
                    }
                }
                const float ww = stdp_window(s, w0, pre, post, t0, [&](uint32_t j, float wd) {
                    delivered.emplace_back(j, wd);
                });
                ASSERT_EQ(ww, w) << "rule " << int(rule) << " trial " << trial;
                ASSERT_EQ(delivered, delivered_ref);
                ASSERT_EQ(trace_after(rule, t0.x, s.decay_plus, pre, count), x);
                ASSERT_EQ(trace_after(rule, t0.y, s.decay_minus, post, count), y);
                if (triplet) {
                    ASSERT_EQ(slow_trace_after(t0.r2, s.decay_x, pre, count), r2);
                    ASSERT_EQ(slow_trace_after(t0.o2, s.decay_y, post, count), o2);
                }
                ++checked;
                changed += w != w0;
            }
        }
    }
    EXPECT_EQ(checked, 2400);
    EXPECT_GT(changed, 2000);  // the windows did move weights
}
