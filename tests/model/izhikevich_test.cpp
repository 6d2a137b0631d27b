// The Izhikevich soma (MODEL.md section 2) against the semi-implicit step computed here in double
// from the equation and the parameter table, independently of the header's arithmetic.
#include "l5sim/model/izhikevich.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "l5sim/cell_types.hpp"
#include "l5sim/model/synapse.hpp"

using namespace l5sim::model;

namespace {

constexpr double kDt = 0.1;  // ms

// MODEL.md section 2, PYR soma column.
struct Pyr {
    static constexpr double C = 150, k = 2.5, v_r = -75, v_t = -45, v_peak = 50, a = 0.01, b = 5;
};

// Receptor reversals of MODEL.md section 6 and the 85 nS soma cap on gated NMDA.
constexpr double kEAmpa = 0, kENmda = 0, kEGaba = -75, kEAdapt = -80, kCap = 85;

// GABA_B (an extra receptor, model/receptors.hpp): tau 150 ms, E -90 mV.
constexpr double kEGabaB = -90;

ReceptorConstants receptors() {
    return ReceptorConstants{{static_cast<float>(1 - kDt / 6), static_cast<float>(1 - kDt / 100),
                              static_cast<float>(1 - kDt / 6), static_cast<float>(1 - kDt / 150)},
                             {static_cast<float>(kEAmpa), static_cast<float>(kENmda),
                              static_cast<float>(kEGaba), static_cast<float>(kEGabaB)},
                             static_cast<float>(kCap)};
}

struct Expected {
    double v, u;
};

// v' = (v + dt/C (k (v - v_r)(v - v_t) - u + GE + I)) / (1 + dt/C G); u' = u + dt a (b (v - v_r) -
// u) with NMDA gated by B(v) = q^2 / (1 + q^2), q = (v + 80)/60, each NMDA kind capped at 85 nS.
Expected reference_step(double v, double u, double g_ampa, double g_nmda, double g_nmda_bg,
                        double g_gaba, double g_adapt, double i_ext) {
    const double q = (v + 80) / 60;
    const double B = q * q / (1 + q * q);
    const double gn = std::min(g_nmda * B, kCap);
    const double gnb = std::min(g_nmda_bg * B, kCap);
    const double G = g_ampa + gn + gnb + g_gaba + g_adapt;
    const double GE = g_ampa * kEAmpa + (gn + gnb) * kENmda + g_gaba * kEGaba + g_adapt * kEAdapt;
    const double h = kDt / Pyr::C;
    const double vn =
        (v + h * (Pyr::k * (v - Pyr::v_r) * (v - Pyr::v_t) - u + GE + i_ext)) / (1 + h * G);
    const double un = u + kDt * Pyr::a * (Pyr::b * (v - Pyr::v_r) - u);
    return {vn, un};
}

// Somatic conductances as the tests write them: AMPA, NMDA, background NMDA, GABA_A, adaptation.
struct Soma5 {
    float ampa, nmda, nmda_bg, gaba, adapt;
};

Expected engine_step(float v, float u, const Soma5& c, float i_ext) {
    const IzhConstants k = make_izh_constants(l5sim::cell_type("pyramidal").soma, kDt);
    SomaConductances g{};
    g.g[0] = c.ampa;
    g.g[1] = c.nmda;
    g.g[2] = c.gaba;
    g.nmda_bg = c.nmda_bg;
    g.adapt = c.adapt;
    soma_step<kCoreReceptors>(k, receptors(), g, static_cast<float>(kEAdapt), i_ext, &v, &u);
    return {v, u};
}

// Float arithmetic on values of order 100: a few ulp of 1e2 is ~1e-5.
constexpr double kTolV = 2e-5, kTolU = 2e-5;

}  // namespace

TEST(SomaStep, NoConductancesMatchesHandComputedEuler) {
    // Hand-computed: v' = -60 + (0.1/150)(2.5 * 15 * -15 - 20 + 300) = -60.188333...
    //                u' = 20 + 0.1 * 0.01 * (5 * 15 - 20) = 20.055
    const Expected got = engine_step(-60.0f, 20.0f, {0, 0, 0, 0, 0}, 300.0f);
    EXPECT_NEAR(got.v, -60.0 + (0.1 / 150) * (2.5 * 15 * -15 - 20 + 300), kTolV);
    EXPECT_NEAR(got.v, -60.18833333333333, kTolV);
    EXPECT_NEAR(got.u, 20.055, kTolU);
    // A sweep of states and currents, including above threshold.
    for (double v = -90; v <= 45; v += 7.5) {
        for (double u : {-100.0, 0.0, 37.5, 400.0}) {
            for (double i : {0.0, 250.0, 1000.0}) {
                const Expected ref = reference_step(v, u, 0, 0, 0, 0, 0, i);
                const Expected got2 = engine_step(float(v), float(u), {0, 0, 0, 0, 0}, float(i));
                EXPECT_NEAR(got2.v, ref.v, kTolV * std::max(1.0, std::abs(ref.v) / 50))
                    << "v=" << v << " u=" << u << " I=" << i;
                EXPECT_NEAR(got2.u, ref.u, kTolU * std::max(1.0, std::abs(ref.u) / 50));
            }
        }
    }
}

