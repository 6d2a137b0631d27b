// Poisson background through the engine (MODEL.md section 6), on the CPU and the CUDA engine: the
// mean conductance of many cells against the exact mean of the discrete process. Per step a
// Poisson(lambda = rate dt) count of spikes adds k w, then g decays by f = 1 - dt/tau, so from
// g = 0:
//     E[g_n] = lambda w f (1 - f^(n+1)) / (1 - f)   (n = 0, 1, ...; steady state ~ rate w tau).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "l5sim/model/cell_step.hpp"
#include "l5sim/model/poisson.hpp"
#include "l5sim/model_constants.hpp"
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

// Rates at which a source often has two or more input spikes in one step (lambda = 3 and 1.2 per
// step at the soma and dendrite of PYR, 2 at the PV soma), so the engines' batched first draws and
// the per-cell further draws are both exercised: every cell's conductances after every step equal,
// bit for bit, the per-cell composition of the model functions (add_background, decay_inputs)
// from the same starting times (poisson_start at step 0).
TEST_P(Background, HighRatesMatchTheModelCellByCell) {
    const Config cfg = test::config_from(R"(
simulation: {dt_ms: 0.1, duration_ms: 20, seed: 11}
populations:
  PYR:
    type: pyramidal
    n: 300
    background:
      soma: {rate_hz: 30000, weight: 0.001}
      dendrite: {rate_hz: 12000, weight: 0.002}
  PV:
    type: pv
    n: 100
    background:
      soma: {rate_hz: 20000, weight: 0.001}
recording:
  spikes: false
  probes:
    - population: PYR
      cells: all
      variables: [g_ampa, g_nmda_bg, g_ampa_d, g_nmda_d]
      every_steps: 1
    - {population: PV, cells: all, variables: [g_ampa, g_nmda_bg], every_steps: 1}
)");
    Simulation sim(cfg, backend());
    sim.run();
    const model::ReceptorConstants rc = receptor_constants(cfg);
    struct Pop {
        uint32_t index, n;
        bool pyramidal;
        model::PoissonConstants soma, dend;
    };
    const Pop pops[] = {{0, 300, true, {3.0f, 0.001f}, {1.2f, 0.002f}},
                        {1, 100, false, {2.0f, 0.001f}, {0.0f, 0.0f}}};
    uint64_t multiple = 0;  // source-steps with two or more input spikes
    for (const Pop& p : pops) {
        const auto& rec = sim.probes()[p.index];
        const size_t vars = p.pyramidal ? 4 : 2;
        const uint32_t stream = model::stream_id(model::StreamKind::background, p.index);
        for (uint32_t id = 0; id < p.n; ++id) {
            model::CellInputs c{};
            float rs = model::poisson_start(p.soma.lambda, cfg.seed, stream, 0, id, 0);
            float rd = p.pyramidal ? model::poisson_start(p.dend.lambda, cfg.seed, stream, 0, id, 1)
                                   : model::poisson_never();
            size_t s = 0;
            for (int64_t n = 0; n < 200; ++n) {
                const float ga0 = c.soma[0], gad0 = c.dend[0];
                model::add_background(&c, p.soma, p.dend, p.pyramidal, cfg.seed, p.index,
                                      static_cast<uint32_t>(n), id, &rs, &rd);
                multiple += (c.soma[0] - ga0 > 1.5f * p.soma.weight_ns ? 1 : 0) +
                            (c.dend[0] - gad0 > 1.5f * p.dend.weight_ns && p.pyramidal ? 1 : 0);
                model::decay_inputs<model::kCoreReceptors>(&c, rc);
                while (s < rec.steps.size() && rec.steps[s] < n) ++s;
                ASSERT_LT(s, rec.steps.size());
                ASSERT_EQ(rec.steps[s], n);
                const float* row = rec.values.data() + s * vars * p.n;
                const float want[] = {c.soma[0], c.nmda_bg, c.dend[0], c.dend[1]};
                for (size_t v = 0; v < vars; ++v)
                    ASSERT_EQ(row[v * p.n + id], want[v])
                        << "population " << p.index << " cell " << id << " step " << n
                        << " variable " << v;
            }
        }
    }
    EXPECT_GT(multiple, 10000u);  // the further draws were exercised
}
