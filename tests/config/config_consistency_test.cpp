// Config errors of values that are each in range but do not fit together: delays and rings,
// layouts and rules, projections and injections naming populations that must exist, timing
// that must be ordered. The messages name
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

// ---- inconsistent values ----

TEST(ConfigErrors, RingDelayShorterThanTheStep) {
    const auto m = error_of(base() + "    delay: {ms: 0.05}\n");
    EXPECT_TRUE(starts_with(m, "test.yaml:16:17: "));
    EXPECT_TRUE(mentions(m, {"projections.PYR_PV.delay.ms: expected a delay >= dt_ms (0.1 ms) "
                             "or exactly 0",
                             "got '0.05'"}));
}

TEST(ConfigErrors, RingDelayOfZeroOrAtLeastOneStepIsValid) {
    for (const char* d : {"0", "0.1", "2.5"}) {
        const auto c = l5sim::parse_config(base() + "    delay: {ms: " + d + "}\n", "test.yaml");
        EXPECT_DOUBLE_EQ(c.projections[0].delay_ms, std::stod(d));
    }
}

TEST(ConfigErrors, DelayBeyondTheRingBuffer) {
    const auto m = error_of(base() + "    delay: {ms: 30}\n");
    EXPECT_TRUE(mentions(m, {"test.yaml:16:17: ",
                             "projections.PYR_PV.delay.ms: expected a delay "
                             "in ms within 255 steps of dt_ms"}));
}

TEST(ConfigErrors, SheetMinimumDelayShorterThanTheStep) {
    EXPECT_NO_THROW(l5sim::parse_config(sheet(""), "test.yaml"));
    const auto m = error_of(sheet("    delay: {min_ms: 0.05}\n"));
    EXPECT_TRUE(starts_with(m, "test.yaml:11:21: "));
    EXPECT_TRUE(mentions(
        m, {"projections.PYR_PV.delay.min_ms: expected a delay >= dt_ms (0.1 ms)", "got '0.05'"}));
    // No zero delay on the sheet: d_min is what makes temporal blocking possible.
    const auto z = error_of(sheet("    delay: {min_ms: 0}\n"));
    EXPECT_TRUE(mentions(z, {"test.yaml:11:21: ", "delay.min_ms: expected a delay >= dt_ms"}));
}

TEST(ConfigErrors, SheetSpeedTooSlowForTheDelayBuffer) {
    const auto m = error_of(sheet("    delay: {min_ms: 1, speed_per_ms: 0.001}\n"));
    EXPECT_TRUE(mentions(m, {"test.yaml:11:38: ",
                             "projections.PYR_PV.delay.speed_per_ms: expected a "
                             "speed at which the longest delay"}));
}

TEST(ConfigErrors, RingDelayKeyOnTheSheetIsUnknown) {
    const auto m = error_of(sheet("    delay: {ms: 1}\n"));
    EXPECT_TRUE(mentions(m, {"test.yaml:11:13: ", "projections.PYR_PV.delay.ms: unknown key"}));
}

TEST(ConfigErrors, ConnectivityRuleMustMatchTheLayout) {
    const auto ring = error_of(base() + "    connectivity: {rule: sparse}\n");
    EXPECT_TRUE(mentions(ring, {"test.yaml:16:26: ",
                                "projections.PYR_PV.connectivity.rule: "
                                "expected dense (sparse connectivity needs "
                                "network.layout: sheet)"}));
    const auto sh = error_of(yaml({
        "network: {layout: sheet}",
        "populations:",
        "  PYR: {n: 16}",
        "projections:",
        "  P: {source: PYR, target: PYR, receptors: {ampa: 1}, connectivity: {rule: dense}}",
    }));
    EXPECT_TRUE(
        mentions(sh, {"test.yaml:5:76: ", "projections.P.connectivity.rule: expected sparse"}));
}

TEST(ConfigErrors, SparseOnlyKeyOnTheRingIsUnknown) {
    const auto m = error_of(base() + "    connectivity: {K: 10}\n");
    EXPECT_TRUE(
        mentions(m, {"test.yaml:16:20: ", "projections.PYR_PV.connectivity.K: unknown key"}));
}

TEST(ConfigErrors, UnknownPopulationInProjectionSource) {
    const auto m = error_of(yaml({
        "populations:",
        "  PYR: {n: 4}",
        "projections:",
        "  P:",
        "    source: PYRAMIDS",
        "    target: PYR",
        "    receptors: {ampa: 1}",
    }));
    EXPECT_TRUE(starts_with(m, "test.yaml:5:13: "));
    EXPECT_TRUE(mentions(
        m, {"projections.P.source: expected a population name (one of PYR)", "got 'PYRAMIDS'"}));
}

TEST(ConfigErrors, UnknownPopulationInProjectionTarget) {
    const auto m = error_of(yaml({
        "populations:",
        "  PYR: {n: 4}",
        "  PV: {type: pv, n: 2}",
        "projections:",
        "  P:",
        "    source: PYR",
        "    target: SOM",
        "    receptors: {ampa: 1}",
    }));
    EXPECT_TRUE(starts_with(m, "test.yaml:7:13: "));
    EXPECT_TRUE(mentions(
        m, {"projections.P.target: expected a population name (one of PYR, PV)", "got 'SOM'"}));
}

