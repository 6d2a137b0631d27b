// Poisson counts by inverse CDF (model/poisson.hpp): exact small cases and the moments of many
// draws against lambda.
#include "l5sim/model/poisson.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "l5sim/model/rng.hpp"

using namespace l5sim::model;

namespace {

PoissonConstants constants(double lambda) {
    return PoissonConstants{static_cast<float>(lambda), static_cast<float>(std::exp(-lambda)),
                            1.0f};
}

}  // namespace

TEST(Poisson, InverseCdfBoundaries) {
    const PoissonConstants pc = constants(0.06);  // 600 Hz at dt = 0.1 ms
    EXPECT_EQ(poisson_count(pc, 0.0f), 0u);
    EXPECT_EQ(poisson_count(pc, std::nextafter(pc.p0, 0.0f)), 0u);
    EXPECT_EQ(poisson_count(pc, pc.p0), 1u);  // u >= P(0) -> at least one
    const double p01 = std::exp(-0.06) * (1 + 0.06);
    EXPECT_EQ(poisson_count(pc, float(p01) - 1e-6f), 1u);
    EXPECT_EQ(poisson_count(pc, float(p01) + 1e-6f), 2u);
    EXPECT_EQ(poisson_count(constants(0.0), 0.999f), 0u);
    // Non-decreasing in u.
    uint32_t prev = 0;
    for (float u = 0; u < 1.0f; u += 1e-4f) {
        const uint32_t k = poisson_count(constants(3.0), u);
        ASSERT_GE(k, prev);
        prev = k;
    }
}

TEST(Poisson, MeanAndVarianceMatchLambda) {
    constexpr uint32_t kN = 1000000;
    for (double lambda : {0.005, 0.06, 1.0, 5.0, 50.0}) {
        const PoissonConstants pc = constants(lambda);
        double sum = 0, sum2 = 0;
        std::vector<uint64_t> hist(4, 0);
        for (uint32_t i = 0; i < kN; ++i) {
            const Draw4 d = philox(11, 5, i / 4, 0);
            const uint32_t k = poisson_count(pc, u01(d.v[i % 4]));
            sum += k;
            sum2 += double(k) * k;
            if (k < hist.size()) ++hist[k];
        }
        const double mean = sum / kN;
        const double var = sum2 / kN - mean * mean;
        // 5 standard errors: se(mean) = sqrt(lambda / N), se(var) ~ sqrt((lambda + 2 lambda^2) /
        // N).
        EXPECT_NEAR(mean, lambda, 5 * std::sqrt(lambda / kN)) << "lambda " << lambda;
        EXPECT_NEAR(var, lambda, 5 * std::sqrt((lambda + 2 * lambda * lambda) / kN))
            << "lambda " << lambda;
        // P(0) and P(1) against the pmf (binomial standard errors).
        for (uint32_t k = 0; k < 2; ++k) {
            const double p = std::exp(-lambda) * std::pow(lambda, k);
            const double se = std::sqrt(p * (1 - p) / kN) + 1e-9;
            EXPECT_NEAR(double(hist[k]) / kN, p, 5 * se) << "lambda " << lambda << " k " << k;
        }
    }
}
