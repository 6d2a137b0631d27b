// Receptors on the engines (l5sim/model/receptors.hpp): GABA_B, the receptor beyond the core
// ones, on both engines. Its conductance jumps once per presynaptic spike, one delay later, and
// decays by exactly 1 - dt / tau every other step; it inhibits (its target fires less than
// without it, and less than with the same weight on GABA_A, whose decay is 25 times faster);
// only populations with a GABA_B input have it; and a checkpoint holds it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "l5sim/checkpoint.hpp"
#include "l5sim/error.hpp"
#include "test_util.hpp"

using namespace l5sim;

namespace {

class ReceptorsOnEngines : public test::EngineTest {};
L5_ENGINE_TEST_SUITE(ReceptorsOnEngines);

// S (PV, one cell, driven) -> T (pyramidal, two cells, driven; no background), 2 ms delay, on
// the receptor `receptor` of T's compartment `comp`; T's conductances probed every step.
std::string two_cells(const std::string& receptor, const std::string& comp, double A,
                      bool probes = true) {
    return R"(
simulation: {dt_ms: 0.1, duration_ms: 400, seed: 3}
populations:
  S: {type: pv, n: 1, background: {soma: {rate_hz: 0}}}
  T: {type: pyramidal, n: 2, background: {soma: {rate_hz: 0}, dendrite: {rate_hz: 0}}}
projections:
  ST: {source: S, target: T, compartment: )" +
           comp + ", receptors: {" + receptor +
           ": 1}, delay: {ms: 2}, connectivity: {A: " + std::to_string(A) + R"(, sigma: 0.5}}
injections:
  - {name: s, population: S, kind: constant, amplitude_pA: 300}
  - {name: t, population: T, kind: constant, amplitude_pA: 1000}
)" +
           std::string(probes ? R"(recording:
  probes: [{population: T, cells: all, variables: [g_gaba_b, g_gaba_b_d, g_gaba, g_gaba_d],
            every_steps: 1}]
)"
                              : "");
}

}  // namespace

TEST_P(ReceptorsOnEngines, GabaBJumpsOnePerSpikeADelayLaterAndDecaysWithItsTimeConstant) {
    for (const char* comp : {"soma", "dendrite"}) {
        Simulation sim(test::config_from(two_cells("gaba_b", comp, 1.0)), backend());
        sim.run();
        const std::vector<int64_t> pre = test::spike_steps(sim, 0, 0);
        ASSERT_GE(pre.size(), 10u) << "S fires at 300 pA";
        std::set<int64_t> arrivals;  // a spike in step s arrives in step s + 20 (phase 2b)
        for (const int64_t s : pre) arrivals.insert(s + 20);
        const bool dend = std::string(comp) == "dendrite";
        const ProbeRecord& pr = sim.probes()[0];
        const size_t vars = 4, n = 2;
        const float f = static_cast<float>(1 - 0.1 / 150);
        const size_t col = dend ? 1 : 0, other = dend ? 0 : 1;
        int jumps = 0, bad = 0;
        for (size_t k = 1; k < pr.steps.size(); ++k) {
            for (size_t c = 0; c < n; ++c) {
                const float g0 = pr.values[(k - 1) * vars * n + col * n + c];
                const float g1 = pr.values[k * vars * n + col * n + c];
                EXPECT_EQ(pr.values[k * vars * n + other * n + c], 0.0f) << "other compartment";
                EXPECT_EQ(pr.values[k * vars * n + (dend ? 3 : 2) * n + c], 0.0f) << "no GABA_A";
                if (arrivals.count(pr.steps[k])) {
                    jumps += g1 > g0 * f ? 1 : 0;
                } else if (g1 != g0 * f && ++bad <= 5) {
                    ADD_FAILURE() << comp << " step " << pr.steps[k] << " cell " << c << ": " << g1
                                  << " after " << g0 << ", expected exactly " << g0 * f;
                }
            }
        }
        EXPECT_EQ(bad, 0) << comp;
        size_t in_window = 0;  // arrivals within the probed steps
        for (const int64_t a : arrivals) in_window += a >= pr.steps[1] && a <= pr.steps.back();
        EXPECT_EQ(jumps, static_cast<int>(n * in_window)) << comp;
        // Slow: 100 ms after S's last arrival the conductance still holds e^(-100/150) ~ 51 %
        // of what it had then (GABA_A would hold e^(-100/6), nothing).
        EXPECT_GT(pr.values[(pr.steps.size() - 1) * vars * n + col * n], 0.0f) << comp;
    }
}

