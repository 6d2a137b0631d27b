// Config errors of schedules, probes, recordings and cell parameters that must fit their
// population, YAML syntax, files, and the finds of a review of bad input. The messages name
// file:line:column, the key path and what was expected (DESIGN.md section 6).
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
using l5sim::test::sheet;
using l5sim::test::starts_with;
using l5sim::test::yaml;

TEST(ConfigErrors, UnknownScheduleKnob) {
    const auto m = error_of(base() + yaml({
                                         "schedule:",           // 16
                                         "  - knob: PYR.gain",  // 17
                                         "    value: 2",        // 18
                                     }));
    EXPECT_TRUE(starts_with(m, "test.yaml:17:11: "));
    EXPECT_TRUE(mentions(m, {"schedule.0.knob: expected a knob name (one of PYR.gamma, "
                             "PYR.background.dendrite.rate_hz, PYR.background.soma.rate_hz, "
                             "PV.background.soma.rate_hz, projections.PYR_PV.gain)",
                             "got 'PYR.gain'"}));
}

TEST(ConfigErrors, ScheduleGammaOfAnInterneuronIsNoKnob) {
    const auto m = error_of(base() + "schedule:\n  - {knob: PV.gamma, value: 0.5}\n");
    EXPECT_TRUE(mentions(
        m, {"test.yaml:17:12: ", "schedule.0.knob: expected a knob name", "got 'PV.gamma'"}));
}

TEST(ConfigErrors, ScheduleEtaOfANonPlasticProjectionIsNoKnob) {
    const auto m = error_of(base() + "schedule:\n  - {knob: projections.PYR_PV.eta, value: 2}\n");
    EXPECT_TRUE(mentions(m, {"test.yaml:17:12: ", "schedule.0.knob: expected a knob name"}));
    EXPECT_NO_THROW(l5sim::parse_config(base() + "    stdp: {}\nschedule:\n"
                                                 "  - {knob: projections.PYR_PV.eta, value: 2}\n",
                                        "test.yaml"));
}

TEST(ConfigErrors, ScheduleGammaOutsideZeroOne) {
    const auto set = error_of(base() + "schedule:\n  - {knob: PYR.gamma, value: 1.2}\n");
    EXPECT_TRUE(
        mentions(set, {"test.yaml:17:30: ", "schedule.0.value: expected a probability in [0, 1]"}));
    const auto add = error_of(base() + "schedule:\n  - {knob: PYR.gamma, op: add, value: -1.5}\n");
    EXPECT_TRUE(mentions(add, {"test.yaml:17:39: ",
                               "schedule.0.value: expected a change of probability in [-1, 1]"}));
}

TEST(ConfigErrors, ScheduleNegativeRate) {
    const auto m =
        error_of(base() + "schedule:\n  - {knob: PYR.background.soma.rate_hz, value: -5}\n");
    EXPECT_TRUE(
        mentions(m, {"test.yaml:17:48: ", "schedule.0.value: expected a rate in [0, 1000000] Hz"}));
}

TEST(ConfigErrors, ScheduleWithoutAValue) {
    const auto m = error_of(base() + yaml({
                                         "schedule:",            // 16
                                         "  - knob: PYR.gamma",  // 17
                                         "    start_ms: 10",     // 18
                                     }));
    EXPECT_TRUE(mentions(m, {"test.yaml:17:5: ", "schedule.0.value: expected", "got nothing"}));
}

TEST(ConfigErrors, ScheduleStopNotAfterStart) {
    const auto m = error_of(base() + yaml({
                                         "schedule:",            // 16
                                         "  - knob: PYR.gamma",  // 17
                                         "    value: 1",         // 18
                                         "    start_ms: 30",     // 19
                                         "    stop_ms: 10",      // 20
                                     }));
    EXPECT_TRUE(starts_with(m, "test.yaml:20:14: "));
    EXPECT_TRUE(
        mentions(m, {"schedule.0.stop_ms: expected a time after start_ms, or -1", "got '10'"}));
}

TEST(ConfigErrors, ScheduleCellsOnlyForGamma) {
    const auto m = error_of(
        base() + "schedule:\n  - {knob: PYR.background.soma.rate_hz, value: 5, cells: [1]}\n");
    EXPECT_TRUE(mentions(m, {"test.yaml:17:51: ", "schedule.0.cells: unknown key"}));
    const auto out = error_of(base() + "schedule:\n  - {knob: PYR.gamma, value: 1, cells: [7]}\n");
    EXPECT_TRUE(mentions(out, {"test.yaml:17:40: ",
                               "schedule.0.cells: expected 'all', a list of "
                               "cell ids in [0, 4)"}));
}

