// Poisson background sources as renewal processes (model/poisson.hpp, model/cell_step.hpp): the
// counts per step must be Poisson(lambda) and independent across steps, whatever the rate and
// whatever rate changes happen, and every draw must come from its documented counter.
#include "l5sim/model/poisson.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "l5sim/model/cell_step.hpp"
#include "l5sim/model/rng.hpp"

using namespace l5sim::model;

namespace {

constexpr uint64_t kSeed = 11;
constexpr uint32_t kPop = 0;

PoissonConstants source(double lambda) {
    return PoissonConstants{static_cast<float>(lambda), 1.0f};
}

// Counts of one soma source over `steps` steps of cells 0..cells-1 (started at step 0), via the
// engines' per-step function.
std::vector<uint32_t> counts(double lambda, uint32_t cells, uint32_t steps) {
    const PoissonConstants s = source(lambda), none = source(0);
    const uint32_t stream = stream_id(StreamKind::background, kPop);
    std::vector<uint32_t> out;
    out.reserve(uint64_t(cells) * steps);
    for (uint32_t id = 0; id < cells; ++id) {
        float rs = poisson_start(s.lambda, kSeed, stream, 0, id, 0);
        float rd = poisson_never();
        for (uint32_t t = 0; t < steps; ++t) {
            CellInputs c{};
            add_background(&c, s, none, false, kSeed, kPop, t, id, &rs, &rd);
            out.push_back(static_cast<uint32_t>(c.soma[0]));
        }
    }
    return out;
}

}  // namespace

TEST(Poisson, ExponentialGapFromItsWord) {
    // -log(u) / lambda with u = ((w >> 8) + 1) / 2^24: the largest word gives u = 1 -> 0.
    EXPECT_EQ(exponential_gap(0xffffffffu, 0.5f), 0.0f);
    // w = 0: u = 2^-24, -log(u) = 24 ln 2 = 16.6355.
    EXPECT_NEAR(exponential_gap(0u, 1.0f), 24 * std::log(2.0), 2e-5);
    EXPECT_NEAR(exponential_gap(0u, 0.25f), 4 * 24 * std::log(2.0), 1e-4);
    // Half way: u = 0.5 -> ln 2 / lambda.
    EXPECT_NEAR(exponential_gap(0x7fffff00u, 0.07f), std::log(2.0) / 0.07, 1e-4);
}

TEST(Poisson, StartAndRateChanges) {
    const uint32_t stream = stream_id(StreamKind::background, 3);
    // A source without a rate never fires; starting one draws (stream, step, id, kFreshSub).
    EXPECT_EQ(poisson_start(0.0f, kSeed, stream, 5, 7, 0), poisson_never());
    const Draw4 fresh = philox(kSeed, stream, 5, 7, kFreshSub);
    EXPECT_EQ(poisson_start(0.07f, kSeed, stream, 5, 7, 0), exponential_gap(fresh.v[0], 0.07f));
    EXPECT_EQ(poisson_start(0.05f, kSeed, stream, 5, 7, 1), exponential_gap(fresh.v[1], 0.05f));
    // A rate change scales the remaining time by old / new; switching off: never; same: unchanged.
    EXPECT_FLOAT_EQ(poisson_rate_change(3.0f, 0.05f, 0.1f, kSeed, stream, 9, 7, 0), 1.5f);
    EXPECT_EQ(poisson_rate_change(3.0f, 0.05f, 0.05f, kSeed, stream, 9, 7, 0), 3.0f);
    EXPECT_EQ(poisson_rate_change(3.0f, 0.05f, 0.0f, kSeed, stream, 9, 7, 0), poisson_never());
    // Switching back on from never: a fresh gap from the step of the change.
    EXPECT_EQ(poisson_rate_change(poisson_never(), 0.0f, 0.1f, kSeed, stream, 9, 7, 0),
              exponential_gap(philox(kSeed, stream, 9, 7, kFreshSub).v[0], 0.1f));
}

