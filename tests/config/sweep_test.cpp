// The `sweep:` block (configs/README.md "sweep"): conditions x grid x trials expanded into one
// validated Config per replica, in the documented order and with seeds base + trial; and every
// error path, each one ConfigError naming file:line:column, the key path and what was expected.
#include "l5sim/sweep.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "config_test_util.hpp"
#include "l5sim/config.hpp"
#include "l5sim/error.hpp"

namespace {

using l5sim::Batch;
using l5sim::ConfigError;
using l5sim::Override;
using l5sim::test::mentions;
using l5sim::test::starts_with;
using l5sim::test::yaml;

// Two PYR cells with one injection, 10 ms, seed 7. Lines 1-10; a sweep block starts at line 11.
std::string base() {
    return yaml({
        "simulation:",                                            // 1
        "  dt_ms: 0.1",                                           // 2
        "  duration_ms: 10",                                      // 3
        "  seed: 7",                                              // 4
        "populations:",                                           // 5
        "  PYR:",                                                 // 6
        "    type: pyramidal",                                    // 7
        "    n: 2",                                               // 8
        "injections:",                                            // 9
        "  - {name: drive, population: PYR, amplitude_pA: 100}",  // 10
    });
}

Batch batch_of(const std::string& text, const std::vector<Override>& ov = {}) {
    return l5sim::parse_batch(text, "sweep.yaml", ov);
}

// The message of the ConfigError that expanding throws ("" plus a test failure if none).
std::string error_of(const std::string& text, const std::vector<Override>& ov = {}) {
    return l5sim::test::config_error([&] { l5sim::parse_batch(text, "sweep.yaml", ov); }, text);
}

// The values of one grid axis, as text, from a sweep with only that axis and one trial.
std::vector<std::string> axis_texts(const std::string& key, const std::string& spec) {
    const Batch b = batch_of(base() + "sweep:\n  grid:\n    " + key + ": " + spec + "\n");
    std::vector<std::string> out;
    for (const auto& r : b.replicas) {
        EXPECT_EQ(r.params.size(), 1u);
        if (r.params.size() == 1) {
            EXPECT_EQ(r.params[0].first, key);
            out.push_back(r.params[0].second);
        }
    }
    return out;
}

// ---- expansion ----

TEST(SweepExpand, NoSweepIsOneConfig) {
    const Batch b = batch_of(base());
    EXPECT_FALSE(b.is_sweep);
    ASSERT_EQ(b.configs.size(), 1u);
    EXPECT_EQ(b.configs[0].seed, 7u);
    EXPECT_EQ(b.configs[0].populations.at(0).n, 2u);
    EXPECT_EQ(b.trials, 1u);
}

TEST(SweepExpand, ConditionsTimesAxesTimesTrialsInOrder) {
    const Batch b = batch_of(base() + yaml({
                                          "sweep:",
                                          "  trials: 2",
                                          "  grid:",
                                          "    injections.0.amplitude_pA: [100, 200, 300]",
                                          "    populations.PYR.background.soma.rate_hz: [0, 500]",
                                          "  conditions:",
                                          "    - label: ctl",
                                          "      set: {populations.PYR.coupling.gamma: 0.2}",
                                          "    - label: high",
                                          "      set:",
                                          "        populations.PYR.coupling.gamma: 0.9",
                                          "        populations.PYR.background.dendrite.rate_hz: 80",
                                      }));
    ASSERT_TRUE(b.is_sweep);
    EXPECT_EQ(b.trials, 2u);
    EXPECT_EQ(b.axes, (std::vector<std::string>{"injections.0.amplitude_pA",
                                                "populations.PYR.background.soma.rate_hz"}));
    EXPECT_EQ(b.conditions, (std::vector<std::string>{"ctl", "high"}));
    ASSERT_EQ(b.replicas.size(), 24u);  // 2 conditions x 3 x 2 grid points x 2 trials
    ASSERT_EQ(b.configs.size(), 24u);
    const char* amps[] = {"100", "200", "300"};
    const char* rates[] = {"0", "500"};
    for (uint32_t i = 0; i < 24; ++i) {
        SCOPED_TRACE("replica " + std::to_string(i));
        const auto& r = b.replicas[i];
        const auto& c = b.configs[i];
        const uint32_t trial = i % 2, rate = (i / 2) % 2, amp = (i / 4) % 3, cond = i / 12;
        EXPECT_EQ(r.index, i);
        EXPECT_EQ(r.trial, trial);
        EXPECT_EQ(r.point, i / 2);
        EXPECT_EQ(r.seed, 7u + trial);
        EXPECT_EQ(r.condition, cond == 0 ? "ctl" : "high");
        ASSERT_EQ(r.params.size(), 2u);
        EXPECT_EQ(r.params[0].first, "injections.0.amplitude_pA");
        EXPECT_EQ(r.params[0].second, amps[amp]);
        EXPECT_EQ(r.params[1].first, "populations.PYR.background.soma.rate_hz");
        EXPECT_EQ(r.params[1].second, rates[rate]);
        // The replica's config holds its values.
        EXPECT_EQ(c.seed, 7u + trial);
        ASSERT_EQ(c.injections.size(), 1u);
        EXPECT_DOUBLE_EQ(c.injections[0].amplitude_pA, 100.0 * (amp + 1));
        ASSERT_EQ(c.populations.size(), 1u);
        EXPECT_DOUBLE_EQ(c.populations[0].background_soma.rate_hz, rate == 0 ? 0.0 : 500.0);
        EXPECT_DOUBLE_EQ(c.populations[0].gamma, cond == 0 ? 0.2 : 0.9);
        EXPECT_DOUBLE_EQ(c.populations[0].background_dendrite.rate_hz, cond == 0 ? 50.0 : 80.0);
        // Everything else is the base config.
        EXPECT_EQ(c.populations[0].n, 2u);
        EXPECT_DOUBLE_EQ(c.duration_ms, 10.0);
    }
}

TEST(SweepExpand, TrialsOnlyGivesSeedsBasePlusTrial) {
    const Batch b = batch_of(base() + "sweep:\n  trials: 3\n");
    ASSERT_TRUE(b.is_sweep);
    ASSERT_EQ(b.replicas.size(), 3u);
    ASSERT_EQ(b.configs.size(), 3u);
    for (uint32_t t = 0; t < 3; ++t) {
        EXPECT_EQ(b.replicas[t].trial, t);
        EXPECT_EQ(b.replicas[t].point, 0u);
        EXPECT_EQ(b.replicas[t].seed, 7u + t);
        EXPECT_EQ(b.configs[t].seed, 7u + t);
        EXPECT_EQ(b.replicas[t].condition, "");
        EXPECT_TRUE(b.replicas[t].params.empty());
    }
    EXPECT_TRUE(b.axes.empty());
    EXPECT_TRUE(b.conditions.empty());
}

TEST(SweepExpand, GridWithoutTrialsIsOneTrialPerPoint) {
    const Batch b = batch_of(base() + yaml({
                                          "sweep:",
                                          "  grid:",
                                          "    populations.PYR.coupling.gamma: [0.1, 0.25, 1]",
                                          "    populations.PYR.coupling.mode: [stochastic, scaled]",
                                      }));
    ASSERT_EQ(b.replicas.size(), 6u);
    EXPECT_EQ(b.trials, 1u);
    const char* gammas[] = {"0.1", "0.25", "1"};
    const double gv[] = {0.1, 0.25, 1.0};
    for (uint32_t i = 0; i < 6; ++i) {
        SCOPED_TRACE("replica " + std::to_string(i));
        EXPECT_EQ(b.replicas[i].seed, 7u);  // every grid point gets the same noise (trial 0)
        EXPECT_EQ(b.replicas[i].point, i);
        ASSERT_EQ(b.replicas[i].params.size(), 2u);
        EXPECT_EQ(b.replicas[i].params[0].second, gammas[i / 2]);
        EXPECT_EQ(b.replicas[i].params[1].second, i % 2 ? "scaled" : "stochastic");
        EXPECT_DOUBLE_EQ(b.configs[i].populations[0].gamma, gv[i / 2]);
        EXPECT_EQ(b.configs[i].populations[0].coupling,
                  i % 2 ? l5sim::model::Coupling::scaled : l5sim::model::Coupling::stochastic);
    }
}

TEST(SweepExpand, RangeIncludesItsEnd) {
    const auto v = axis_texts("injections.0.amplitude_pA", "{from: 0, to: 600, step: 50}");
    ASSERT_EQ(v.size(), 13u);
    for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(v[i], std::to_string(50 * i));
    const Batch b = batch_of(
        base() + "sweep:\n  grid:\n    injections.0.amplitude_pA: {from: 0, to: 600, step: 50}\n");
    ASSERT_EQ(b.configs.size(), 13u);
    for (size_t i = 0; i < 13; ++i)
        EXPECT_DOUBLE_EQ(b.configs[i].injections[0].amplitude_pA, 50.0 * i);
}

TEST(SweepExpand, RangeOfDecimalStepsIsFormattedExactly) {
    EXPECT_EQ(axis_texts("populations.PYR.coupling.gamma", "{from: 0, to: 0.5, step: 0.1}"),
              (std::vector<std::string>{"0", "0.1", "0.2", "0.3", "0.4", "0.5"}));
    EXPECT_EQ(axis_texts("populations.PYR.coupling.gamma", "{from: 0.1, to: 0.7, step: 0.2}"),
              (std::vector<std::string>{"0.1", "0.3", "0.5", "0.7"}));
    // `to` need not be on the grid: the last value is the last one <= to.
    EXPECT_EQ(axis_texts("populations.PYR.coupling.gamma", "{from: 0, to: 1, step: 0.3}"),
              (std::vector<std::string>{"0", "0.3", "0.6", "0.9"}));
    // Across zero: 0, not 5.55e-17 (-0.3 + 3 x 0.1).
    EXPECT_EQ(axis_texts("injections.0.amplitude_pA", "{from: -0.3, to: 0.3, step: 0.1}"),
              (std::vector<std::string>{"-0.3", "-0.2", "-0.1", "0", "0.1", "0.2", "0.3"}));
    // from == to: one value.
    EXPECT_EQ(axis_texts("populations.PYR.coupling.gamma", "{from: 0.4, to: 0.4, step: 0.1}"),
              (std::vector<std::string>{"0.4"}));
    const Batch b = batch_of(base() +
                             "sweep:\n  grid:\n    populations.PYR.coupling.gamma: {from: 0, to: "
                             "0.5, step: 0.1}\n");
    ASSERT_EQ(b.configs.size(), 6u);
    EXPECT_EQ(b.configs[3].populations[0].gamma, 0.3);  // exactly the double 0.3
    EXPECT_EQ(b.configs[5].populations[0].gamma, 0.5);
}

TEST(SweepExpand, OverridesApplyToTheSweepAndToEveryReplica) {
    const std::string text = base() + yaml({
                                          "sweep:",
                                          "  trials: 3",
                                          "  grid:",
                                          "    populations.PYR.coupling.gamma: [0.2, 0.4]",
                                      });
    EXPECT_EQ(batch_of(text).replicas.size(), 6u);
    const Batch b = batch_of(text, {{"sweep.trials", "2"}, {"simulation.duration_ms", "20"}});
    EXPECT_EQ(b.trials, 2u);
    ASSERT_EQ(b.replicas.size(), 4u);
    ASSERT_EQ(b.configs.size(), 4u);
    for (const auto& c : b.configs) EXPECT_DOUBLE_EQ(c.duration_ms, 20.0);
    EXPECT_EQ(b.replicas[3].trial, 1u);
    EXPECT_EQ(b.replicas[3].params[0].second, "0.4");

    // --seed N moves the base seed: trial t runs with N + t.
    const Batch s = batch_of(text, {{"simulation.seed", "100"}});
    ASSERT_EQ(s.replicas.size(), 6u);
    for (uint32_t i = 0; i < 6; ++i) {
        EXPECT_EQ(s.replicas[i].seed, 100u + i % 3);
        EXPECT_EQ(s.configs[i].seed, 100u + i % 3);
    }
}

TEST(SweepExpand, ParseConfigRefusesASweep) {
    const std::string text = base() + "sweep:\n  trials: 2\n";
    try {
        l5sim::parse_config(text, "sweep.yaml");
        ADD_FAILURE() << "parse_config accepted a config with a sweep";
    } catch (const ConfigError& e) {
        EXPECT_TRUE(mentions(e.what(), {"sweep.yaml", "sweep"}));
    }
}

// ---- errors ----

TEST(SweepErrors, UnknownKeyInSweep) {
    const auto m = error_of(base() + "sweep:\n  trails: 2\n");
    EXPECT_TRUE(starts_with(m, "sweep.yaml:12:3: "));
    EXPECT_TRUE(mentions(m, {"sweep.trails", "unknown key", "trials", "grid", "conditions"}));
}

TEST(SweepErrors, UnknownKeyInACondition) {
    const auto m = error_of(base() + yaml({
                                         "sweep:",                               // 11
                                         "  conditions:",                        // 12
                                         "    - label: a",                       // 13
                                         "      sets: {simulation.dt_ms: 0.2}",  // 14
                                     }));
    EXPECT_TRUE(starts_with(m, "sweep.yaml:14:7: "));
    EXPECT_TRUE(mentions(m, {"sweep.conditions.0.sets", "unknown key"}));
}

TEST(SweepErrors, UnknownKeyInARange) {
    const auto m = error_of(
        base() +
        "sweep:\n  grid:\n    populations.PYR.coupling.gamma: {from: 0, to: 1, by: 0.1}\n");
    EXPECT_TRUE(starts_with(m, "sweep.yaml:13:"));
    EXPECT_TRUE(mentions(m, {"sweep.grid.populations.PYR.coupling.gamma.by", "from, to, step"}));
}

TEST(SweepErrors, TrialsMustBeAPositiveInteger) {
    for (const char* t : {"0", "1.5", "-2", "many"}) {
        SCOPED_TRACE(t);
        const auto m = error_of(base() + "sweep:\n  trials: " + t + "\n");
        EXPECT_TRUE(starts_with(m, "sweep.yaml:12:11: "));
        EXPECT_TRUE(mentions(m, {"sweep.trials: expected", std::string("'") + t + "'"}));
    }
    EXPECT_TRUE(mentions(error_of(base() + "sweep:\n  trials: 0\n"), {"an integer in [1, "}));
}

TEST(SweepErrors, EmptyGridList) {
    const auto m = error_of(base() + "sweep:\n  grid:\n    populations.PYR.coupling.gamma: []\n");
    EXPECT_TRUE(starts_with(m, "sweep.yaml:13:37: "));
    EXPECT_TRUE(mentions(m, {"sweep.grid.populations.PYR.coupling.gamma", "non-empty list"}));
}

TEST(SweepErrors, EmptyOrNonMapGrid) {
    EXPECT_TRUE(mentions(error_of(base() + "sweep:\n  grid: {}\n"),
                         {"sweep.yaml:12:", "sweep.grid: expected a map"}));
    EXPECT_TRUE(mentions(error_of(base() + "sweep:\n  grid: [1, 2]\n"),
                         {"sweep.yaml:12:", "sweep.grid: expected a map"}));
    EXPECT_TRUE(mentions(
        error_of(base() + "sweep:\n  grid:\n    injections.0.amplitude_pA: 5\n"),
        {"sweep.yaml:13:", "sweep.grid.injections.0.amplitude_pA", "a list of values or a range"}));
}

TEST(SweepErrors, BadRanges) {
    const std::string head = base() + "sweep:\n  grid:\n    injections.0.amplitude_pA: ";
    for (const char* step : {"0", "-50"}) {
        SCOPED_TRACE(step);
        const auto m = error_of(head + "{from: 0, to: 600, step: " + step + "}\n");
        EXPECT_TRUE(starts_with(m, "sweep.yaml:13:"));
        EXPECT_TRUE(mentions(m, {"sweep.grid.injections.0.amplitude_pA.step", "step > 0"}));
    }
    const auto down = error_of(head + "{from: 600, to: 0, step: 50}\n");
    EXPECT_TRUE(starts_with(down, "sweep.yaml:13:"));
    EXPECT_TRUE(mentions(down, {"sweep.grid.injections.0.amplitude_pA.to", ">= from"}));
    const auto missing = error_of(head + "{from: 0, step: 50}\n");
    EXPECT_TRUE(mentions(missing, {"sweep.grid.injections.0.amplitude_pA.to", "a number"}));
    const auto text = error_of(head + "{from: 0, to: lots, step: 50}\n");
    EXPECT_TRUE(mentions(text, {"sweep.grid.injections.0.amplitude_pA.to", "'lots'"}));
}

TEST(SweepErrors, SeedCannotBeSwept) {
    const auto m = error_of(base() + "sweep:\n  grid:\n    simulation.seed: [1, 2, 3]\n");
    EXPECT_TRUE(starts_with(m, "sweep.yaml:13:5: "));
    EXPECT_TRUE(mentions(m, {"sweep.grid", "simulation.seed", "sweep.trials"}));
    const auto c = error_of(base() + yaml({
                                         "sweep:",
                                         "  conditions:",
                                         "    - {label: a, set: {simulation.seed: 4}}",
                                     }));
    EXPECT_TRUE(starts_with(c, "sweep.yaml:13:"));
    EXPECT_TRUE(mentions(c, {"sweep.conditions.0.set", "simulation.seed"}));
    const auto s = error_of(base() + "sweep:\n  grid:\n    sweep.trials: [1, 2]\n");
    EXPECT_TRUE(starts_with(s, "sweep.yaml:13:5: "));
    EXPECT_TRUE(mentions(s, {"sweep.grid", "sweep.trials"}));
}

TEST(SweepErrors, GridValueTheSchemaRejectsNamesTheSweepEntry) {
    const auto m = error_of(base() + yaml({
                                         "sweep:",                                          // 11
                                         "  trials: 2",                                     // 12
                                         "  grid:",                                         // 13
                                         "    populations.PYR.coupling.gamma: [0.5, 1.5]",  // 14
                                     }));
    EXPECT_TRUE(starts_with(m, "sweep.yaml:14:5"));
    EXPECT_TRUE(mentions(m, {"sweep.grid", "populations.PYR.coupling.gamma",
                             "expected a probability in [0, 1]", "1.5"}));
}

TEST(SweepErrors, GridKeyTheSchemaDoesNotKnow) {
    const auto m = error_of(base() + "sweep:\n  grid:\n    populations.PYR.coupling.gama: [0.5]\n");
    EXPECT_TRUE(starts_with(m, "sweep.yaml:13:5"));
    EXPECT_TRUE(mentions(m, {"sweep.grid", "populations.PYR.coupling.gama", "unknown key"}));
}

TEST(SweepErrors, ConditionValueTheSchemaRejectsNamesTheCondition) {
    const auto m =
        error_of(base() + yaml({
                              "sweep:",                                                    // 11
                              "  conditions:",                                             // 12
                              "    - {label: ok, set: {populations.PYR.n: 3}}",            // 13
                              "    - label: bad",                                          // 14
                              "      set: {populations.PYR.background.soma.rate_hz: -5}",  // 15
                          }));
    EXPECT_TRUE(starts_with(m, "sweep.yaml:15:"));
    EXPECT_TRUE(
        mentions(m, {"condition 'bad'", "populations.PYR.background.soma.rate_hz", "expected"}));
}

TEST(SweepErrors, BaseConfigErrorIsReportedAsSuch) {
    std::string text = base();
    text.replace(text.find("    n: 2"), 8, "    n: 0");
    const auto m = error_of(text + "sweep:\n  trials: 2\n");
    EXPECT_TRUE(starts_with(m, "sweep.yaml:8:"));
    EXPECT_TRUE(mentions(m, {"populations.PYR.n: expected"}));
}

TEST(SweepErrors, KeySetByBothAConditionAndTheGrid) {
    const auto m = error_of(base() + yaml({
                                         "sweep:",                                          // 11
                                         "  grid:",                                         // 12
                                         "    populations.PYR.coupling.gamma: [0.2, 0.4]",  // 13
                                         "  conditions:",                                   // 14
                                         "    - label: a",                                  // 15
                                         "      set:",                                      // 16
                                         "        injections.0.amplitude_pA: 5",            // 17
                                         "        populations.PYR.coupling.gamma: 0.9",     // 18
                                     }));
    EXPECT_TRUE(starts_with(m, "sweep.yaml:18:9: "));
    EXPECT_TRUE(mentions(m, {"sweep.conditions.0.set.populations.PYR.coupling.gamma",
                             "not also swept by sweep.grid"}));
    // The same with conditions written before the grid.
    const auto m2 =
        error_of(base() + yaml({
                              "sweep:",         // 11
                              "  conditions:",  // 12
                              "    - {label: a, set: {populations.PYR.coupling.gamma: 0.9}}",
                              "  grid:",                                         // 14
                              "    populations.PYR.coupling.gamma: [0.2, 0.4]",  // 15
                          }));
    EXPECT_TRUE(starts_with(m2, "sweep.yaml:13:"));
    EXPECT_TRUE(mentions(m2, {"populations.PYR.coupling.gamma", "not also swept by sweep.grid"}));
}

TEST(SweepErrors, OverlappingKeysAreRefused) {
    // A condition that sets a parent map of a swept key would be silently half-overridden.
    const auto m = error_of(base() + yaml({
                                         "sweep:",                                            // 11
                                         "  grid:",                                           // 12
                                         "    populations.PYR.coupling.gamma: [0.2, 0.4]",    // 13
                                         "  conditions:",                                     // 14
                                         "    - label: a",                                    // 15
                                         "      set:",                                        // 16
                                         "        populations.PYR.coupling: {mode: scaled}",  // 17
                                     }));
    EXPECT_TRUE(starts_with(m, "sweep.yaml:17:9: "));
    EXPECT_TRUE(mentions(m, {"not also swept by sweep.grid", "populations.PYR.coupling.gamma"}));
    // Two grid axes, one inside the other.
    const auto m2 = error_of(base() + yaml({
                                          "sweep:",                                        // 11
                                          "  grid:",                                       // 12
                                          "    populations.PYR.coupling: [{gamma: 0.1}]",  // 13
                                          "    populations.PYR.coupling.gamma: [0.2]",     // 14
                                      }));
    EXPECT_TRUE(starts_with(m2, "sweep.yaml:14:5: "));
    EXPECT_TRUE(mentions(m2, {"sweep.grid.populations.PYR.coupling.gamma", "overlaps"}));
}

TEST(SweepErrors, DuplicateConditionLabels) {
    const auto m =
        error_of(base() + yaml({
                              "sweep:",                                                        // 11
                              "  conditions:",                                                 // 12
                              "    - {label: a, set: {populations.PYR.coupling.gamma: 0.1}}",  // 13
                              "    - {label: a, set: {populations.PYR.coupling.gamma: 0.9}}",  // 14
                          }));
    EXPECT_TRUE(starts_with(m, "sweep.yaml:14:"));
    EXPECT_TRUE(mentions(m, {"sweep.conditions.1.label", "not used by another condition"}));
}

TEST(SweepErrors, ConditionNeedsALabel) {
    const auto m = error_of(base() + yaml({
                                         "sweep:",
                                         "  conditions:",
                                         "    - set: {populations.PYR.coupling.gamma: 0.1}",
                                     }));
    EXPECT_TRUE(starts_with(m, "sweep.yaml:13:"));
    EXPECT_TRUE(mentions(m, {"sweep.conditions.0.label", "required"}));
}

TEST(SweepErrors, SweepMustBeAMap) {
    EXPECT_TRUE(mentions(error_of(base() + "sweep: [1, 2]\n"),
                         {"sweep.yaml:11:", "sweep: expected a map"}));
}

// `sweep:` with no value is null, which means absent: one plain config.
TEST(SweepExpand, NullSweepIsNoSweep) {
    const Batch b = batch_of(base() + "sweep:\n");
    EXPECT_FALSE(b.is_sweep);
    EXPECT_EQ(b.configs.size(), 1u);
    EXPECT_NO_THROW(l5sim::parse_config(base() + "sweep: ~\n", "sweep.yaml"));
}

// A sweep that --set wrote is located at the --set, not at a line of the file.
TEST(SweepErrors, ErrorInASweepFromSetNamesTheSet) {
    const auto m = error_of(base(), {{"sweep", "[1, 2]"}});
    EXPECT_TRUE(starts_with(m, "--set sweep: ")) << m;
    EXPECT_TRUE(mentions(m, {"sweep: expected a map"}));
    const auto t = error_of(base(), {{"sweep.trials", "0"}});
    EXPECT_TRUE(starts_with(t, "--set sweep.trials: ")) << t;
}

TEST(SweepErrors, TooManyReplicas) {
    const auto m =
        error_of(base() + yaml({
                              "sweep:",
                              "  trials: 1000",
                              "  grid:",
                              "    injections.0.amplitude_pA: {from: 0, to: 1000, step: 1}",
                          }));
    EXPECT_TRUE(mentions(m, {"sweep.yaml", "1001000 replicas", "at most 1000000"}));
}

// Many axes of many values saturate (10^4 x 10^4 x 10^4 would wrap around a 32-bit count).
TEST(SweepErrors, GridPointsThatWouldWrapAroundAreTooMany) {
    const auto m =
        error_of(base() + yaml({
                              "sweep:",
                              "  grid:",
                              "    injections.0.amplitude_pA: {from: 0, to: 9999, step: 1}",
                              "    populations.PYR.soma.d_pA: {from: 0, to: 9999, step: 1}",
                              "    populations.PYR.soma.b_nS: {from: 0, to: 9999, step: 1}",
                          }));
    EXPECT_TRUE(mentions(m, {"more than 1000000 replicas", "at most 1000000"})) << m;
}

// The work a sweep asks for is bounded: its grid points' configs (read whole, one each) and its
// replicas' configs in memory.
TEST(SweepErrors, SweepsBeyondTheCheckingBudgetAreRefused) {
    std::string big = base() + "provenance: [";
    for (int i = 0; i < 40000; ++i) big += "1,";
    big += "1]\n";
    auto m = error_of(
        big + "sweep:\n  grid:\n    injections.0.amplitude_pA: {from: 0, to: 99, step: 1}\n");
    EXPECT_TRUE(mentions(m, {"100 grid points and conditions",
                             "-node config are more than l5sim "
                             "checks at once",
                             "split the sweep"}))
        << m;
    m = error_of(base() + "sweep: {trials: 1000000}\n");
    EXPECT_TRUE(mentions(m, {"1000000 replicas of a", "MiB of configs); split the sweep"})) << m;
}

// A trial's config is its grid point's with its own seed, exactly as read from the file with
// that seed (the copy is not read again: the resolved YAML must still say the truth).
TEST(SweepExpand, TrialsAreTheirPointsConfigWithTheirOwnSeed) {
    const std::string sweep =
        yaml({"sweep:", "  trials: 3", "  grid:", "    injections.0.amplitude_pA: [100, 250]"});
    const Batch b = batch_of(base() + sweep);
    ASSERT_EQ(b.configs.size(), 6u);
    for (size_t i = 0; i < b.configs.size(); ++i) {
        const auto& r = b.replicas[i];
        const auto alone = l5sim::parse_config(base(), "sweep.yaml",
                                               {{"simulation.seed", std::to_string(r.seed)},
                                                {"injections.0.amplitude_pA", r.params[0].second}});
        EXPECT_EQ(b.configs[i].seed, 7u + r.trial);
        EXPECT_EQ(b.configs[i].resolved_yaml, alone.resolved_yaml) << "replica " << i;
        EXPECT_EQ(b.configs[i].injections[0].amplitude_pA, alone.injections[0].amplitude_pA);
    }
}

}  // namespace
