// One PYR cell through the whole pipeline (config -> Simulation -> engine), on the CPU and the
// CUDA engine: regular firing, rheobase, bursts through the dendrite, the BAP window and the
// plateau -> burst-reset switch, checked step by step against the shared model functions replayed
// from the engine's probes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "l5sim/model/dendrite.hpp"
#include "l5sim/model/izhikevich.hpp"
#include "test_util.hpp"

using namespace l5sim;

namespace {

// One pyramidal cell, no background, no synapses: only the injections drive it.
std::string one_cell(double duration_ms, const std::string& coupling, const std::string& injections,
                     const std::string& probes = "") {
    std::string y = "simulation: {duration_ms: " + std::to_string(duration_ms) + "}\n" +
                    "populations:\n"
                    "  PYR:\n"
                    "    type: pyramidal\n"
                    "    n: 1\n"
                    "    coupling: " +
                    coupling + "\n" +
                    "    background: {soma: {rate_hz: 0}, dendrite: {rate_hz: 0}}\n" +
                    "injections:\n" + injections;
    if (!probes.empty()) y += "recording:\n  probes:\n" + probes;
    return y;
}

std::string constant(const std::string& compartment, double pA) {
    return "  - {population: PYR, compartment: " + compartment +
           ", amplitude_pA: " + std::to_string(pA) + "}\n";
}

std::vector<int64_t> run_spikes(Simulation::Backend backend, const std::string& yaml,
                                uint64_t* calcium = nullptr) {
    Simulation sim(test::config_from(yaml), backend);
    sim.run();
    if (calcium) *calcium = sim.engine().calcium_spikes(0);
    return sim.spikes()[0].steps;
}

std::vector<int64_t> isis(const std::vector<int64_t>& steps) {
    std::vector<int64_t> d;
    for (size_t i = 1; i < steps.size(); ++i) d.push_back(steps[i] - steps[i - 1]);
    return d;
}

constexpr int64_t kBurstIsiSteps = 100;  // 10 ms at dt = 0.1 ms (MODEL.md section 10)

class PyramidalCell : public test::EngineTest {};
L5_ENGINE_TEST_SUITE(PyramidalCell);

}  // namespace

// Constant somatic current of 1000 pA (well above the 640 pA rheobase, below): the cell fires
// tonically at ~14 Hz. The adaptation conductance (0.065 nS per spike, tau 2 s) and u (tau
// 1/a = 100 ms) make the first ISIs short (14.5, 47, 67 ms); after ~0.5 s the ISIs change by
// ~1 step per spike. No dendritic input: the BAP alone (gamma 0.5) never drives the dendrite to
// a plateau, so no spike is calcium-triggered and no ISI is below 10 ms.
TEST_P(PyramidalCell, RegularFiringUnderConstantSomaticCurrent) {
    uint64_t calcium = 99;
    const auto steps = run_spikes(
        backend(), one_cell(3000, "{mode: stochastic, gamma: 0.5}", constant("soma", 1000)),
        &calcium);
    ASSERT_GT(steps.size(), 30u);
    EXPECT_EQ(calcium, 0u);
    const auto all = isis(steps);
    EXPECT_GT(*std::min_element(all.begin(), all.end()), kBurstIsiSteps);
    // After the transient (spikes from 0.5 s on): coefficient of variation and step-to-step change.
    std::vector<double> late;
    for (size_t i = 1; i < steps.size(); ++i)
        if (steps[i - 1] >= 5000) late.push_back(double(steps[i] - steps[i - 1]));
    ASSERT_GT(late.size(), 20u);
    double mean = 0, var = 0;
    for (double x : late) mean += x;
    mean /= late.size();
    for (double x : late) var += (x - mean) * (x - mean);
    const double cv = std::sqrt(var / late.size()) / mean;
    EXPECT_LT(cv, 0.03);
    for (size_t i = 1; i < late.size(); ++i) {
        EXPECT_LE(std::abs(late[i] - late[i - 1]), 0.01 * late[i - 1]) << i;
        EXPECT_GE(late[i], late[i - 1] - 1) << "adaptation only lengthens ISIs";
    }
    // Rate in a plausible range for 1000 pA (14 Hz here).
    const double rate = double(late.size()) / ((steps.back() - 5000) * 1e-4);
    EXPECT_GT(rate, 8);
    EXPECT_LT(rate, 25);
}