TEST(Poisson, ArrivalsUseDrawJOfTheStep) {
    // rem 0.5 (soma) and 0.25 (dendrite): both fire now; their next gaps come from draw j = 0 of
    // (background stream, step 4, cell 9), words 0 and 1; rem then counts from the next step.
    const PoissonConstants s = source(0.07), d = source(0.05);
    float rs = 0.5f, rd = 0.25f;
    CellInputs c{};
    add_background(&c, s, d, true, kSeed, kPop, 4, 9, &rs, &rd);
    const Draw4 r = philox(kSeed, stream_id(StreamKind::background, kPop), 4, 9, 0);
    const float gs = exponential_gap(r.v[0], 0.07f), gd = exponential_gap(r.v[1], 0.05f);
    ASSERT_GE(0.5f + gs, 1.0f);  // (these draws give one spike each)
    ASSERT_GE(0.25f + gd, 1.0f);
    EXPECT_EQ(rs, (0.5f + gs) - 1.0f);
    EXPECT_EQ(rd, (0.25f + gd) - 1.0f);
    EXPECT_EQ(c.soma[0], 1.0f);
    EXPECT_EQ(c.nmda_bg, 1.0f);
    EXPECT_EQ(c.dend[0], 1.0f);
    EXPECT_EQ(c.dend[1], 1.0f);
    // Nothing pending this step: only the times count down, no input.
    float rs2 = 2.5f, rd2 = 1.0f;
    CellInputs c2{};
    add_background(&c2, s, d, true, kSeed, kPop, 4, 9, &rs2, &rd2);
    EXPECT_EQ(rs2, 1.5f);
    EXPECT_EQ(rd2, 0.0f);
    EXPECT_EQ(c2.soma[0] + c2.dend[0], 0.0f);
}

TEST(Poisson, CountsPerStepArePoisson) {
    for (double lambda : {0.005, 0.07, 1.0, 5.0}) {
        const auto k = counts(lambda, 200, 5000);  // 10^6 steps
        const double n = static_cast<double>(k.size());
        double sum = 0, sum2 = 0, lag = 0;
        std::vector<uint64_t> hist(3, 0);
        for (size_t i = 0; i < k.size(); ++i) {
            sum += k[i];
            sum2 += double(k[i]) * k[i];
            if (k[i] < hist.size()) ++hist[k[i]];
            if (i % 5000 != 0) lag += (double(k[i]) - lambda) * (double(k[i - 1]) - lambda);
        }
        const double mean = sum / n, var = sum2 / n - mean * mean;
        EXPECT_NEAR(mean, lambda, 5 * std::sqrt(lambda / n)) << "lambda " << lambda;
        EXPECT_NEAR(var, lambda, 5 * std::sqrt((lambda + 2 * lambda * lambda) / n))
            << "lambda " << lambda;
        for (uint32_t j = 0; j < hist.size(); ++j) {
            const double p = std::exp(-lambda) * std::pow(lambda, j) / (j == 2 ? 2 : 1);
            const double se = std::sqrt(p * (1 - p) / n) + 1e-9;
            EXPECT_NEAR(double(hist[j]) / n, p, 5 * se) << "lambda " << lambda << " k " << j;
        }
        // Successive steps are uncorrelated (lag-1 autocovariance ~ 0, se ~ lambda / sqrt(n)).
        EXPECT_NEAR(lag / n, 0.0, 5 * lambda / std::sqrt(n)) << "lambda " << lambda;
    }
}

TEST(Poisson, RateChangeGivesTheNewRateAtOnce) {
    // 0.02 for 50 steps, then 0.2: the mean count right after the change is the new rate (the
    // rescaled pending times are exponential with the new mean).
    const PoissonConstants lo = source(0.02), hi = source(0.2), none = source(0);
    const uint32_t stream = stream_id(StreamKind::background, kPop);
    const uint32_t cells = 100000;
    double first = 0, later = 0;
    for (uint32_t id = 0; id < cells; ++id) {
        float rs = poisson_start(lo.lambda, kSeed, stream, 0, id, 0), rd = poisson_never();
        for (uint32_t t = 0; t < 60; ++t) {
            if (t == 50)
                rs = poisson_rate_change(rs, lo.lambda, hi.lambda, kSeed, stream, t, id, 0);
            CellInputs c{};
            add_background(&c, t < 50 ? lo : hi, none, false, kSeed, kPop, t, id, &rs, &rd);
            if (t == 50) first += c.soma[0];
            if (t > 50) later += c.soma[0];
        }
    }
    EXPECT_NEAR(first / cells, 0.2, 5 * std::sqrt(0.2 / cells));
    EXPECT_NEAR(later / (9.0 * cells), 0.2, 5 * std::sqrt(0.2 / (9.0 * cells)));
}
