// Replicas packed into one simulation (l5sim/packed.hpp, DESIGN.md section 5): every replica's
// spikes, probes and weights are byte-identical to the same replica run on its own on the CPU
// engine, whatever the packing (one pack, packs of three, packs split by run length), with knob
// changes at different steps in different replicas, zero-delay rings (single steps) and delayed
// ones (windows on the CUDA engine). One body over both engines.
#include "l5sim/packed.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "l5sim/error.hpp"
#include "l5sim/sweep.hpp"
#include "test_util.hpp"

using namespace l5sim;
namespace fs = std::filesystem;

namespace {

// A ring with every feature a replica's step has: two compartments, PV and SOM inhibition,
// triplet and pair STDP, a schedule whose window opens at a different step in each condition,
// a pulse-train injection, probes and weight snapshots off the window grid; two run lengths.
// DELAY is replaced by the projections' delay (0: single steps; 1 ms: windows on the GPU).
const char* kSweep = R"(
simulation: {dt_ms: 0.1, duration_ms: 150, seed: 4}
network: {layout: ring}
populations:
  PYR: {type: pyramidal, n: 60, background: {soma: {rate_hz: 600}, dendrite: {rate_hz: 500}}}
  PV: {type: pv, n: 15}
  SOM: {type: som, n: 15}
projections:
  PYR_PYR: {source: PYR, target: PYR, receptors: {ampa: 1.75, nmda: 0.35}, delay: {ms: DELAY},
            connectivity: {A: 3.5, sigma: 0.5}, stdp: {rule: triplet}}
  PYR_PV: {source: PYR, target: PV, receptors: {ampa: 1, nmda: 1}, delay: {ms: DELAY},
           connectivity: {A: 1, sigma: 2}, stdp: {rule: pair_all}}
  PYR_SOM: {source: PYR, target: SOM, receptors: {ampa: 1, nmda: 1}, delay: {ms: DELAY},
            connectivity: {A: 1, sigma: 2}}
  PV_PYR: {source: PV, target: PYR, receptors: {gaba_a: 1}, delay: {ms: DELAY},
           connectivity: {A: 5, sigma: 2}}
  SOM_PYR: {source: SOM, target: PYR, compartment: dendrite, receptors: {gaba_a: 1},
            delay: {ms: DELAY}, connectivity: {A: 5, sigma: 2}}
injections:
  - {name: base, population: PYR, amplitude_pA: 250}
  - {name: drive, population: PYR, cells: {from: 0, to: 30}, kind: pulse_train,
     amplitude_pA: 300, start_ms: 3.3, period_ms: 17.1, width_ms: 4.7}
schedule:
  - {knob: PYR.gamma, op: set, value: 1, start_ms: 40, stop_ms: 71.3}
  - {knob: projections.SOM_PYR.gain, op: add, value: 1, start_ms: 90.7}
recording:
  spikes: true
  probes: [{population: PYR, variables: [v, v_d, burst_mode], cells: [0, 7, 31], every_steps: 7}]
  weights: [{projection: PYR_PYR, every_ms: 2.3, max_synapses: 300}]
sweep:
  trials: 2
  conditions:
    - {label: early, set: {schedule.0.start_ms: 20.4}}
    - {label: late, set: {schedule.0.start_ms: 60.9, populations.PYR.coupling.gamma: 0.2}}
  grid:
    injections.1.amplitude_pA: [0, 400]
    simulation.duration_ms: [100, 150]
)";

std::string sweep_text(const std::string& delay_ms) {
    std::string s = kSweep;
    for (size_t at; (at = s.find("DELAY")) != std::string::npos;) s.replace(at, 5, delay_ms);
    return s;
}