TEST(ConfigErrors, MissingProjectionSource) {
    const auto m = error_of(yaml({
        "populations:",
        "  PYR: {n: 4}",
        "projections:",
        "  P:",
        "    target: PYR",
        "    receptors: {ampa: 1}",
    }));
    EXPECT_TRUE(starts_with(m, "test.yaml:5:5: "));
    EXPECT_TRUE(mentions(m, {"projections.P.source: expected a name (required), got nothing"}));
}

TEST(ConfigErrors, ProjectionWithoutAnyReceptor) {
    const auto m = error_of(yaml({
        "populations:",
        "  PYR: {n: 4}",
        "projections:",
        "  P:",
        "    source: PYR",
        "    target: PYR",
        "    receptors: {ampa: 0}",
    }));
    EXPECT_TRUE(starts_with(m, "test.yaml:7:16: "));
    EXPECT_TRUE(
        mentions(m, {"projections.P.receptors: expected at least one receptor factor > 0"}));
}

TEST(ConfigErrors, DendriteCompartmentOnAPvTarget) {
    const auto m = error_of(base() + "    compartment: dendrite\n");
    EXPECT_TRUE(starts_with(m, "test.yaml:16:18: "));
    EXPECT_TRUE(mentions(m, {"projections.PYR_PV.compartment: expected soma (target population PV "
                             "has no dendrite)",
                             "got 'dendrite'"}));
}

TEST(ConfigErrors, UnknownPopulationInAnInjection) {
    const auto m = error_of(base() + yaml({
                                         "injections:",            // 16
                                         "  - population: SOM",    // 17
                                         "    amplitude_pA: 100",  // 18
                                     }));
    EXPECT_TRUE(starts_with(m, "test.yaml:17:17: "));
    EXPECT_TRUE(mentions(
        m, {"injections.0.population: expected a population name (one of PYR, PV)", "got 'SOM'"}));
}

TEST(ConfigErrors, DendriteInjectionIntoAnInterneuron) {
    const auto m = error_of(base() + yaml({
                                         "injections:",                // 16
                                         "  - population: PV",         // 17
                                         "    compartment: dendrite",  // 18
                                     }));
    EXPECT_TRUE(starts_with(m, "test.yaml:18:18: "));
    EXPECT_TRUE(
        mentions(m, {"injections.0.compartment: expected soma (population PV has no dendrite)"}));
}

TEST(ConfigErrors, InjectionCellsOutOfRange) {
    const auto m = error_of(base() + yaml({
                                         "injections:",           // 16
                                         "  - population: PYR",   // 17
                                         "    cells: [0, 3, 4]",  // 18
                                     }));
    EXPECT_TRUE(starts_with(m, "test.yaml:18:12: "));
    EXPECT_TRUE(mentions(
        m, {"injections.0.cells: expected 'all', a list of cell ids in [0, 4)", "got [0, 3, 4]"}));
    const auto neg = error_of(base() + "injections:\n  - {population: PYR, cells: [-1]}\n");
    EXPECT_TRUE(mentions(neg, {"test.yaml:17:30: ",
                               "injections.0.cells: expected 'all', a list of "
                               "cell ids in [0, 4)"}));
    const auto range =
        error_of(base() + "injections:\n  - {population: PYR, cells: {from: 1, to: 9}}\n");
    EXPECT_TRUE(mentions(
        range,
        {"test.yaml:17:44: ", "injections.0.cells.to: expected an integer in [2, 4]", "got '9'"}));
    const auto empty = error_of(base() + "injections:\n  - {population: PYR, cells: []}\n");
    EXPECT_TRUE(
        mentions(empty, {"test.yaml:17:30: ", "injections.0.cells: expected 'all'", "got []"}));
}

TEST(ConfigErrors, InjectionStopNotAfterStart) {
    const auto m = error_of(base() + yaml({
                                         "injections:",          // 16
                                         "  - population: PYR",  // 17
                                         "    kind: step",       // 18
                                         "    start_ms: 20",     // 19
                                         "    stop_ms: 20",      // 20
                                     }));
    EXPECT_TRUE(starts_with(m, "test.yaml:20:14: "));
    EXPECT_TRUE(
        mentions(m, {"injections.0.stop_ms: expected a time after start_ms, or -1", "got '20'"}));
}

TEST(ConfigErrors, PulseWidthLongerThanThePeriod) {
    const auto m = error_of(
        base() + yaml({
                     "injections:",
                     "  - {population: PYR, kind: pulse_train, period_ms: 10, width_ms: 20}",
                 }));
    EXPECT_TRUE(mentions(m, {"test.yaml:17:67: ",
                             "injections.0.width_ms: expected a width >= dt_ms and <= period_ms"}));
}

TEST(ConfigErrors, TimingKeysOfAConstantInjectionAreUnknown) {
    const auto m = error_of(base() + "injections:\n  - {population: PYR, start_ms: 10}\n");
    EXPECT_TRUE(mentions(m, {"test.yaml:17:23: ", "injections.0.start_ms: unknown key"}));
}

TEST(ConfigErrors, DuplicateInjectionName) {
    const auto m = error_of(base() + yaml({
                                         "injections:",
                                         "  - {name: drive, population: PYR}",
                                         "  - {name: drive, population: PV}",
                                     }));
    EXPECT_TRUE(mentions(m, {"test.yaml:18:12: ",
                             "injections.1.name: expected a name not used by another injection"}));
}

}  // namespace
