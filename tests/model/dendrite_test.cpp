// The PYR apical dendrite and its coupling to the soma (MODEL.md sections 3 and 4): one step
// against the equation in double, the resting state, the BAP window and the plateau switch.
#include "l5sim/model/dendrite.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "l5sim/cell_types.hpp"
#include "l5sim/model/rng.hpp"

using namespace l5sim::model;

namespace {

constexpr double kDt = 0.1;
// MODEL.md section 3.
constexpr double kC = 170, kGL = 170.0 / 7.0, kEL = -70, kGCa = 1200, kEHalf = -38, kD = 6;
constexpr double kA = 1.0 / 30.0, kB = -13, kPBap = 2600, kTheta = -30;

double F(double v) { return 1 / (1 + std::exp((kEHalf - v) / kD)); }

ReceptorConstants receptors() {
    return ReceptorConstants{{static_cast<float>(1 - kDt / 6), static_cast<float>(1 - kDt / 100),
                              static_cast<float>(1 - kDt / 6), static_cast<float>(1 - kDt / 150)},
                             {0.0f, 0.0f, -75.0f, -90.0f},
                             85.0f};
}

// Dendritic conductances AMPA, NMDA, GABA_A (and GABA_B).
DendriteConductances dg(float ampa, float nmda, float gaba, float gaba_b = 0) {
    return DendriteConductances{{ampa, nmda, gaba, gaba_b}};
}

DendriteConstants constants() {
    return make_dendrite_constants(l5sim::cell_type("pyramidal").dendrite, kDt);
}

// The fixed point of the undriven dendrite: u* = b_d (v* - E_L) and
// -g_L (v* - E_L) + g_Ca F(v*) + u* = 0, i.e. (g_L - b_d)(v* - E_L) = g_Ca F(v*). Newton in double.
double rest_fixed_point() {
    double v = kEL;
    for (int it = 0; it < 50; ++it) {
        const double f = (kGL - kB) * (v - kEL) - kGCa * F(v);
        const double fp = (kGL - kB) - kGCa * F(v) * (1 - F(v)) / kD;
        v -= f / fp;
    }
    return v;
}

}  // namespace

TEST(Dendrite, CalciumActivationMatchesLogistic) {
    const DendriteConstants k = constants();
    for (double v = -100; v <= 50; v += 0.25)
        EXPECT_NEAR(calcium_activation(k, float(v)), F(v), 2e-7) << v;
    EXPECT_NEAR(calcium_activation(k, -38.0f), 0.5, 1e-7);
}

TEST(Dendrite, OneStepMatchesHandComputedEuler) {
    const DendriteConstants k = constants();
    const ReceptorConstants rc = receptors();
    struct Case {
        double v, u, ga, gn, gg, bap, i;
    };
    const Case cases[] = {{-70, 0, 0, 0, 0, 0, 0},
                          {-50, -100, 2, 5, 3, 2600, 100},
                          {-35, -300, 0.5, 40, 10, 0, -200},
                          {-20, -600, 0, 0, 0, 1300, 1000},
                          {10, -900, 1, 1, 1, 0, 0}};
    for (const Case& c : cases) {
        const double q = (c.v + 80) / 60;
        const double B = q * q / (1 + q * q);
        const double i_syn = c.ga * (0 - c.v) + c.gn * B * (0 - c.v) + c.gg * (-75 - c.v);
        const double dv =
            (kDt / kC) * (-kGL * (c.v - kEL) + kGCa * F(c.v) + c.bap + c.u + i_syn + c.i);
        const double du = kDt * kA * (kB * (c.v - kEL) - c.u);
        float v = float(c.v), u = float(c.u);
        dendrite_step<kCoreReceptors>(k, rc, dg(float(c.ga), float(c.gn), float(c.gg)),
                                      float(c.bap), float(c.i), &v, &u);
        EXPECT_NEAR(v, c.v + dv, 2e-5) << "v0 = " << c.v;
        EXPECT_NEAR(u, c.u + du, 2e-5 * std::max(1.0, std::abs(c.u) / 100)) << "v0 = " << c.v;
    }
}