TEST_P(ReceptorsOnEngines, GabaBInhibitsMoreThanTheSameWeightOnGabaA) {
    auto rate = [&](const std::string& receptor, double A) {
        Simulation sim(test::config_from(two_cells(receptor, "soma", A, false)), backend());
        sim.run();
        return test::spike_steps(sim, 1, 0).size() + test::spike_steps(sim, 1, 1).size();
    };
    const size_t none = rate("gaba_b", 0.0), a = rate("gaba_a", 10.0), b = rate("gaba_b", 10.0);
    ASSERT_GE(none, 10u) << "T fires at 1000 pA";
    EXPECT_LT(a, none) << "GABA_A inhibits (" << a << " of " << none << " spikes)";
    EXPECT_LT(b, a) << "GABA_B (tau 150 ms, E -90 mV) inhibits more than GABA_A (6 ms, -75 mV): "
                    << b << " spikes, GABA_A " << a;
}

TEST_P(ReceptorsOnEngines, OnlyPopulationsWithAGabaBInputHaveItAndCheckpointsHoldIt) {
    const Config c = test::config_from(two_cells("gaba_b", "dendrite", 1.0));
    EXPECT_FALSE(c.populations[0].all_receptors);
    EXPECT_TRUE(c.populations[1].all_receptors);
    std::set<std::string> blocks;
    for (const auto& b : state_layout(c)) blocks.insert(b.name);
    EXPECT_TRUE(blocks.count("T/g_gaba_b") && blocks.count("T/g_gaba_b_d"));
    EXPECT_TRUE(blocks.count("S/v"));
    EXPECT_FALSE(blocks.count("S/g_gaba_b"));
    // A checkpoint at 150 ms resumed to 400 ms gives the uninterrupted run's T spikes and
    // conductances after it (the GABA_B state is in the checkpoint; were it not, the resumed
    // conductance would restart at 0).
    Simulation whole(c, backend());
    whole.run();
    const int64_t stop = 1500;
    const std::filesystem::path file =
        std::filesystem::temp_directory_path() /
        ("l5sim_gaba_b_" + std::to_string(::getpid()) + "_" + test::to_string(GetParam()));
    {
        Simulation a(c, backend());
        EXPECT_FALSE(a.run({}, [&](int64_t s) { return s >= stop; }));
        write_checkpoint(file, a);
    }
    const CheckpointInfo info = read_checkpoint_info(file);
    Simulation b(parse_config(info.config_yaml, file.string()), backend());
    restore_checkpoint(file, info, b);
    EXPECT_TRUE(b.run());
    std::filesystem::remove(file);
    auto after = [&](const Simulation& sim) {
        std::vector<int64_t> out;
        for (const int64_t s : sim.spikes()[1].steps)
            if (s >= stop) out.push_back(s);
        return out;
    };
    EXPECT_EQ(after(b), after(whole));
    ASSERT_GE(after(whole).size(), 5u);
    const ProbeRecord &pw = whole.probes()[0], &pb = b.probes()[0];
    const size_t row = 4 * 2;
    ASSERT_FALSE(pb.steps.empty());
    size_t k0 = 0;
    while (k0 < pw.steps.size() && pw.steps[k0] < pb.steps[0]) ++k0;
    ASSERT_EQ(pw.steps.size() - k0, pb.steps.size());
    bool any = false;
    for (size_t k = 0; k < pb.steps.size(); ++k)
        for (size_t j = 0; j < row; ++j) {
            ASSERT_EQ(pb.values[k * row + j], pw.values[(k0 + k) * row + j])
                << "step " << pb.steps[k] << " column " << j;
            any = any || (j / 2 == 1 && pb.values[k * row + j] > 0);
        }
    EXPECT_TRUE(any) << "the dendrites' GABA_B conductance is probed after the resume";
}

TEST(Receptors, AProbeOfGabaBNeedsAGabaBInput) {
    try {
        test::config_from(
            "populations: {P: {type: pyramidal, n: 3}, I: {type: pv, n: 2}}\n"
            "projections: {IP: {source: I, target: P, receptors: {gaba_a: 1}}}\n"
            "recording: {probes: [{population: P, variables: [v, g_gaba_b]}]}");
        FAIL() << "no GABA_B input, no g_gaba_b";
    } catch (const ConfigError& e) {
        EXPECT_NE(
            std::string(e.what()).find("'g_gaba_b' is not one; only populations with a GABA_B "
                                       "input have it (a projection into P with "
                                       "receptors.gaba_b > 0)"),
            std::string::npos)
            << e.what();
    }
    EXPECT_NO_THROW(test::config_from(
        "populations: {P: {type: pyramidal, n: 3}, I: {type: pv, n: 2}}\n"
        "projections: {IP: {source: I, target: P, receptors: {gaba_b: 0.5}}}\n"
        "recording: {probes: [{population: P, variables: [v, g_gaba_b, g_gaba_b_d]}]}"));
}