// Without adaptation or input noise, the Izhikevich soma starts firing repetitively at the
// saddle-node current where k (v - v_r)(v - v_t) - b (v - v_r) + I = 0 has a double root:
// I_rh = (k (v_t - v_r) + b)^2 / (4 k) = (2.5 * 30 + 5)^2 / 10 = 640 pA. Just below it the cell
// settles (it may fire once, because u starts at 0 below its resting value); just above it
// fires repetitively.
TEST_P(PyramidalCell, RheobaseIsTheSaddleNodeCurrent) {
    const double i_rh = std::pow(2.5 * 30 + 5, 2) / (4 * 2.5);
    ASSERT_DOUBLE_EQ(i_rh, 640.0);
    const auto below =
        run_spikes(backend(), one_cell(3000, "{gamma: 0}", constant("soma", 0.97 * i_rh)));
    EXPECT_LE(below.size(), 1u);
    if (!below.empty()) {
        EXPECT_LT(below.front(), 1000);
    }
    const auto above =
        run_spikes(backend(), one_cell(3000, "{gamma: 0}", constant("soma", 1.03 * i_rh)));
    ASSERT_GE(above.size(), 5u);
    EXPECT_GT(above.back(), 20000);  // still firing in the last second
}

namespace {

// Somatic pulses of 1000 pA, 200 ms on every 500 ms, so u and g_adapt recover between pulses;
// a constant dendritic current Id.
std::string pulses_and_dendrite(double id_pA, const std::string& coupling, double duration = 2000,
                                const std::string& probes = "") {
    return one_cell(duration, coupling,
                    "  - {population: PYR, kind: pulse_train, amplitude_pA: 1000, start_ms: 0, "
                    "period_ms: 500, width_ms: 200}\n" +
                        constant("dendrite", id_pA),
                    probes);
}

}  // namespace

// Strong dendritic drive: 1000 pA holds the dendrite on a plateau (v_d ~ -11 mV >= theta_Ca;
// the undriven dendrite's own calcium threshold lies between 500 and 600 pA). With gamma = 1
// every somatic spike then resets with the burst c, d (-55 mV, 150 pA instead of -65, 250), and
// at each pulse onset, where u has recovered, the cell fires a burst of 3 spikes with ISIs of
// ~6 and ~8 ms. With gamma = 0 the same drive never switches the reset: the soma fires exactly
// as if the dendrite were not driven, first ISI 14.5 ms, no ISI below 10 ms.
TEST_P(PyramidalCell, StrongDendriticDriveAndFullCouplingGiveBursts) {
    uint64_t calcium = 0;
    const auto steps =
        run_spikes(backend(), pulses_and_dendrite(1000, "{mode: stochastic, gamma: 1}"), &calcium);
    EXPECT_GT(calcium, 0u);
    EXPECT_EQ(calcium, steps.size());  // the dendrite never leaves its plateau
    // Each of the 4 pulses opens with >= 2 ISIs below 10 ms (a burst of >= 3 spikes).
    for (int pulse = 0; pulse < 4; ++pulse) {
        const int64_t start = pulse * 5000, end = start + 2000;
        std::vector<int64_t> in;
        for (int64_t s : steps)
            if (s >= start && s < end) in.push_back(s);
        ASSERT_GE(in.size(), 3u) << "pulse " << pulse;
        EXPECT_LT(in[1] - in[0], kBurstIsiSteps) << "pulse " << pulse;
        EXPECT_LT(in[2] - in[1], kBurstIsiSteps) << "pulse " << pulse;
    }
    SpikeRecord rec;
    rec.steps = steps;
    rec.ids.assign(steps.size(), 0);
    EXPECT_GT(burst_fraction(rec, 1, kBurstIsiSteps), 0.4);
}