TEST(ConfigErrors, UnknownPopulationInAProbe) {
    const auto m = error_of(base() + yaml({
                                         "recording:",             // 16
                                         "  probes:",              // 17
                                         "    - population: SOM",  // 18
                                     }));
    EXPECT_TRUE(starts_with(m, "test.yaml:18:19: "));
    EXPECT_TRUE(mentions(m, {"recording.probes.0.population: expected a population name (one of "
                             "PYR, PV)",
                             "got 'SOM'"}));
}

TEST(ConfigErrors, ProbeVariableNotInThePopulation) {
    const auto m = error_of(base() + yaml({
                                         "recording:",                 // 16
                                         "  probes:",                  // 17
                                         "    - population: PV",       // 18
                                         "      variables: [v, v_d]",  // 19
                                     }));
    EXPECT_TRUE(starts_with(m, "test.yaml:19:18: "));
    EXPECT_TRUE(mentions(m, {"recording.probes.0.variables: expected variables of PV (v, u, g_ampa",
                             "'v_d'", "got [v, v_d]"}));
    // The dendrite's variables exist on PYR cells.
    EXPECT_NO_THROW(l5sim::parse_config(
        base() + "recording:\n  probes:\n    - {population: PYR, variables: [v, v_d, gamma]}\n",
        "test.yaml"));
}

TEST(ConfigErrors, ProbeCellsOutOfRange) {
    const auto m = error_of(base() + "recording:\n  probes:\n    - {population: PV, cells: [2]}\n");
    EXPECT_TRUE(mentions(m, {"test.yaml:18:31: ",
                             "recording.probes.0.cells: expected 'all', a list "
                             "of cell ids in [0, 2)"}));
}

TEST(ConfigErrors, WeightRecordingOfAnUnknownProjection) {
    const auto m = error_of(base() + "recording:\n  weights:\n    - {projection: PYR_PYR}\n");
    EXPECT_TRUE(mentions(m, {"test.yaml:18:20: ",
                             "recording.weights.0.projection: expected the name "
                             "of a projection",
                             "got 'PYR_PYR'"}));
}

TEST(ConfigErrors, SpikePeakBelowThreshold) {
    const auto m = error_of(yaml({
        "populations:",
        "  PV:",
        "    type: pv",
        "    n: 2",
        "    soma: {v_t_mV: -40, v_peak_mV: -45}",
    }));
    EXPECT_TRUE(mentions(m, {"test.yaml:5:36: ",
                             "populations.PV.soma.v_peak_mV: expected a value above "
                             "v_t_mV"}));
}

TEST(ConfigErrors, BapWindowEndsBeforeItOpens) {
    const auto m = error_of(
        "populations:\n  PYR: {n: 4, dendrite: {bap_delay_steps: 8, bap_last_steps: 6}}\n");
    EXPECT_TRUE(mentions(m, {"test.yaml:2:62: ",
                             "populations.PYR.dendrite.bap_last_steps: expected "
                             "an integer in [8, 31]"}));
}

// ---- YAML syntax and files ----

TEST(ConfigErrors, YamlSyntaxErrorNamesTheLine) {
    const auto m = error_of(yaml({
        "simulation:",
        "  dt_ms: 0.1",
        "populations:",
        "  PYR: {n: 4",
        "projections: {}",
    }));
    EXPECT_TRUE(mentions(m, {"test.yaml:", "YAML syntax error"}));
    const auto m2 = error_of(yaml({
        "simulation:",
        "  dt_ms: 0.1",
        " duration_ms: 50",
        "populations:",
    }));
    EXPECT_TRUE(mentions(m2, {"test.yaml:3:", "YAML syntax error"}));
    const auto m3 = error_of("simulation:\n  dt_ms: 0.1\npopulations:\n  PYR: {n: [4}\n");
    EXPECT_TRUE(mentions(m3, {"test.yaml:4:", "YAML syntax error"}));
}

TEST(ConfigErrors, MissingFile) {
    const std::string path = "/nonexistent-l5sim-dir/missing.yaml";
    try {
        l5sim::load_config(path);
        ADD_FAILURE() << "no ConfigError";
    } catch (const ConfigError& e) {
        EXPECT_TRUE(mentions(e.what(), {path, "cannot open the config file"}));
    }
}