// GABA_B on the dendrite: one more synaptic current g (E_GABA_B - v) with E = -90 mV, no gate;
// with no GABA_B conductance the four-receptor step equals the three-receptor one bit for bit.
TEST(Dendrite, GabaBAddsItsCurrent) {
    const DendriteConstants k = constants();
    const ReceptorConstants rc = receptors();
    for (double v0 : {-70.0, -50.0, -20.0}) {
        const double q = (v0 + 80) / 60;
        const double B = q * q / (1 + q * q);
        const double i_syn = 2 * (0 - v0) + 5 * B * (0 - v0) + 3 * (-75 - v0) + 4 * (-90 - v0);
        const double dv = (kDt / kC) * (-kGL * (v0 - kEL) + kGCa * F(v0) + -100 + i_syn);
        float v = float(v0), u = -100;
        dendrite_step<kReceptorCount>(k, rc, dg(2, 5, 3, 4), 0.0f, 0.0f, &v, &u);
        EXPECT_NEAR(v, v0 + dv, 2e-5) << "v0 = " << v0;
        float v3 = float(v0), u3 = -100;
        dendrite_step<kCoreReceptors>(k, rc, dg(2, 5, 3, 4), 0.0f, 0.0f, &v3, &u3);
        EXPECT_GT(std::abs(v3 - v), 1e-3) << "v0 = " << v0;  // the term matters
        float va = float(v0), ua = -100, vb = float(v0), ub = -100;
        dendrite_step<kCoreReceptors>(k, rc, dg(2, 5, 3, 0), 0.0f, 0.0f, &va, &ua);
        dendrite_step<kReceptorCount>(k, rc, dg(2, 5, 3, 0), 0.0f, 0.0f, &vb, &ub);
        EXPECT_EQ(va, vb) << "v0 = " << v0;
        EXPECT_EQ(ua, ub) << "v0 = " << v0;
    }
}

// MODEL.md: "Initial state: v_d = -70, u_d = 0". That is not exactly the fixed point, because
// g_Ca F(-70) = 1200 / (1 + e^(32/6)) = 5.77 pA is not zero. The undriven dendrite first rises
// on the fast time scale (tau_d = 7 ms) towards -69.76 mV, where the leak alone balances the
// calcium term, overshoots to about -69.796 mV (step ~190) while u_d is still catching up
// (1/a_d = 30 ms), and settles on the fixed point of both equations, v* = -69.841 mV,
// u* = b_d (v* - E_L) = -2.07 pA, where it stays. "At rest" therefore means: within 0.25 mV of
// -70 on every step, never below -70, settled on the analytic fixed point (to float
// stagnation: an increment dt/C_d I below half an ulp of 70 mV is lost), and not moving.
TEST(Dendrite, AtRestStaysAtRest) {
    const DendriteConstants k = constants();
    const ReceptorConstants rc = receptors();
    const double v_star = rest_fixed_point();
    const double u_star = kB * (v_star - kEL);
    EXPECT_NEAR(v_star, -69.841, 2e-3);  // the drift is small and known
    float v = -70.0f, u = 0.0f;
    // The very first step: only the calcium leak term acts.
    dendrite_step<kCoreReceptors>(k, rc, dg(0, 0, 0), 0.0f, 0.0f, &v, &u);
    EXPECT_NEAR(v, -70 + kDt / kC * kGCa * F(-70), 1e-5);
    EXPECT_EQ(u, 0.0f);
    float v_max = v;
    for (int s = 1; s < 10000; ++s) {
        dendrite_step<kCoreReceptors>(k, rc, dg(0, 0, 0), 0.0f, 0.0f, &v, &u);
        ASSERT_LE(std::abs(v - kEL), 0.25) << "step " << s;
        ASSERT_GE(v, kEL) << "step " << s;
        v_max = std::max(v_max, v);
    }
    // The overshoot is bounded by the leak-only balance g_L (v - E_L) = g_Ca F(v).
    EXPECT_LT(v_max, -69.75);
    EXPECT_NEAR(v, v_star, 1e-3);
    EXPECT_NEAR(u, u_star, 2e-2);
    // Settled: another 1000 steps change nothing beyond float noise.
    const float v_end = v, u_end = u;
    for (int s = 0; s < 1000; ++s)
        dendrite_step<kCoreReceptors>(k, rc, dg(0, 0, 0), 0.0f, 0.0f, &v, &u);
    EXPECT_NEAR(v, v_end, 1e-5);
    EXPECT_NEAR(u, u_end, 1e-5);
}