TEST_P(PyramidalCell, NoCouplingNeverBursts) {
    uint64_t calcium = 99, calcium_undriven = 99;
    const auto steps =
        run_spikes(backend(), pulses_and_dendrite(1000, "{mode: stochastic, gamma: 0}"), &calcium);
    const auto undriven = run_spikes(
        backend(), pulses_and_dendrite(0, "{mode: stochastic, gamma: 0}"), &calcium_undriven);
    EXPECT_EQ(calcium, 0u);
    EXPECT_EQ(calcium_undriven, 0u);
    ASSERT_GE(steps.size(), 8u);
    const auto d = isis(steps);
    EXPECT_GE(*std::min_element(d.begin(), d.end()), kBurstIsiSteps);
    // No ohmic coupling: with gamma = 0 the dendrite cannot touch the soma at all.
    EXPECT_EQ(steps, undriven);
}

// The full T1 chain: a dendritic current too weak to reach the calcium threshold alone (450 pA;
// the dendrite rests near -56 mV) plus the BAP of somatic spikes (21 steps of 2600 pA) gives
// plateaus, hence calcium-triggered spikes; the BAP alone (no dendritic current) does not.
TEST_P(PyramidalCell, BapPlusDendriticInputTriggersPlateaus) {
    uint64_t with_input = 0, without_input = 99, input_no_bap = 99;
    run_spikes(backend(), pulses_and_dendrite(450, "{mode: stochastic, gamma: 1}"), &with_input);
    run_spikes(backend(), pulses_and_dendrite(0, "{mode: stochastic, gamma: 1}"), &without_input);
    run_spikes(backend(), pulses_and_dendrite(450, "{mode: scaled, gamma: 0}"), &input_no_bap);
    EXPECT_GT(with_input, 0u);
    EXPECT_EQ(without_input, 0u);
    EXPECT_EQ(input_no_bap, 0u);
}

namespace {

struct Trace {
    std::vector<int64_t> spikes;
    std::vector<std::vector<float>> var;  // [variable][step]
    uint64_t calcium = 0;
    Config cfg;
};

// Run with a probe of `vars` on every step; returns the per-step series.
Trace probe_run(Simulation::Backend backend, const std::string& yaml_without_probes_fn_arg,
                const std::vector<std::string>& vars) {
    Trace t;
    t.cfg = test::config_from(yaml_without_probes_fn_arg);
    Simulation sim(t.cfg, backend);
    sim.run();
    t.spikes = sim.spikes()[0].steps;
    t.calcium = sim.engine().calcium_spikes(0);
    const auto& rec = sim.probes().at(0);
    const size_t n = rec.steps.size();
    EXPECT_EQ(int64_t(n), t.cfg.steps());
    t.var.assign(vars.size(), std::vector<float>(n));
    for (size_t s = 0; s < n; ++s) {
        EXPECT_EQ(rec.steps[s], int64_t(s));
        for (size_t v = 0; v < vars.size(); ++v) t.var[v][s] = rec.values[s * vars.size() + v];
    }
    return t;
}

std::string probe_of(const std::vector<std::string>& vars) {
    std::string list;
    for (const auto& v : vars) list += (list.empty() ? "" : ", ") + v;
    return "    - {population: PYR, cells: [0], variables: [" + list + "], every_steps: 1}\n";
}

// Steps on which a BAP window is open: n + 5 ... n + 25 after any spike n (MODEL.md section 4).
std::vector<char> windows(const std::vector<int64_t>& spikes, size_t n_steps) {
    std::vector<char> open(n_steps, 0);
    for (int64_t n : spikes)
        for (int64_t s = n + 5; s <= n + 25 && s < int64_t(n_steps); ++s) open[size_t(s)] = 1;
    return open;
}

model::ReceptorConstants zero_receptors() { return {{1, 1, 1, 1}, {0, 0, -75, -90}, 85}; }

// Somatic spikes on demand: a 1 ms pulse of `pA` every `period` ms.
std::string spike_train(double period_ms, double pA = 6000) {
    return "  - {population: PYR, kind: pulse_train, amplitude_pA: " + std::to_string(pA) +
           ", start_ms: 1, period_ms: " + std::to_string(period_ms) + ", width_ms: 1}\n";
}

}  // namespace

