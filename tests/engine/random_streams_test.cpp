// The background's random numbers judged by statistics that do not reuse the code under test:
// per-step input counts, read back from the probed AMPA conductance of unconnected cells at
// 20 kHz (2 inputs per step on average, so most steps need several draws per cell), must be
// Poisson(2) (a chi-square), uncorrelated between cells (a pair sharing draws correlates) and
// between consecutive steps of a cell. A mistake in a draw's key that makes two cells, or two
// draws of one cell, use the same counter fails here even though the engine and the model
// function it calls agree with each other. On both engines.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "test_util.hpp"

using namespace l5sim;

namespace {

class RandomStreams : public test::EngineTest {};
L5_ENGINE_TEST_SUITE(RandomStreams);

constexpr int kCells = 64;
constexpr int kSteps = 3000;
constexpr double kLambda = 2.0;  // inputs per step: 20 kHz at dt = 0.1 ms

const char* kConfig = R"(
simulation: {dt_ms: 0.1, duration_ms: 300, seed: 3}
populations:
  PYR: {type: pyramidal, n: 64, background: {soma: {rate_hz: 20000, weight: 1},
                                             dendrite: {rate_hz: 0}}}
recording:
  spikes: false
  probes: [{population: PYR, cells: all, variables: [g_ampa], every_steps: 1}]
)";

// counts[cell][step]: g(n) = (g(n-1) + k(n) * 1 nS) * f after step n (arrivals, then decay).
std::vector<std::vector<int>> input_counts(const Simulation& sim) {
    const auto& rec = sim.probes()[0];
    const double f = static_cast<float>(1.0 - 0.1 / 6.0);  // AMPA: tau 6 ms
    std::vector<std::vector<int>> k(kCells, std::vector<int>(kSteps));
    for (int c = 0; c < kCells; ++c) {
        double prev = 0;
        for (int n = 0; n < kSteps; ++n) {
            const double g = rec.values[static_cast<size_t>(n) * kCells + c];
            const double x = g / f - prev;
            k[c][n] = static_cast<int>(std::lround(x));
            EXPECT_NEAR(x, k[c][n], 0.01) << "cell " << c << " step " << n;
            prev = g;
        }
    }
    return k;
}

double correlation(const std::vector<int>& a, const std::vector<int>& b, int lag = 0) {
    const int n = static_cast<int>(a.size()) - lag;
    double ma = 0, mb = 0;
    for (int i = 0; i < n; ++i) {
        ma += a[i];
        mb += b[i + lag];
    }
    ma /= n;
    mb /= n;
    double sab = 0, saa = 0, sbb = 0;
    for (int i = 0; i < n; ++i) {
        sab += (a[i] - ma) * (b[i + lag] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i + lag] - mb) * (b[i + lag] - mb);
    }
    return sab / std::sqrt(saa * sbb);
}

}  // namespace

TEST_P(RandomStreams, BackgroundCountsArePoissonAndIndependent) {
    Simulation sim(test::config_from(kConfig), backend());
    sim.run();
    ASSERT_EQ(sim.probes()[0].steps.size(), static_cast<size_t>(kSteps));
    const auto k = input_counts(sim);
    // Poisson(2): pooled histogram of all cells and steps (192,000 counts), bins 0..7 and >= 8;
    // chi-square with 8 degrees of freedom below 26.12 (p > 0.001) at this fixed seed.
    std::vector<double> observed(9, 0), expected(9, 0);
    for (const auto& cell : k)
        for (const int x : cell) observed[std::min(x, 8)] += 1;
    const double total = static_cast<double>(kCells) * kSteps;
    double p = std::exp(-kLambda), cumulative = 0;
    for (int x = 0; x < 8; ++x) {
        expected[x] = p * total;
        cumulative += p;
        p *= kLambda / (x + 1);
    }
    expected[8] = (1 - cumulative) * total;
    double chi2 = 0;
    for (int x = 0; x < 9; ++x)
        chi2 += (observed[x] - expected[x]) * (observed[x] - expected[x]) / expected[x];
    EXPECT_LT(chi2, 26.12) << "counts are not Poisson(2)";
    double mean = 0;
    for (int x = 0; x < 9; ++x) mean += x * observed[x];
    EXPECT_NEAR(mean / total, kLambda, 5 * std::sqrt(kLambda / total));
    // Independent cells: every pair's counts uncorrelated (|r| below 5 standard errors,
    // 1/sqrt(3000) each), and their mean correlation too (2016 pairs).
    const double se = 1 / std::sqrt(static_cast<double>(kSteps));
    double sum_r = 0;
    int pairs = 0;
    for (int i = 0; i < kCells; ++i) {
        for (int j = i + 1; j < kCells; ++j) {
            const double r = correlation(k[i], k[j]);
            EXPECT_LT(std::abs(r), 5 * se) << "cells " << i << " and " << j << " share noise";
            sum_r += r;
            ++pairs;
        }
    }
    EXPECT_LT(std::abs(sum_r / pairs), 5 * se / std::sqrt(static_cast<double>(pairs)) + 1e-3);
    // Independent steps: a cell's counts one step apart are uncorrelated.
    for (int c = 0; c < kCells; ++c)
        EXPECT_LT(std::abs(correlation(k[c], k[c], 1)), 5 * se) << "cell " << c;
}
