// The initial state (populations.<name>.init): constants by default (v = v_r, u = 0, v_d = E_L,
// u_d = 0, as MODEL.md sections 2 and 3 say), or per-cell draws that depend on the seed and the
// cell alone (not on the population's size or the other populations), with the configured
// distribution, on both engines.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "test_util.hpp"

using namespace l5sim;

namespace {

class InitialState : public test::EngineTest {};
L5_ENGINE_TEST_SUITE(InitialState);

// PYR with every variable set, PV with a normal v, SOM left at the defaults.
std::string ring(int n_pyr, int seed, bool with_pv = true) {
    std::string y = "simulation: {dt_ms: 0.1, duration_ms: 10, seed: " + std::to_string(seed) +
                    "}\n"
                    "populations:\n"
                    "  PYR: {type: pyramidal, n: " +
                    std::to_string(n_pyr) +
                    ",\n"
                    "        init: {v_mV: {uniform: [-75, -55]}, u_pA: {normal: [10, 5]},\n"
                    "               v_d_mV: {uniform: [-72, -68]}, u_d_pA: 3}}\n";
    if (with_pv) {
        y += "  PV: {type: pv, n: 3000, init: {v_mV: {normal: [-60, 2]}}}\n"
             "  SOM: {type: som, n: 10, soma: {v_r_mV: -58}}\n";
    }
    return y;
}

std::vector<float> state(Simulation& sim, const std::string& pop, const std::string& var) {
    const uint32_t p = static_cast<uint32_t>(sim.config().population_index(pop));
    std::vector<uint32_t> cells(sim.config().populations[p].n);
    std::iota(cells.begin(), cells.end(), 0u);
    std::vector<float> out(cells.size());
    sim.engine().read_state(p, var, cells, out.data());
    return out;
}

double mean(const std::vector<float>& x) {
    return std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(x.size());
}
double sd(const std::vector<float>& x) {
    const double m = mean(x);
    double s = 0;
    for (const float v : x) s += (v - m) * (v - m);
    return std::sqrt(s / static_cast<double>(x.size()));
}

}  // namespace

TEST_P(InitialState, DefaultsAreTheRestingStateOfMODEL) {
    Simulation sim(test::config_from(ring(50, 1)), backend());
    for (const float v : state(sim, "SOM", "v")) ASSERT_EQ(v, -58.0f);  // its own v_r
    for (const float u : state(sim, "SOM", "u")) ASSERT_EQ(u, 0.0f);
    for (const float u : state(sim, "PV", "u")) ASSERT_EQ(u, 0.0f);
    for (const float u_d : state(sim, "PYR", "u_d")) ASSERT_EQ(u_d, 3.0f);  // a constant
}

TEST_P(InitialState, DrawsFollowTheConfiguredDistributions) {
    const int n = 4000;
    Simulation sim(test::config_from(ring(n, 1)), backend());
    const auto v = state(sim, "PYR", "v");
    const auto u = state(sim, "PYR", "u");
    const auto v_d = state(sim, "PYR", "v_d");
    const auto pv = state(sim, "PV", "v");
    // Uniform [-75, -55): mean -65, sd 20 / sqrt(12) = 5.77; the bounds hold for every cell.
    EXPECT_GE(*std::min_element(v.begin(), v.end()), -75.0f);
    EXPECT_LT(*std::max_element(v.begin(), v.end()), -55.0f);
    EXPECT_NEAR(mean(v), -65.0, 0.4);  // 4.4 standard errors (0.091)
    EXPECT_NEAR(sd(v), 5.7735, 0.2);
    // Each quarter of the range holds a quarter of the cells (not a few values repeated).
    for (int q = 0; q < 4; ++q) {
        const double lo = -75 + 5 * q, hi = lo + 5;
        const auto k =
            std::count_if(v.begin(), v.end(), [&](float x) { return x >= lo && x < hi; });
        EXPECT_NEAR(static_cast<double>(k) / n, 0.25, 0.03) << "quarter " << q;
    }
    EXPECT_GE(*std::min_element(v_d.begin(), v_d.end()), -72.0f);
    EXPECT_LT(*std::max_element(v_d.begin(), v_d.end()), -68.0f);
    EXPECT_NEAR(mean(v_d), -70.0, 0.1);
    // Normal(10, 5) and Normal(-60, 2): means within 5 standard errors, sds within 5 %; about
    // 68 % of the cells within one sd.
    EXPECT_NEAR(mean(u), 10.0, 5 * 5 / std::sqrt(double(n)));
    EXPECT_NEAR(sd(u), 5.0, 0.25);
    const auto within =
        std::count_if(u.begin(), u.end(), [](float x) { return std::abs(x - 10) < 5; });
    EXPECT_NEAR(static_cast<double>(within) / n, 0.6827, 0.03);
    EXPECT_NEAR(mean(pv), -60.0, 5 * 2 / std::sqrt(3000.0));
    EXPECT_NEAR(sd(pv), 2.0, 0.1);
    // Variables draw from different counters: v and v_d (both uniform) are uncorrelated, and
    // cells do not share values (a few floats repeat by chance: 4000 draws rounded to the
    // ~2.6 million floats of [-75, -55) collide ~3 times).
    double cov = 0;
    const double mv = mean(v), md = mean(v_d);
    for (int i = 0; i < n; ++i) cov += (v[i] - mv) * (v_d[i] - md);
    const double r = cov / n / (sd(v) * sd(v_d));
    EXPECT_LT(std::abs(r), 0.08);  // 5 / sqrt(4000)
    EXPECT_GE(std::set<float>(v.begin(), v.end()).size(), static_cast<size_t>(n - 20));
}

TEST_P(InitialState, ACellsDrawDependsOnTheSeedAndTheCellAlone) {
    Simulation big(test::config_from(ring(400, 3)), backend());
    Simulation small(test::config_from(ring(25, 3, false)), backend());
    Simulation other_seed(test::config_from(ring(400, 4)), backend());
    const auto vb = state(big, "PYR", "v"), vs = state(small, "PYR", "v");
    for (size_t i = 0; i < vs.size(); ++i) ASSERT_EQ(vb[i], vs[i]) << "cell " << i;
    const auto vo = state(other_seed, "PYR", "v");
    int same = 0;
    for (size_t i = 0; i < vb.size(); ++i) same += vb[i] == vo[i];
    EXPECT_EQ(same, 0) << "another seed must draw other values";
}