// gamma = 1: replaying the dendrite with p_BAP on exactly the window steps n+5..n+25 and 0
// elsewhere reproduces the engine's v_d and u_d bit for bit on every step.
TEST_P(PyramidalCell, BapArrivesOnExactlyStepsNPlus5ToNPlus25) {
    const std::vector<std::string> vars = {"v_d", "u_d"};
    const Trace t = probe_run(
        backend(), one_cell(300, "{mode: stochastic, gamma: 1}", spike_train(40), probe_of(vars)),
        vars);
    ASSERT_GE(t.spikes.size(), 5u);
    const size_t n = t.var[0].size();
    const auto open = windows(t.spikes, n);
    const auto k = model::make_dendrite_constants(t.cfg.populations[0].dendrite, t.cfg.dt_ms);
    float v = -70, u = 0;
    int bap_steps = 0;
    for (size_t s = 0; s < n; ++s) {
        const float bap = open[s] ? 2600.0f : 0.0f;
        bap_steps += open[s];
        model::dendrite_step<model::kCoreReceptors>(k, zero_receptors(), {}, bap, 0, &v, &u);
        ASSERT_EQ(v, t.var[0][s]) << "step " << s;
        ASSERT_EQ(u, t.var[1][s]) << "step " << s;
    }
    EXPECT_GE(bap_steps, 21 * 5);
}

namespace {

// For 0 < gamma < 1: on each step, the engine's dendrite state must equal exactly one of the two
// candidates (BAP or no BAP) stepped from its previous state; count which.
void infer_bap(const Trace& t, uint64_t* window_steps, uint64_t* bap_steps) {
    const size_t n = t.var[0].size();
    const auto open = windows(t.spikes, n);
    const auto k = model::make_dendrite_constants(t.cfg.populations[0].dendrite, t.cfg.dt_ms);
    float v = -70, u = 0;
    *window_steps = 0;
    *bap_steps = 0;
    for (size_t s = 0; s < n; ++s) {
        float v0 = v, u0 = u, v1 = v, u1 = u;
        model::dendrite_step<model::kCoreReceptors>(k, zero_receptors(), {}, 0.0f, 0, &v0, &u0);
        model::dendrite_step<model::kCoreReceptors>(k, zero_receptors(), {}, 2600.0f, 0, &v1, &u1);
        const bool no = v0 == t.var[0][s] && u0 == t.var[1][s];
        const bool yes = v1 == t.var[0][s] && u1 == t.var[1][s];
        ASSERT_TRUE(no != yes) << "step " << s << ": the engine's state matches neither candidate";
        if (yes) {
            ASSERT_TRUE(open[s]) << "BAP outside the window at step " << s;
        }
        *window_steps += open[s];
        *bap_steps += yes;
        v = t.var[0][s];
        u = t.var[1][s];
    }
}

}  // namespace

TEST_P(PyramidalCell, StochasticBapFractionIsGamma) {
    const std::vector<std::string> vars = {"v_d", "u_d"};
    for (double gamma : {0.3, 0.8}) {
        const Trace t =
            probe_run(backend(),
                      one_cell(4000, "{mode: stochastic, gamma: " + std::to_string(gamma) + "}",
                               spike_train(20, 20000), probe_of(vars)),
                      vars);
        uint64_t window = 0, bap = 0;
        infer_bap(t, &window, &bap);
        ASSERT_GE(window, 3000u);
        // Binomial sd <= sqrt(0.25 / 3000) = 0.009; allow ~4.5 sd.
        EXPECT_NEAR(double(bap) / double(window), gamma, 0.04) << "gamma " << gamma;
    }
}

TEST_P(PyramidalCell, ScaledCouplingGivesGammaTimesPbap) {
    const std::vector<std::string> vars = {"v_d", "u_d"};
    const Trace t = probe_run(
        backend(), one_cell(300, "{mode: scaled, gamma: 0.4}", spike_train(40), probe_of(vars)),
        vars);
    ASSERT_GE(t.spikes.size(), 5u);
    const size_t n = t.var[0].size();
    const auto open = windows(t.spikes, n);
    const auto k = model::make_dendrite_constants(t.cfg.populations[0].dendrite, t.cfg.dt_ms);
    const float scaled = 0.4f * 2600.0f;
    float v = -70, u = 0;
    for (size_t s = 0; s < n; ++s) {
        model::dendrite_step<model::kCoreReceptors>(k, zero_receptors(), {},
                                                    open[s] ? scaled : 0.0f, 0, &v, &u);
        ASSERT_EQ(v, t.var[0][s]) << "step " << s;
        ASSERT_EQ(u, t.var[1][s]) << "step " << s;
    }
}

