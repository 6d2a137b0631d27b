// Config errors of unknown keys, wrong types and out-of-range values (with
// config_consistency_test.cpp and config_schedule_errors_test.cpp: every config error path): one
// ConfigError whose message names file:line:column, the key path and what was expected (DESIGN.md
// section 6). Lines are checked exactly on small YAML texts.
#include <gtest/gtest.h>

#include <chrono>
#include <initializer_list>
#include <string>
#include <vector>

#include "config_test_util.hpp"
#include "l5sim/config.hpp"
#include "l5sim/error.hpp"

namespace {

using l5sim::ConfigError;
using l5sim::Override;
using l5sim::test::base;
using l5sim::test::error_of;
using l5sim::test::mentions;
using l5sim::test::starts_with;
using l5sim::test::yaml;

TEST(ConfigErrors, BaseConfigIsValid) {
    const auto c = l5sim::parse_config(base(), "test.yaml");
    EXPECT_EQ(c.populations.size(), 2u);
    EXPECT_EQ(c.projections.size(), 1u);
}

// ---- unknown keys ----

TEST(ConfigErrors, UnknownTopLevelKey) {
    const auto m = error_of(base() + "simulaton: {dt_ms: 0.1}\n");
    EXPECT_TRUE(starts_with(m, "test.yaml:16:1: "));
    EXPECT_TRUE(mentions(m, {"simulaton: unknown key", "known here", "simulation"}));
}

TEST(ConfigErrors, UnknownNestedKey) {
    const auto m = error_of(yaml({
        "simulation:",
        "  dt_ms: 0.1",
        "  dt: 0.2",
        "populations:",
        "  PYR: {n: 4}",
    }));
    EXPECT_TRUE(starts_with(m, "test.yaml:3:3: "));
    EXPECT_TRUE(mentions(m, {"simulation.dt: unknown key", "dt_ms", "duration_ms"}));
}

TEST(ConfigErrors, UnknownKeyInsidePopulation) {
    const auto m = error_of(yaml({
        "populations:",
        "  PYR:",
        "    n: 4",
        "    soma:",
        "      C_pF: 150",
        "      tau_ms: 3",
    }));
    EXPECT_TRUE(starts_with(m, "test.yaml:6:7: "));
    EXPECT_TRUE(mentions(m, {"populations.PYR.soma.tau_ms: unknown key", "C_pF"}));
}

TEST(ConfigErrors, DendriteKeyOnAnInterneuronIsUnknown) {
    const auto m = error_of(yaml({
        "populations:",
        "  PV:",
        "    type: pv",
        "    n: 2",
        "    dendrite: {p_bap_pA: 100}",
    }));
    EXPECT_TRUE(starts_with(m, "test.yaml:5:5: "));
    EXPECT_TRUE(mentions(m, {"populations.PV.dendrite: unknown key"}));
}

TEST(ConfigErrors, UnknownKeyInsideProjection) {
    const auto m = error_of(base() + "    weight: 2\n");
    EXPECT_TRUE(starts_with(m, "test.yaml:16:5: "));
    EXPECT_TRUE(mentions(m, {"projections.PYR_PV.weight: unknown key", "receptors"}));
}

TEST(ConfigErrors, UnknownKeyInsideAListItem) {
    const auto m = error_of(base() + yaml({
                                         "injections:",            // 16
                                         "  - population: PYR",    // 17
                                         "    amplitude_pA: 100",  // 18
                                         "  - population: PYR",    // 19
                                         "    amp: 100",           // 20
                                     }));
    EXPECT_TRUE(starts_with(m, "test.yaml:20:5: "));
    EXPECT_TRUE(mentions(m, {"injections.1.amp: unknown key", "amplitude_pA"}));
}

TEST(ConfigErrors, UnknownKeyInsideAProbe) {
    const auto m = error_of(base() + yaml({
                                         "recording:",                         // 16
                                         "  probes:",                          // 17
                                         "    - {population: PYR, every: 5}",  // 18
                                     }));
    EXPECT_TRUE(starts_with(m, "test.yaml:18:25: "));
    EXPECT_TRUE(mentions(m, {"recording.probes.0.every: unknown key", "every_steps"}));
}

TEST(ConfigErrors, DuplicateKey) {
    const auto m = error_of(yaml({
        "populations:",
        "  PYR: {n: 4}",
        "  PYR: {n: 5}",
    }));
    EXPECT_TRUE(starts_with(m, "test.yaml:3:3: "));
    EXPECT_TRUE(mentions(m, {"populations.PYR", "duplicate key", "line 2"}));
}

TEST(ConfigErrors, DuplicateNestedKey) {
    const auto m = error_of(yaml({
        "simulation:",
        "  dt_ms: 0.1",
        "  duration_ms: 50",
        "  dt_ms: 0.2",
        "populations:",
        "  PYR: {n: 4}",
    }));
    EXPECT_TRUE(starts_with(m, "test.yaml:4:3: "));
    EXPECT_TRUE(mentions(m, {"simulation.dt_ms", "duplicate key"}));
}

// ---- wrong types ----

TEST(ConfigErrors, StringForANumber) {
    const auto m = error_of(yaml({
        "simulation:",
        "  dt_ms: fast",
        "populations:",
        "  PYR: {n: 4}",
    }));
    EXPECT_TRUE(starts_with(m, "test.yaml:2:10: "));
    EXPECT_TRUE(mentions(m, {"simulation.dt_ms: expected a number > 0 and <= 1,", "got 'fast'"}));
}

TEST(ConfigErrors, MapForANumber) {
    const auto m = error_of(yaml({
        "populations:",
        "  PYR:",
        "    n: {value: 4}",
    }));
    EXPECT_TRUE(starts_with(m, "test.yaml:3:8: "));
    EXPECT_TRUE(mentions(m, {"populations.PYR.n: expected an integer", "got {value: '4'}"}));
}

TEST(ConfigErrors, FractionForAnInteger) {
    const auto m = error_of(yaml({
        "populations:",
        "  PYR: {n: 4.5}",
    }));
    EXPECT_TRUE(starts_with(m, "test.yaml:2:12: "));
    EXPECT_TRUE(mentions(m, {"populations.PYR.n: expected an integer in [1, ", "got '4.5'"}));
}

TEST(ConfigErrors, ListWhereAMapIsExpected) {
    const auto m = error_of(yaml({
        "populations:",
        "  PYR: {n: 4}",
        "simulation: [0.1, 50]",
    }));
    EXPECT_TRUE(starts_with(m, "test.yaml:3:13: "));
    EXPECT_TRUE(mentions(m, {"simulation: expected a map of keys, got [0.1, 50]"}));
}

TEST(ConfigErrors, ScalarWhereAPopulationMapIsExpected) {
    const auto m = error_of(yaml({
        "populations:",
        "  PYR: 4",
    }));
    EXPECT_TRUE(starts_with(m, "test.yaml:2:8: "));
    EXPECT_TRUE(mentions(m, {"populations.PYR: expected a map of keys, got '4'"}));
}

TEST(ConfigErrors, MapWhereAListIsExpected) {
    const auto m = error_of(base() + "injections: {population: PYR}\n");
    EXPECT_TRUE(starts_with(m, "test.yaml:16:13: "));
    EXPECT_TRUE(mentions(m, {"injections: expected a list of maps, got {population: 'PYR'}"}));
}

TEST(ConfigErrors, ScalarListItemWhereAMapIsExpected) {
    const auto m = error_of(base() + yaml({"schedule:", "  - PYR.gamma"}));
    EXPECT_TRUE(starts_with(m, "test.yaml:17:5: "));
    EXPECT_TRUE(mentions(m, {"schedule.0: expected a map of keys, got 'PYR.gamma'"}));
}

TEST(ConfigErrors, NotABoolean) {
    const auto m = error_of(base() + yaml({"recording:", "  spikes: maybe"}));
    EXPECT_TRUE(starts_with(m, "test.yaml:17:11: "));
    EXPECT_TRUE(mentions(m, {"recording.spikes: expected true or false, got 'maybe'"}));
}

TEST(ConfigErrors, NotOneOfTheChoices) {
    const auto m = error_of(yaml({
        "populations:",
        "  PYR:",
        "    type: pyramid",
        "    n: 4",
    }));
    EXPECT_TRUE(starts_with(m, "test.yaml:3:11: "));
    EXPECT_TRUE(
        mentions(m, {"populations.PYR.type: expected one of pyramidal, pv, som", "got 'pyramid'"}));
}

TEST(ConfigErrors, ScalarWhereAListOfNamesIsExpected) {
    const auto m = error_of(base() + yaml({
                                         "recording:",
                                         "  probes:",
                                         "    - population: PYR",
                                         "      variables: v",
                                     }));
    EXPECT_TRUE(starts_with(m, "test.yaml:19:18: "));
    EXPECT_TRUE(mentions(m, {"recording.probes.0.variables: expected a list of names, got 'v'"}));
}

TEST(ConfigErrors, TopLevelIsNotAMap) {
    const auto m = error_of("- 1\n- 2\n");
    EXPECT_TRUE(mentions(m, {"test.yaml", "expected a YAML map at the top level"}));
}

TEST(ConfigErrors, NoPopulations) {
    const auto m = error_of("simulation: {dt_ms: 0.1}\n");
    EXPECT_TRUE(mentions(m, {"test.yaml", "populations: expected at least one population"}));
}

// ---- out-of-range values ----

TEST(ConfigErrors, NegativePopulationSize) {
    const auto m = error_of(yaml({
        "populations:",
        "  PYR:",
        "    n: -5",
    }));
    EXPECT_TRUE(starts_with(m, "test.yaml:3:8: "));
    EXPECT_TRUE(
        mentions(m, {"populations.PYR.n: expected an integer in [1, 2000000000]", "got '-5'"}));
}

TEST(ConfigErrors, ZeroOrMissingPopulationSize) {
    EXPECT_TRUE(mentions(error_of("populations:\n  PYR: {n: 0}\n"),
                         {"test.yaml:2:12: ", "populations.PYR.n: expected an integer in [1, "}));
    EXPECT_TRUE(mentions(error_of("populations:\n  PYR: {type: pyramidal}\n"),
                         {"populations.PYR.n: expected an integer in [1, ", "got nothing"}));
}

TEST(ConfigErrors, GammaAboveOneIsNotAProbability) {
    const auto m = error_of(yaml({
        "populations:",
        "  PYR:",
        "    n: 4",
        "    coupling:",
        "      mode: stochastic",
        "      gamma: 1.5",
    }));
    EXPECT_TRUE(starts_with(m, "test.yaml:6:14: "));
    EXPECT_TRUE(mentions(
        m, {"populations.PYR.coupling.gamma: expected a probability in [0, 1]", "got '1.5'"}));
}

TEST(ConfigErrors, NegativeGammaIsNotAProbability) {
    const auto m = error_of("populations:\n  PYR: {n: 4, coupling: {gamma: -0.1}}\n");
    EXPECT_TRUE(
        mentions(m, {"test.yaml:2:33: ", "coupling.gamma: expected a probability in [0, 1]"}));
}

TEST(ConfigErrors, TimeStepMustBePositive) {
    for (const char* dt : {"0", "-0.1"}) {
        const auto m = error_of(std::string("simulation:\n  dt_ms: ") + dt +
                                "\npopulations:\n  PYR: {n: 4}\n");
        EXPECT_TRUE(starts_with(m, "test.yaml:2:10: "));
        EXPECT_TRUE(mentions(m, {"simulation.dt_ms: expected a number > 0 and <= 1",
                                 std::string("got '") + dt + "'"}));
    }
}

TEST(ConfigErrors, TimeStepAboveOneMs) {
    const auto m = error_of("simulation: {dt_ms: 2}\npopulations:\n  PYR: {n: 4}\n");
    EXPECT_TRUE(
        mentions(m, {"test.yaml:1:21: ", "simulation.dt_ms: expected a number > 0 and <= 1,"}));
}

TEST(ConfigErrors, NotANumberIsRejected) {
    const auto m = error_of("simulation: {duration_ms: .nan}\npopulations:\n  PYR: {n: 4}\n");
    EXPECT_TRUE(mentions(m, {"test.yaml:1:27: ", "simulation.duration_ms: expected a number > 0"}));
}

TEST(ConfigErrors, NegativeSeed) {
    const auto m = error_of("simulation: {seed: -1}\npopulations:\n  PYR: {n: 4}\n");
    EXPECT_TRUE(mentions(m, {"test.yaml:1:20: ", "simulation.seed: expected an integer in [0, "}));
}

TEST(ConfigErrors, TimeConstantBelowTimeStep) {
    const auto m = error_of(base() + yaml({"synapses:", "  nmda: {tau_ms: 0.05}"}));
    EXPECT_TRUE(mentions(
        m, {"test.yaml:17:18: ", "synapses.nmda.tau_ms: expected a time constant >= dt_ms"}));
}

TEST(ConfigErrors, StdpAmplitudeOutOfRange) {
    const auto m = error_of(base() + "    stdp: {A_plus: 2}\n");
    EXPECT_TRUE(
        mentions(m, {"test.yaml:16:20: ",
                     "projections.PYR_PV.stdp.A_plus: expected a fraction of w_max in [0, 1]"}));
}

TEST(ConfigErrors, NegativeReceptorFactor) {
    const auto m = error_of(yaml({
        "populations:",
        "  PYR: {n: 4}",
        "projections:",
        "  P:",
        "    source: PYR",
        "    target: PYR",
        "    receptors: {ampa: -1}",
    }));
    EXPECT_TRUE(
        mentions(m, {"test.yaml:7:23: ", "projections.P.receptors.ampa: expected a number >= 0"}));
}

}  // namespace