std::string bytes_of(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

class Packed : public test::EngineTest {
  protected:
    fs::path root_ = fs::temp_directory_path() /
                     ("l5sim_packed_" + std::to_string(::getpid()) + "_" +
                      ::testing::UnitTest::GetInstance()->current_test_info()->name());
    void SetUp() override {
        test::EngineTest::SetUp();
        fs::remove_all(root_);
    }
    void TearDown() override { fs::remove_all(root_); }

    // Run the sweep unpacked on the CPU engine, then packed (at most max_pack per pack) on this
    // instance's engine; every replica's recordings must be the same bytes.
    void expect_same(const std::string& text, int max_pack, int expect_packs) {
        const Batch b = parse_batch(text, "packed.yaml");
        ASSERT_EQ(b.replicas.size(), 16u);
        SweepRunOptions opt;
        opt.quiet = true;
        opt.parallel = 2;
        opt.backend = Simulation::Backend::cpu;
        opt.pack = SweepRunOptions::Pack::off;
        run_sweep(b, root_ / "alone", opt);
        opt.backend = backend();
        opt.pack = SweepRunOptions::Pack::on;
        opt.max_pack = max_pack;
        run_sweep(b, root_ / "packed", opt);
        std::ifstream sj(root_ / "packed" / "summary.json");
        std::stringstream ss;
        ss << sj.rdbuf();
        EXPECT_NE(ss.str().find("\"packs\": " + std::to_string(expect_packs)), std::string::npos)
            << ss.str().substr(ss.str().find("\"timing\""));
        std::set<std::string> distinct;
        for (uint32_t i = 0; i < b.replicas.size(); ++i) {
            const fs::path rel = replica_dir_name(i);
            for (const char* f : {"spikes.h5", "probes.h5", "weights.h5"}) {
                const std::string a = bytes_of(root_ / "alone" / rel / f);
                ASSERT_FALSE(a.empty()) << rel << "/" << f;
                EXPECT_TRUE(a == bytes_of(root_ / "packed" / rel / f))
                    << "replica " << i << ": " << f << " packed differs from the replica alone";
            }
            distinct.insert(bytes_of(root_ / "alone" / rel / "spikes.h5"));
        }
        // The replicas differ (seed, condition, grid): the comparison is not of copies.
        EXPECT_EQ(distinct.size(), b.replicas.size());
    }
};
L5_ENGINE_TEST_SUITE(Packed);

}  // namespace

// Zero delays: every step is one launch per stage on the CUDA engine; two packs (one per run
// length).
TEST_P(Packed, ZeroDelayRingsEqualReplicasAlone) { expect_same(sweep_text("0"), 0, 2); }

// 1 ms delays: windows of up to 10 steps, ending before every knob change, probe, snapshot;
// packs of at most three replicas (six packs: 8 replicas of each length).
TEST_P(Packed, DelayedRingsInPacksOfThreeEqualReplicasAlone) { expect_same(sweep_text("1"), 3, 6); }

// The same with windows (L5SIM_WINDOW=10; the CPU engine then steps in windows of its generic
// run_window): the lockstep loop plans windows of up to 10 steps that end at every member's knob
// changes, probes and snapshots.
TEST_P(Packed, WindowsOfTenEqualReplicasAlone) {
    test::WindowEnv env(10);
    expect_same(sweep_text("1"), 0, 2);
}

// A replica whose health check fails stops the sweep with an error naming that replica.
TEST_P(Packed, FailingReplicaIsNamed) {
    std::string text = sweep_text("0");
    text.replace(text.find("simulation: {"), 13,
                 "simulation: {health: {max_rate_hz: 30, check_every_ms: 20}, ");
    const Batch b = parse_batch(text, "packed.yaml");
    SweepRunOptions opt;
    opt.quiet = true;
    opt.backend = backend();
    opt.pack = SweepRunOptions::Pack::on;
    try {
        run_sweep(b, root_ / "packed", opt);
        FAIL() << "the sweep ran through a rate above max_rate_hz";
    } catch (const Error& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("replica "), std::string::npos) << m;
        EXPECT_NE(m.find("max_rate_hz"), std::string::npos) << m;
    }
    EXPECT_FALSE(fs::exists(root_ / "packed" / "summary.json"));
}

// run_packed refuses members that do not run the same steps.
TEST(PackedDriver, MembersOfDifferentLengthsAreRefused) {
    const Batch b = parse_batch(sweep_text("0"), "packed.yaml");
    std::vector<Config> cfgs{b.configs[0], b.configs[15]};
    ASSERT_NE(cfgs[0].steps(), cfgs[1].steps());
    EnginePack ep = make_cpu_pack(cfgs, 1);
    Simulation a(cfgs[0], std::move(ep.engines[0])), c(cfgs[1], std::move(ep.engines[1]));
    EXPECT_THROW(run_packed({&a, &c}, *ep.group), Error);
}