// A plateau after the dendrite update of step n-1 (v_d >= theta_Ca, gamma = 1) selects the burst
// reset (c = -55, d = 150) for a spike at step n, and only then. The engine's v and u after the
// spike step are replayed from its state before it, with both resets: exactly the one chosen by
// the previous step's plateau must match.
TEST_P(PyramidalCell, PlateauSelectsBurstResetAtTheNextSpikeOnly) {
    const std::vector<std::string> vars = {"v", "u", "g_adapt", "i_ext", "v_d", "burst_mode"};
    const Trace t = probe_run(
        backend(), pulses_and_dendrite(450, "{mode: stochastic, gamma: 1}", 2000, probe_of(vars)),
        vars);
    const auto& V = t.var[0];
    const auto& U = t.var[1];
    const auto& GA = t.var[2];
    const auto& I = t.var[3];
    const auto& VD = t.var[4];
    const auto& BM = t.var[5];
    const size_t n = V.size();
    // gamma = 1: burst mode on exactly the steps whose dendrite ends on a plateau.
    uint64_t plateau_steps = 0;
    for (size_t s = 0; s < n; ++s) {
        ASSERT_EQ(BM[s] != 0, VD[s] >= -30.0f) << "step " << s;
        plateau_steps += VD[s] >= -30.0f;
    }
    EXPECT_GT(plateau_steps, 0u);
    const auto k = model::make_izh_constants(t.cfg.populations[0].soma, t.cfg.dt_ms);
    const model::ReceptorConstants rc = zero_receptors();
    uint64_t burst_resets = 0, regular_resets = 0;
    for (int64_t step : t.spikes) {
        ASSERT_GE(step, 1);
        const size_t p = size_t(step - 1), s = size_t(step);
        ASSERT_GE(V[p], 50.0f);
        const bool burst = BM[p] != 0;
        float vr[2], ur[2];
        for (int mode = 0; mode < 2; ++mode) {
            float v = mode ? -55.0f : -65.0f;
            float u = U[p] + (mode ? 150.0f : 250.0f);
            model::SomaConductances g{};
            g.adapt = GA[s];
            model::soma_step<model::kCoreReceptors>(k, rc, g, -80.0f, I[s], &v, &u);
            vr[mode] = v;
            ur[mode] = u;
        }
        EXPECT_EQ(V[s], vr[burst]) << "spike at step " << step;
        EXPECT_EQ(U[s], ur[burst]) << "spike at step " << step;
        EXPECT_NE(V[s], vr[!burst]) << "spike at step " << step;
        (burst ? burst_resets : regular_resets) += 1;
    }
    EXPECT_GT(burst_resets, 0u);
    EXPECT_GT(regular_resets, 0u);
    EXPECT_EQ(t.calcium, burst_resets);
}

// gamma = 0: plateaus (here from 1000 pA into the dendrite) never switch the reset; gamma = 0.5:
// the switch happens on about half of the plateau steps (an independent draw per step).
TEST_P(PyramidalCell, PlateauSwitchDrawUsesGamma) {
    const std::vector<std::string> vars = {"v_d", "burst_mode"};
    for (double gamma : {0.0, 0.5}) {
        const Trace t = probe_run(
            backend(),
            pulses_and_dendrite(1000, "{mode: stochastic, gamma: " + std::to_string(gamma) + "}",
                                1500, probe_of(vars)),
            vars);
        uint64_t plateau = 0, burst = 0;
        for (size_t s = 0; s < t.var[0].size(); ++s) {
            const bool on = t.var[0][s] >= -30.0f;
            plateau += on;
            if (t.var[1][s] != 0) {
                ASSERT_TRUE(on) << "burst mode without a plateau at step " << s;
                ++burst;
            }
        }
        ASSERT_GT(plateau, 10000u);
        if (gamma == 0) {
            EXPECT_EQ(burst, 0u);
            EXPECT_EQ(t.calcium, 0u);
        } else {
            // sd = sqrt(0.25 / 10000) = 0.005.
            EXPECT_NEAR(double(burst) / double(plateau), 0.5, 0.025);
            EXPECT_GT(t.calcium, 0u);
        }
    }
}