// ---- found by a review of bad input (2026-11-28) ----

// Times far beyond any run: a duration is refused, other times saturate (never wrap negative).
TEST(ConfigErrors, DurationBeyondTheLongestRunOrBelowOneStep) {
    EXPECT_TRUE(mentions(error_of(base(), {{"simulation.duration_ms", "1e300"}}),
                         {"--set simulation.duration_ms", "at most 10^13 steps"}));
    EXPECT_TRUE(mentions(error_of(base(), {{"simulation.dt_ms", "1e-300"}}),
                         {"simulation.duration_ms", "at most 10^13 steps"}));
    EXPECT_TRUE(mentions(error_of(base(), {{"simulation.duration_ms", "0.04"}}),
                         {"simulation.duration_ms", "a duration >= dt_ms"}));
    const auto c = l5sim::parse_config(base(), "test.yaml");
    EXPECT_EQ(c.to_steps(1e300), l5sim::kMaxStepCount);
    EXPECT_EQ(c.to_steps(1e18), l5sim::kMaxStepCount);
    EXPECT_EQ(c.to_steps(25.04), 250);
}

TEST(ConfigErrors, HealthCheckIntervalBelowOneStep) {
    EXPECT_TRUE(mentions(error_of(base(), {{"simulation.health.check_every_ms", "0.01"}}),
                         {"simulation.health.check_every_ms: expected an interval >= dt_ms"}));
}

// A rate knob's scheduled value has the config key's range (10^300 Hz would draw forever).
TEST(ConfigErrors, ScheduledRateBeyondTheKeysRange) {
    const auto m = error_of(
        base() + yaml({"schedule:", "  - {knob: PYR.background.soma.rate_hz, value: 1e300}"}));
    EXPECT_TRUE(
        mentions(m, {"test.yaml:17:", "schedule.0.value: expected a rate in [0, 1000000] Hz"}));
    EXPECT_TRUE(mentions(error_of(base() + yaml({"schedule:",
                                                 "  - {knob: PYR.background.soma.rate_hz, "
                                                 "op: add, value: -2e6}"})),
                         {"a change of rate in [-1000000, 1000000] Hz"}));
}

// Integers are decimal: 017 is 17 (yaml-cpp alone reads octal 15), 08 is 8 (refused before).
TEST(ConfigErrors, IntegersWithLeadingZerosAreDecimal) {
    const auto c = l5sim::parse_config(base(), "test.yaml",
                                       {{"populations.PYR.n", "017"}, {"simulation.seed", "010"}});
    EXPECT_EQ(c.populations[0].n, 17u);
    EXPECT_EQ(c.seed, 10u);
    EXPECT_EQ(
        l5sim::parse_config(base(), "test.yaml", {{"populations.PYR.n", "08"}}).populations[0].n,
        8u);
    EXPECT_TRUE(mentions(error_of(base(), {{"populations.PYR.n", "0x10"}}),
                         {"populations.PYR.n: expected an integer"}));
}

// populations.PRY.n (a misspelt name) would add a population with every other value default.
TEST(ConfigErrors, OverrideInsideAnUnknownPopulationIsRefused) {
    const auto m = error_of(base(), {{"populations.PRY.n", "10"}});
    EXPECT_TRUE(
        mentions(m, {"--set populations.PRY.n=10", "no population 'PRY' (known: PYR, PV)"}));
    EXPECT_TRUE(mentions(error_of(base(), {{"projections.PYR_PY.gain", "2"}}),
                         {"no projection 'PYR_PY' (known: PYR_PV)"}));
    // A new entry set whole is still allowed.
    const auto c =
        l5sim::parse_config(base(), "test.yaml", {{"populations.SOM", "{type: som, n: 3}"}});
    EXPECT_EQ(c.populations.size(), 3u);
}

// Names become HDF5 groups and key-path parts: '/' and '.' are refused before the run.
TEST(ConfigErrors, NamesWithSlashesOrDotsAreRefused) {
    EXPECT_TRUE(mentions(error_of(base(), {{"populations.P/V", "{type: pv, n: 2}"}}),
                         {"populations.P/V: expected a population name of letters"}));
    EXPECT_TRUE(mentions(
        error_of(base(), {{"projections.A.B", "{source: PYR, target: PV, receptors: {ampa: 1}}"}}),
        {"no projection 'A'"}));
}