TEST(Dendrite, BapWindowIsStepsNPlus5ToNPlus25) {
    const DendriteConstants k = constants();
    for (int n : {0, 3, 40}) {
        uint32_t history = 0;
        for (int step = 0; step < 100; ++step) {
            history = advance_history(history, step == n);
            const bool expected = step >= n + 5 && step <= n + 25;
            EXPECT_EQ(bap_window_open(k, history), expected) << "spike " << n << " step " << step;
            // gamma = 1: p_BAP on every window step whatever the draw; never outside.
            for (float draw : {0.0f, 0.5f, 0.99999994f}) {
                EXPECT_EQ(bap_current(k, Coupling::stochastic, history, 1.0f, draw),
                          expected ? 2600.0f : 0.0f)
                    << "spike " << n << " step " << step;
            }
            // gamma = 0: never.
            EXPECT_EQ(bap_current(k, Coupling::stochastic, history, 0.0f, 0.0f), 0.0f);
        }
    }
}

TEST(Dendrite, OverlappingBapWindowsAreTheirUnion) {
    const DendriteConstants k = constants();
    const int spikes[] = {10, 22, 60};
    uint32_t history = 0;
    for (int step = 0; step < 120; ++step) {
        const bool spiked = step == 10 || step == 22 || step == 60;
        history = advance_history(history, spiked);
        bool expected = false;
        for (int n : spikes) expected = expected || (step >= n + 5 && step <= n + 25);
        EXPECT_EQ(bap_window_open(k, history), expected) << step;
    }
}

TEST(Dendrite, StochasticBapFractionIsGamma) {
    const DendriteConstants k = constants();
    for (float gamma : {0.1f, 0.3f, 0.75f}) {
        uint64_t window = 0, with_bap = 0;
        for (uint32_t trial = 0; trial < 4000; ++trial) {
            uint32_t history = 0;
            for (uint32_t step = 0; step < 30; ++step) {
                history = advance_history(history, step == 0);
                const Draw4 d = philox(7, stream_id(StreamKind::coupling, 0), step, trial);
                const float bap = bap_current(k, Coupling::stochastic, history, gamma, u01(d.v[0]));
                const bool open = step >= 5 && step <= 25;
                EXPECT_TRUE(bap == 0.0f || (open && bap == 2600.0f));
                window += open;
                with_bap += bap > 0;
            }
        }
        ASSERT_EQ(window, 4000u * 21u);
        const double frac = double(with_bap) / double(window);
        // Binomial: sd = sqrt(g (1 - g) / 84000) <= 0.0018; allow 5 sd.
        EXPECT_NEAR(frac, gamma, 0.009) << "gamma " << gamma;
    }
}

TEST(Dendrite, ScaledBapIsGammaTimesPbap) {
    const DendriteConstants k = constants();
    for (float gamma : {0.0f, 0.25f, 0.6f, 1.0f}) {
        uint32_t history = 0;
        for (int step = 0; step < 40; ++step) {
            history = advance_history(history, step == 2);
            const bool open = step >= 7 && step <= 27;
            for (float draw : {0.0f, 0.7f}) {
                const float bap = bap_current(k, Coupling::scaled, history, gamma, draw);
                if (open)
                    EXPECT_NEAR(bap, gamma * kPBap, 1e-3) << step;
                else
                    EXPECT_EQ(bap, 0.0f) << step;
            }
        }
    }
}

TEST(Dendrite, PlateauCriterionAndDraw) {
    const DendriteConstants k = constants();
    // Threshold inclusive at theta_Ca = -30 mV.
    EXPECT_TRUE(plateau_burst(k, Coupling::stochastic, -30.0f, 1.0f, 0.999f));
    EXPECT_FALSE(plateau_burst(k, Coupling::stochastic, -30.001f, 1.0f, 0.0f));
    EXPECT_TRUE(plateau_burst(k, Coupling::stochastic, 10.0f, 1.0f, 0.5f));
    // Stochastic: only when the draw is below gamma.
    EXPECT_TRUE(plateau_burst(k, Coupling::stochastic, -20.0f, 0.4f, 0.39f));
    EXPECT_FALSE(plateau_burst(k, Coupling::stochastic, -20.0f, 0.4f, 0.4f));
    EXPECT_FALSE(plateau_burst(k, Coupling::stochastic, -20.0f, 0.0f, 0.0f));
    // Scaled: deterministic on the plateau criterion alone.
    EXPECT_TRUE(plateau_burst(k, Coupling::scaled, -20.0f, 0.3f, 0.9f));
    EXPECT_FALSE(plateau_burst(k, Coupling::scaled, -31.0f, 1.0f, 0.0f));
    EXPECT_FLOAT_EQ(k.theta_ca, float(kTheta));
}