TEST(SomaStep, WithConductancesIsLinearlyImplicit) {
    // v = -50: q = 0.5, B = 0.2; G = 3 + 10*0.2 + 20*0.2 + 4 + 0.5 = 13.5; GE = 4*-75 + 0.5*-80.
    const double v = -50, u = 30, I = 120;
    const double h = 0.1 / 150;
    const double by_hand =
        (v + h * (2.5 * 25 * -5 - u + (4 * -75.0 + 0.5 * -80.0) + I)) / (1 + h * 13.5);
    const Expected got = engine_step(float(v), float(u), {3, 10, 20, 4, 0.5f}, float(I));
    EXPECT_NEAR(got.v, by_hand, kTolV);
    EXPECT_NEAR(got.u, u + 0.1 * 0.01 * (5 * 25 - u), kTolU);
    // Forward Euler in the conductances would give a different answer (the test can fail).
    const double explicit_euler =
        v + h * (2.5 * 25 * -5 - u + (4 * -75.0 + 0.5 * -80.0) - 13.5 * v + I);
    EXPECT_GT(std::abs(by_hand - explicit_euler), 10 * kTolV);

    for (double vv = -85; vv <= 40; vv += 12.5) {
        const Expected ref = reference_step(vv, 12, 2.5, 30, 7, 6, 1.2, 200);
        const Expected g2 = engine_step(float(vv), 12.0f, {2.5f, 30, 7, 6, 1.2f}, 200.0f);
        EXPECT_NEAR(g2.v, ref.v, kTolV) << "v=" << vv;
        EXPECT_NEAR(g2.u, ref.u, kTolU);
    }
}

// GABA_B (model/receptors.hpp) is one more conductance at its own reversal, summed after GABA_A:
// by hand at v = -50, G = 13.5 + 5, GE = 4*-75 + 5*-90 + 0.5*-80. With no GABA_B conductance the
// four-receptor step is the three-receptor step bit for bit (what a population without a GABA_B
// input gets in the CUDA engine's packed launches).
TEST(SomaStep, GabaBIsOneMoreConductanceAtItsReversal) {
    const IzhConstants k = make_izh_constants(l5sim::cell_type("pyramidal").soma, kDt);
    const double v = -50, u = 30, I = 120;
    const double h = 0.1 / 150;
    const double by_hand =
        (v + h * (2.5 * 25 * -5 - u + (4 * -75.0 + 5 * kEGabaB + 0.5 * -80.0) + I)) /
        (1 + h * 18.5);
    SomaConductances g{{3, 10, 4, 5}, 20, 0.5f};
    float v4 = float(v), u4 = float(u);
    soma_step<kReceptorCount>(k, receptors(), g, float(kEAdapt), float(I), &v4, &u4);
    EXPECT_NEAR(v4, by_hand, kTolV);
    EXPECT_NEAR(u4, u + 0.1 * 0.01 * (5 * 25 - u), kTolU);
    // Without the GABA_B term the answer moves by more than the tolerance (the test can fail).
    float v3 = float(v), u3 = float(u);
    soma_step<kCoreReceptors>(k, receptors(), g, float(kEAdapt), float(I), &v3, &u3);
    EXPECT_GT(std::abs(double(v3) - by_hand), 100 * kTolV);
    for (float vv = -85; vv <= 40; vv += 12.5f) {
        SomaConductances z{{2.5f, 30, 6, 0}, 7, 1.2f};
        float va = vv, ua = 12, vb = vv, ub = 12;
        soma_step<kCoreReceptors>(k, receptors(), z, float(kEAdapt), 200, &va, &ua);
        soma_step<kReceptorCount>(k, receptors(), z, float(kEAdapt), 200, &vb, &ub);
        EXPECT_EQ(va, vb) << "v=" << vv;
        EXPECT_EQ(ua, ub) << "v=" << vv;
    }
}