// Two probe variables or two weight records of one name would fail at the end of the run.
TEST(ConfigErrors, DuplicateRecordingsAreRefused) {
    EXPECT_TRUE(mentions(error_of(base() + yaml({"recording:", "  probes:",
                                                 "    - {population: PYR, variables: [v, u, v]}"})),
                         {"test.yaml:18:", "each variable once ('v' is listed twice)"}));
    EXPECT_TRUE(mentions(
        error_of(base() +
                 yaml({"recording:", "  probes:", "    - {population: PYR, variables: []}"})),
        {"a non-empty list of variables"}));
    EXPECT_TRUE(
        mentions(error_of(base() + yaml({"recording:", "  weights:", "    - {projection: PYR_PV}",
                                         "    - {projection: PYR_PV}"})),
                 {"recording.weights.1.projection", "PYR_PV is"}));
}

// A one-cell population onto itself without autapses has no source to draw on a sheet.
TEST(ConfigErrors, OneCellSheetPopulationOntoItselfNeedsAutapses) {
    const std::vector<Override> one = {{"populations.PV.n", "1"},
                                       {"projections.PYR_PV.source", "PV"}};
    EXPECT_TRUE(mentions(error_of(sheet(""), one),
                         {"projections.PYR_PV.connectivity.autapses: expected true"}));
    auto two = one;
    two[0].second = "2";
    EXPECT_NO_THROW(l5sim::parse_config(sheet(""), "test.yaml", two));
}

// YAML says "200" (quoted) or !!str 200 is a string: no number, integer or boolean here.
TEST(ConfigErrors, QuotedNumbersAndBooleansAreStrings) {
    EXPECT_TRUE(mentions(error_of(base(), {{"populations.PYR.n", "\"4\""}}),
                         {"populations.PYR.n: expected an integer", "this is a string"}));
    EXPECT_TRUE(mentions(error_of(base(), {{"simulation.dt_ms", "'0.1'"}}),
                         {"simulation.dt_ms: expected a number", "this is a string"}));
    EXPECT_TRUE(
        mentions(error_of(base(), {{"simulation.dt_ms", "!!str 0.1"}}), {"this is a string"}));
    EXPECT_TRUE(mentions(error_of(base(), {{"recording.spikes", "\"true\""}}),
                         {"recording.spikes: expected true or false"}));
    // Plain and explicitly typed scalars are numbers.
    EXPECT_DOUBLE_EQ(
        l5sim::parse_config(base(), "test.yaml", {{"simulation.dt_ms", "!!float 0.05"}}).dt_ms,
        0.05);
}

TEST(ConfigErrors, SecondYamlDocumentIsRefused) {
    EXPECT_TRUE(mentions(error_of(base() + "---\npopulations: {PYR: {n: 1000000}}\n"),
                         {"test.yaml:17: a second YAML document"}));
}

TEST(ConfigErrors, DirectoryAsTheConfig) {
    try {
        l5sim::load_config("/tmp");
        ADD_FAILURE() << "no ConfigError";
    } catch (const ConfigError& e) {
        EXPECT_TRUE(mentions(e.what(), {"/tmp: is a directory"}));
    }
}

// populations.<name>.init: a number, {uniform: [low, high]} or {normal: [mean, sd]}, each named
// with its line; v_d and u_d only where there is a dendrite.
TEST(ConfigErrors, InitialStateSpread) {
    auto m = error_of(yaml(
        {"populations:", "  PYR:", "    n: 4", "    init:", "      v_mV: {uniform: [-50, -60]}"}));
    EXPECT_TRUE(starts_with(m, "test.yaml:5:13: ")) << m;
    EXPECT_TRUE(mentions(m, {"populations.PYR.init.v_mV: expected {uniform: [low, high]}",
                             "low <= high", "got {uniform: [-50, -60]}"}));
    m = error_of(base(), {{"populations.PYR.init.v_mV", "{normal: [-60, -1]}"}});
    EXPECT_TRUE(mentions(m, {"--set populations.PYR.init.v_mV", "expected {normal: [mean, sd]}",
                             "an sd in [0, 300]"}));
    m = error_of(base(), {{"populations.PYR.init.u_pA", "{gauss: [1, 2]}"}});
    EXPECT_TRUE(mentions(m, {"populations.PYR.init.u_pA: expected a number", "(not 'gauss')"}));
    m = error_of(base(), {{"populations.PYR.init.v_mV", "{uniform: [-70]}"}});
    EXPECT_TRUE(mentions(m, {"expected {uniform: [low, high]}", "got {uniform: [-70]}"}));
    m = error_of(base(), {{"populations.PYR.init.v_mV", "{uniform: [-70, x]}"}});
    EXPECT_TRUE(mentions(m, {"populations.PYR.init.v_mV: expected"}));
    m = error_of(base(), {{"populations.PYR.init.v_mV", "-300"}});
    EXPECT_TRUE(mentions(m, {"expected a number in [-200, 100]", "got '-300'"}));
    m = error_of(base(), {{"populations.PYR.init.v_mV", "{uniform: [-70, -60], normal: [1, 1]}"}});
    EXPECT_TRUE(mentions(m, {"populations.PYR.init.v_mV: expected a number"}));
    m = error_of(base(), {{"populations.PV.init.v_d_mV", "-70"}});
    EXPECT_TRUE(mentions(m, {"populations.PV.init.v_d_mV: unknown key"}));
}

