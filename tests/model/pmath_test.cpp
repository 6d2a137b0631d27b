// The portable transcendentals against libm in double: they must be accurate, not only equal
// on both engines.
#include "l5sim/model/pmath.hpp"

#include <gtest/gtest.h>

#include <cmath>

using namespace l5sim::model;

TEST(Pmath, ExpMatchesLibmToFewUlp) {
    for (float x = -80.0f; x < 80.0f; x += 0.0137f) {
        const double ref = std::exp(static_cast<double>(x));
        EXPECT_NEAR(pexp(x) / ref, 1.0, 3e-7) << "x = " << x;
    }
    EXPECT_EQ(pexp(0.0f), 1.0f);
    EXPECT_EQ(pexp(-100.0f), 0.0f);
}

TEST(Pmath, LogMatchesLibm) {
    for (float x = 1e-30f; x < 1e30f; x *= 1.37f) {
        const double ref = std::log(static_cast<double>(x));
        EXPECT_NEAR(plog(x), ref, 2e-7 * std::max(1.0, std::abs(ref))) << "x = " << x;
    }
    EXPECT_EQ(plog(1.0f), 0.0f);
}

TEST(Pmath, SinCosOfTurns) {
    for (float u = -2.0f; u < 2.0f; u += 0.00731f) {
        float s, c;
        psincos_2pi(u, &s, &c);
        EXPECT_NEAR(s, std::sin(2 * M_PI * static_cast<double>(u)), 3e-7) << "u = " << u;
        EXPECT_NEAR(c, std::cos(2 * M_PI * static_cast<double>(u)), 3e-7) << "u = " << u;
    }
}

TEST(Pmath, Sigmoid) {
    EXPECT_EQ(psigmoid(0.0f), 0.5f);
    for (float x = -20.0f; x < 20.0f; x += 0.1f)
        EXPECT_NEAR(psigmoid(x), 1.0 / (1.0 + std::exp(-static_cast<double>(x))), 2e-7);
}
