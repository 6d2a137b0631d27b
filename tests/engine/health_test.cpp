// Health checks on long runs (simulation.health, issue 6): a NaN or infinite state stops the run
// naming the population, cell, variable and step; a population rate above max_rate_hz stops it
// as runaway activity; max_rate_hz: 0 turns the rate check off. One body over both engines.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "l5sim/error.hpp"
#include "test_util.hpp"

using namespace l5sim;

namespace {

// A small ring with STDP and 1 ms delays (so the CUDA engine runs windows), checked every 10 ms.
const char* kRing = R"(
simulation: {dt_ms: 0.1, duration_ms: 300, seed: 5, health: {check_every_ms: 10}}
network: {layout: ring}
populations:
  PYR: {type: pyramidal, n: 200, background: {soma: {rate_hz: 600}, dendrite: {rate_hz: 50}}}
  PV: {type: pv, n: 50}
projections:
  PYR_PYR: {source: PYR, target: PYR, receptors: {ampa: 1.75, nmda: 0.35}, delay: {ms: 1},
            connectivity: {A: 3.5, sigma: 0.5}, stdp: {rule: pair_all}}
  PYR_PV: {source: PYR, target: PV, receptors: {ampa: 1, nmda: 1}, delay: {ms: 1},
           connectivity: {A: 1, sigma: 2}}
  PV_PYR: {source: PV, target: PYR, receptors: {gaba_a: 1}, delay: {ms: 1},
           connectivity: {A: 5, sigma: 2}}
)";

class Health : public test::EngineTest {};
L5_ENGINE_TEST_SUITE(Health);

std::string health_error(Simulation& sim) {
    try {
        sim.run();
    } catch (const HealthError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_P(Health, NanStateStopsTheRunNamingCellVariableAndStep) {
    Simulation sim(test::config_from(kRing), backend());
    sim.advance(250);  // 25 ms: two clean checks (steps 100 and 200)
    // A NaN in cell 17's v and an infinity in cell 40's u, written between steps 250 and 251.
    const auto layout = state_layout(sim.config());
    auto poke = [&](const std::string& name, uint32_t cell, float value) {
        for (const auto& b : layout) {
            if (b.name != name) continue;
            std::vector<float> a(b.count);
            sim.engine().read_block(b, sim.step(), a.data());
            a[cell] = value;
            sim.engine().write_block(b, sim.step(), a.data());
            return;
        }
        FAIL() << "no state block " << name;
    };
    poke("PYR/u", 40, std::numeric_limits<float>::infinity());
    poke("PYR/v", 17, std::numeric_limits<float>::quiet_NaN());
    const std::string msg = health_error(sim);
    ASSERT_FALSE(msg.empty()) << "the run went on with a NaN";
    EXPECT_EQ(sim.step(), 300) << msg;  // stopped at the next check, on a step boundary
    // v is checked before u, and the lowest bad cell is named.
    EXPECT_NE(msg.find("step 300 (t = 30.0 ms): population PYR, cell 17: v is NaN or infinite"),
              std::string::npos)
        << msg;
}

TEST_P(Health, RunawayRateStopsTheRunAndZeroTurnsTheCheckOff) {
    // PYR driven to ~50 Hz by a step current; the bound 30 Hz stops it at the first check.
    const std::string drive =
        std::string(kRing) + "injections:\n  - {population: PYR, kind: step, amplitude_pA: 1500}\n";
    Simulation sim(test::config_from(drive, {{"simulation.health.max_rate_hz", "30"}}), backend());
    const std::string msg = health_error(sim);
    ASSERT_FALSE(msg.empty()) << "no runaway detected";
    EXPECT_EQ(sim.step(), 100) << msg;
    EXPECT_NE(msg.find("step 100 (t = 10.0 ms): population PYR fired at"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("above simulation.health.max_rate_hz = 30: runaway activity"),
              std::string::npos)
        << msg;
    // The rate it names is the real one: above the bound, and the run without a bound agrees.
    Simulation off(test::config_from(drive, {{"simulation.health.max_rate_hz", "0"}}), backend());
    EXPECT_EQ(health_error(off), "");
    EXPECT_EQ(off.step(), 3000);
    const double rate = off.spike_count(0) / (200 * 0.3);
    EXPECT_GT(rate, 30.0);
    // The default bound (1000 Hz) leaves this healthy run alone.
    Simulation def(test::config_from(drive), backend());
    EXPECT_EQ(health_error(def), "");
}

// A state gone NaN after the last regular check (every 10 ms: 100, 200 and 300 steps; the run
// ends at 290) is caught by the check at the end of the run, not left in a "complete" run; and
// one at a pause (a checkpoint or a signal stop) is caught there.
TEST_P(Health, NanInTheLastIntervalIsCaughtAtTheEndAndAtAPause) {
    for (const bool at_end : {true, false}) {
        Simulation sim(test::config_from(kRing, {{"simulation.duration_ms", "29"}}), backend());
        sim.advance(213);
        for (const auto& b : state_layout(sim.config())) {
            if (b.name != "PYR/v_d") continue;
            std::vector<float> a(b.count);
            sim.engine().read_block(b, sim.step(), a.data());
            a[9] = std::numeric_limits<float>::quiet_NaN();
            sim.engine().write_block(b, sim.step(), a.data());
        }
        std::string msg;
        try {
            if (at_end) {
                sim.run();
            } else {
                sim.run({}, [](int64_t step) { return step >= 250; });  // a pause at step 250
            }
        } catch (const HealthError& e) {
            msg = e.what();
        }
        const int64_t where = at_end ? 290 : 250;
        EXPECT_EQ(sim.step(), where);
        EXPECT_NE(msg.find("step " + std::to_string(where) + " (t = " + (at_end ? "29.0" : "25.0") +
                           " ms): population PYR, cell 9: v_d is NaN or infinite"),
                  std::string::npos)
            << (at_end ? "at the end: " : "at a pause: ") << msg;
    }
}

// Long runs keep their memory flat when nothing is recorded: resident memory after 20 more
// seconds of biological time (200,000 steps, windows on the CUDA engine) is within 2 MB of what
// it was after the first second. A leak of 16 bytes per step, or 20 per spike, fails.
TEST_P(Health, MemoryStaysFlatWithoutRecordings) {
    const Config cfg = test::config_from(
        kRing, {{"simulation.duration_ms", "21000"}, {"recording.spikes", "false"}});
    Simulation sim(cfg, backend());
    sim.advance(10000);
    const long before = test::resident_kb();
    if (before < 0) GTEST_SKIP() << "no resident-memory figure here (no /proc, or ASan)";
    sim.run();
    const long after = test::resident_kb();
    EXPECT_EQ(sim.step(), 210000);
    EXPECT_GT(sim.spike_count(0), 100000u) << "the network must be active";
    EXPECT_LT(after - before, 2048) << before << " kB -> " << after << " kB";
}