// ---- hostile YAML: each refused with a message, quickly, never a crash ----

TEST(ConfigErrors, AliasInsideItsOwnAnchorIsRefused) {
    const auto m = error_of(base() + "provenance: &x\n  b: *x\n");
    EXPECT_TRUE(starts_with(m, "test.yaml:16:")) << m;
    EXPECT_TRUE(mentions(m, {"provenance.b.b.b", "nested more than 64 levels"})) << m;
    // In a --set value too.
    EXPECT_TRUE(mentions(error_of(base(), {{"provenance", "{a: &x [*x]}"}}),
                         {"--set provenance", "nested more than 64 levels"}));
}

TEST(ConfigErrors, AliasesThatExpandExponentiallyAreRefusedQuickly) {
    // Nine levels of nine aliases each: 9^9 = 387 million nodes from a 600-byte file.
    std::string y = base() + "provenance:\n  a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i <= 9; ++i) {
        y += "  a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
        for (int k = 0; k < 9; ++k) y += (k ? ", *a" : "*a") + std::to_string(i - 1);
        y += "]\n";
    }
    const auto t0 = std::chrono::steady_clock::now();
    const auto m = error_of(y);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_TRUE(mentions(m, {"expands to more than 1000000 nodes"})) << m;
    EXPECT_LT(s, 5.0) << "the bound must stop the walk early";
}

TEST(ConfigErrors, NestingTooDeepForTheParserIsRefused) {
    const std::string deep(100000, '[');
    EXPECT_TRUE(mentions(error_of(base() + "provenance: " + deep + std::string(100000, ']') + "\n"),
                         {"test.yaml:16:", "nested too deeply for the YAML parser"}));
    EXPECT_TRUE(mentions(
        error_of(base() + "provenance: " + std::string(70, '[') + std::string(70, ']') + "\n"),
        {"nested more than 64 levels"}));
}

TEST(ConfigErrors, ConfigTextBeyondTheBoundsIsRefusedBeforeParsing) {
    // 5 MiB in one comment, and 10^5 + 1 list items in a few bytes each.
    auto m = error_of(base() + "# " + std::string(5u << 20, 'x') + "\n");
    EXPECT_TRUE(mentions(m, {"test.yaml: 5.0 MiB; a config is at most 4 MiB"})) << m.substr(0, 200);
    std::string list = "provenance: [";
    for (int i = 0; i < 100001; ++i) list += "1,";
    m = error_of(base() + list + "1]\n");
    EXPECT_TRUE(mentions(m, {"lines and list items; a config has at most 100000"}))
        << m.substr(0, 200);
}

TEST(ConfigErrors, MapAsAKeyIsRefused) {
    EXPECT_TRUE(mentions(error_of(base() + "? {a: 1}\n: 2\n"), {"a key that is a map or a list"}));
}

// yaml-cpp 0.7's LoadAll never returns on a stray ',' outside a flow collection (found by
// scripts/fuzz.sh): refused with its line, at once.
TEST(ConfigErrors, StrayCommaIsASyntaxErrorNotAHang) {
    EXPECT_TRUE(mentions(error_of(","), {"test.yaml:1:1: YAML syntax error"}));
    EXPECT_TRUE(
        mentions(error_of(base() + ", start_ms: 3000}\n"), {"test.yaml:16:1: YAML syntax error"}));
    EXPECT_TRUE(mentions(error_of("- 1\n,\n"), {"test.yaml:2:1: YAML syntax error"}));
}

}  // namespace