TEST(SomaStep, NmdaGateAndSomaCapSeparatelyForRecurrentAndBackground) {
    // At v = -40: q = 2/3, B = (4/9)/(13/9) = 4/13.
    const double v = -40, u = 0;
    const double B = 4.0 / 13.0;
    const double h = 0.1 / 150;
    auto by_hand = [&](double g_gated) {
        return (v + h * (2.5 * 35 * 5 - u + 0 + 0)) / (1 + h * g_gated);
    };
    // Recurrent NMDA 500 nS -> gated 153.8 nS, capped at 85.
    Expected got = engine_step(float(v), float(u), {0, 500, 0, 0, 0}, 0);
    EXPECT_NEAR(got.v, by_hand(85), kTolV);
    EXPECT_GT(std::abs(by_hand(85) - by_hand(500 * B)), 1e-3);  // the cap matters here
    // Background NMDA alone: the same cap.
    got = engine_step(float(v), float(u), {0, 0, 500, 0, 0}, 0);
    EXPECT_NEAR(got.v, by_hand(85), kTolV);
    // Both above the cap: each is capped on its own, so 170 nS in total (not 85).
    got = engine_step(float(v), float(u), {0, 500, 500, 0, 0}, 0);
    EXPECT_NEAR(got.v, by_hand(170), kTolV);
    EXPECT_GT(std::abs(by_hand(170) - by_hand(85)), 1e-3);
    // Below the cap: gated, not capped (250 * 4/13 = 76.9 nS).
    got = engine_step(float(v), float(u), {0, 250, 0, 0, 0}, 0);
    EXPECT_NEAR(got.v, by_hand(250 * B), kTolV);
    // Each below the cap but the sum above it: no cap on the sum.
    got = engine_step(float(v), float(u), {0, 250, 250, 0, 0}, 0);
    EXPECT_NEAR(got.v, by_hand(500 * B), kTolV);
    // A sweep against the reference.
    for (double gn : {0.0, 100.0, 276.25, 277.0, 1000.0}) {
        for (double gnb : {0.0, 50.0, 400.0}) {
            for (double vv : {-75.0, -40.0, -10.0}) {
                const Expected ref = reference_step(vv, 5, 1, gn, gnb, 0, 0, 0);
                const Expected g2 =
                    engine_step(float(vv), 5.0f, {1, float(gn), float(gnb), 0, 0}, 0);
                EXPECT_NEAR(g2.v, ref.v, kTolV) << gn << " " << gnb << " " << vv;
            }
        }
    }
}

TEST(SomaStep, NmdaGateFormula) {
    for (double v = -100; v <= 40; v += 0.5) {
        const double q = (v + 80) / 60;
        EXPECT_NEAR(nmda_gate(float(v)), q * q / (1 + q * q), 1e-7) << v;
    }
    EXPECT_EQ(nmda_gate(-80.0f), 0.0f);
    EXPECT_NEAR(nmda_gate(-20.0f), 0.5, 1e-7);
}

TEST(SomaReset, RegularAndBurstResets) {
    const IzhConstants k = make_izh_constants(l5sim::cell_type("pyramidal").soma, kDt);
    // v >= v_peak (50 mV, inclusive) spikes; regular reset c = -65, d = 250.
    float v = 50.0f, u = 12.5f;
    EXPECT_TRUE(soma_reset(k, false, &v, &u));
    EXPECT_EQ(v, -65.0f);
    EXPECT_EQ(u, 262.5f);
    // Burst mode: c = -55, d = 150.
    v = 73.0f;
    u = 12.5f;
    EXPECT_TRUE(soma_reset(k, true, &v, &u));
    EXPECT_EQ(v, -55.0f);
    EXPECT_EQ(u, 162.5f);
    // Below the peak nothing happens, burst mode or not.
    for (bool burst : {false, true}) {
        v = 49.99f;
        u = 3.0f;
        EXPECT_FALSE(soma_reset(k, burst, &v, &u));
        EXPECT_EQ(v, 49.99f);
        EXPECT_EQ(u, 3.0f);
    }
}

TEST(SomaReset, InterneuronParameters) {
    // PV (basket) of MODEL.md: C 20, v_peak 25, a 0.15, c -55, d 200 (the registry's row).
    const IzhConstants k = make_izh_constants(l5sim::cell_type("pv").soma, kDt);
    float v = 25.0f, u = 1.0f;
    EXPECT_TRUE(soma_reset(k, false, &v, &u));
    EXPECT_EQ(v, -55.0f);
    EXPECT_EQ(u, 201.0f);
    EXPECT_FLOAT_EQ(k.dt_over_C, 0.1f / 20.0f);
    EXPECT_FLOAT_EQ(k.dt_a, 0.015f);
}
