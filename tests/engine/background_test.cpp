// Poisson background through the engine (MODEL.md section 6), on the CPU and the CUDA engine: the
// mean conductance of many cells against the exact mean of the discrete process. Per step a
// Poisson(lambda = rate dt) count of spikes adds k w, then g decays by f = 1 - dt/tau, so from
// g = 0:
//     E[g_n] = lambda w f (1 - f^(n+1)) / (1 - f)   (n = 0, 1, ...; steady state ~ rate w tau).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "test_util.hpp"

using namespace l5sim;

namespace {

const char* kYaml = R"(
simulation: {dt_ms: 0.1, duration_ms: 800, seed: 5}
populations:
  PYR:
    type: pyramidal
    n: 1000
    background:
      soma: {rate_hz: 600, weight: 1}
      dendrite: {rate_hz: 50, weight: 1}
  PV:
    type: pv
    n: 500
recording:
  spikes: false
  probes:
    - population: PYR
      cells: all
      variables: [g_ampa, g_nmda_bg, g_ampa_d, g_nmda_d, g_nmda]
      every_steps: 25
    - {population: PV, cells: all, variables: [g_ampa, g_nmda_bg], every_steps: 25}
)";

double expected_mean(double rate_hz, double weight, double tau_ms, int64_t step) {
    const double dt = 0.1, lambda = rate_hz * dt * 1e-3, f = 1 - dt / tau_ms;
    return lambda * weight * f * (1 - std::pow(f, double(step + 1))) / (1 - f);
}

class Background : public test::EngineTest {};
L5_ENGINE_TEST_SUITE(Background);

}  // namespace

TEST_P(Background, MeanConductanceMatchesPoissonRate) {
    const Config cfg = test::config_from(kYaml);
    Simulation sim(cfg, backend());
    sim.run();
    struct Var {
        size_t probe, index;
        double rate, weight, tau, tolerance;  // relative tolerance (several standard errors)
        const char* name;
    };
    // PV background weight is 0.02 (MODEL.md section 6); PYR soma 600 Hz, dendrite 50 Hz.
    const Var vars[] = {
        {0, 0, 600, 1, 6, 0.02, "PYR g_ampa"},   {0, 1, 600, 1, 100, 0.02, "PYR g_nmda_bg"},
        {0, 2, 50, 1, 6, 0.03, "PYR g_ampa_d"},  {0, 3, 50, 1, 100, 0.04, "PYR g_nmda_d"},
        {1, 0, 600, 0.02, 6, 0.02, "PV g_ampa"}, {1, 1, 600, 0.02, 100, 0.02, "PV g_nmda_bg"}};
    const size_t n_vars[] = {5, 2};
    const uint32_t n_cells[] = {1000, 500};
    for (const Var& v : vars) {
        const auto& rec = sim.probes()[v.probe];
        double got = 0, want = 0;
        uint64_t count = 0;
        for (size_t s = 0; s < rec.steps.size(); ++s) {
            if (rec.steps[s] < 3000) continue;  // from 300 ms on
            const float* row =
                rec.values.data() + (s * n_vars[v.probe] + v.index) * n_cells[v.probe];
            for (uint32_t c = 0; c < n_cells[v.probe]; ++c) got += row[c];
            want += n_cells[v.probe] * expected_mean(v.rate, v.weight, v.tau, rec.steps[s]);
            count += n_cells[v.probe];
        }
        ASSERT_GT(count, 0u);
        EXPECT_NEAR(got / want, 1.0, v.tolerance)
            << v.name << ": mean " << got / count << " nS, expected " << want / count;
    }
    // No synapses: the recurrent NMDA conductance stays exactly zero.
    const auto& rec = sim.probes()[0];
    for (size_t s = 0; s < rec.steps.size(); ++s)
        for (uint32_t c = 0; c < 1000; ++c) ASSERT_EQ(rec.values[(s * 5 + 4) * 1000 + c], 0.0f);
}

TEST_P(Background, ZeroRateMeansNoInput) {
    const Config cfg = test::config_from(R"(
simulation: {duration_ms: 50}
populations:
  PYR: {type: pyramidal, n: 10, background: {soma: {rate_hz: 0}, dendrite: {rate_hz: 0}}}
recording:
  probes:
    - population: PYR
      cells: all
      variables: [g_ampa, g_nmda_bg, g_ampa_d, g_nmda_d]
      every_steps: 1
)");
    Simulation sim(cfg, backend());
    sim.run();
    for (float x : sim.probes()[0].values) ASSERT_EQ(x, 0.0f);
    EXPECT_EQ(sim.spike_count(0), 0u);
}
