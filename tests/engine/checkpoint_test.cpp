// Checkpoints (include/l5sim/checkpoint.hpp): a run stopped at a step boundary, written to a
// checkpoint and resumed in a new Simulation gives spikes, probes, weights, spike and event
// counts identical to the run that was not stopped, on both engines (ring with delay-0 and
// delayed projections, STDP, injections, schedule windows open across the checkpoint, and an
// initial-state spread, which a resumed run must not draw again);
// corrupt, truncated and foreign files are refused with a message naming the problem.
#include "l5sim/checkpoint.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "l5sim/error.hpp"
#include "test_util.hpp"

using namespace l5sim;
namespace fs = std::filesystem;

namespace {

const char* kRing = R"(
simulation: {dt_ms: 0.1, duration_ms: 400, seed: 5}
network: {layout: ring}
populations:
  PYR: {type: pyramidal, n: 120, background: {soma: {rate_hz: 700}, dendrite: {rate_hz: 300}},
        init: {v_mV: {uniform: [-75, -55]}, v_d_mV: {normal: [-70, 3]}}}
  PV: {type: pv, n: 30, init: {v_mV: {normal: [-60, 4]}}}
  SOM: {type: som, n: 30}
projections:
  PYR_PYR: {source: PYR, target: PYR, receptors: {ampa: 1.75, nmda: 0.35}, delay: {ms: 1.5},
            connectivity: {A: 3.5, sigma: 0.5}, stdp: {rule: triplet, bounds: soft}}
  PYR_PV: {source: PYR, target: PV, receptors: {ampa: 1, nmda: 1}, connectivity: {A: 1, sigma: 2}}
  PYR_SOM: {source: PYR, target: SOM, receptors: {ampa: 1, nmda: 1}, connectivity: {A: 1, sigma: 2},
            delay: {ms: 0.5}}
  PV_PYR: {source: PV, target: PYR, receptors: {gaba_a: 1}, connectivity: {A: 5, sigma: 2}}
  SOM_PYR: {source: SOM, target: PYR, compartment: dendrite, receptors: {gaba_a: 1},
            connectivity: {A: 5, sigma: 2}}
injections:
  - {population: PYR, compartment: dendrite, cells: {from: 0, to: 40}, kind: pulse_train,
     amplitude_pA: 300, start_ms: 50, period_ms: 100, width_ms: 30}
schedule:
  - {knob: PYR.gamma, op: set, value: 0.9, start_ms: 150, stop_ms: 300}
  - {knob: PYR.background.dendrite.rate_hz, op: set, value: 800, start_ms: 180, stop_ms: 260}
  - {knob: projections.PYR_PYR.eta, op: set, value: 3, start_ms: 100, stop_ms: 350}
recording:
  spikes: true
  probes:
    - {population: PYR, cells: [0, 7, 60], variables: [v, v_d, g_nmda, burst_mode], every_steps: 9}
  weights:
    - {projection: PYR_PYR, every_ms: 50, max_synapses: 500}
)";

struct Outcome {
    std::vector<SpikeRecord> spikes;
    std::vector<ProbeRecord> probes;
    std::vector<WeightRecord> weights;
    std::vector<float> final_weights;
    std::vector<uint64_t> counts;
    uint64_t events = 0;
};

Outcome outcome(const Simulation& s) {
    Outcome o{s.spikes(),           s.probes(), s.weights(),
              s.current_weights(0), {},         s.timing().synaptic_events};
    for (uint32_t p = 0; p < s.config().populations.size(); ++p) {
        o.counts.push_back(s.spike_count(p));
        o.counts.push_back(s.engine().calcium_spikes(p));
    }
    return o;
}

void expect_same(const Outcome& a, const Outcome& b) {
    ASSERT_EQ(a.spikes.size(), b.spikes.size());
    uint64_t total = 0;
    for (size_t p = 0; p < a.spikes.size(); ++p) {
        EXPECT_EQ(a.spikes[p].steps, b.spikes[p].steps) << "population " << p;
        EXPECT_EQ(a.spikes[p].ids, b.spikes[p].ids) << "population " << p;
        total += a.spikes[p].ids.size();
    }
    EXPECT_GT(total, 500u);
    ASSERT_EQ(a.probes.size(), b.probes.size());
    for (size_t k = 0; k < a.probes.size(); ++k) {
        EXPECT_EQ(a.probes[k].steps, b.probes[k].steps);
        ASSERT_EQ(a.probes[k].values.size(), b.probes[k].values.size());
        EXPECT_EQ(0, std::memcmp(a.probes[k].values.data(), b.probes[k].values.data(),
                                 a.probes[k].values.size() * 4));
    }
    ASSERT_EQ(a.weights.size(), b.weights.size());
    for (size_t k = 0; k < a.weights.size(); ++k) {
        EXPECT_EQ(a.weights[k].steps, b.weights[k].steps);
        ASSERT_EQ(a.weights[k].values.size(), b.weights[k].values.size());
        EXPECT_EQ(0, std::memcmp(a.weights[k].values.data(), b.weights[k].values.data(),
                                 a.weights[k].values.size() * 4));
    }
    ASSERT_EQ(a.final_weights.size(), b.final_weights.size());
    EXPECT_EQ(
        0, std::memcmp(a.final_weights.data(), b.final_weights.data(), a.final_weights.size() * 4));
    EXPECT_EQ(a.counts, b.counts);
    EXPECT_EQ(a.events, b.events);
}

fs::path temp_file(const std::string& name) {
    return fs::temp_directory_path() / ("l5sim_ck_" + std::to_string(::getpid()) + "_" + name);
}

// Run to `stop` (a step), checkpoint, resume in a fresh Simulation on `resume_on`, run to the end.
Outcome stop_and_resume(const Config& cfg, Simulation::Backend first, Simulation::Backend resume_on,
                        int64_t stop, const fs::path& file) {
    {
        Simulation a(cfg, first);
        EXPECT_FALSE(a.run({}, [&](int64_t s) { return s >= stop; }));
        EXPECT_EQ(a.step(), stop);
        write_checkpoint(file, a);
    }
    const CheckpointInfo info = read_checkpoint_info(file);
    EXPECT_EQ(info.step, stop);
    EXPECT_EQ(info.steps, cfg.steps());
    Simulation b(parse_config(info.config_yaml, file.string()), resume_on);
    restore_checkpoint(file, info, b);
    EXPECT_TRUE(b.run());
    return outcome(b);
}

class Checkpoint : public test::EngineTest {};

}  // namespace

// Stops inside schedule windows, inside an injection pulse and with spikes in flight in every
// ring (delays 0, 5 and 15 steps); a second stop just after the first step.
TEST_P(Checkpoint, ResumedRunEqualsUninterruptedRun) {
    const Config cfg = test::config_from(kRing);
    Simulation whole(cfg, backend());
    ASSERT_TRUE(whole.run());
    const Outcome ref = outcome(whole);
    const fs::path file = temp_file(std::string("resume_") + test::to_string(GetParam()));
    for (int64_t stop : {2003, 1, 3999}) {
        SCOPED_TRACE("stopped at step " + std::to_string(stop));
        expect_same(ref, stop_and_resume(cfg, backend(), backend(), stop, file));
    }
    // STDP changed the weights (so comparing them means something).
    Simulation fresh(cfg, backend());
    EXPECT_NE(0, std::memcmp(fresh.current_weights(0).data(), ref.final_weights.data(),
                             ref.final_weights.size() * 4));
    fs::remove(file);
}

L5_ENGINE_TEST_SUITE(Checkpoint);

// A plastic projection that drew no synapse (one cell, no autapse): its weight and trace blocks
// hold 0 bytes, which the checkpoint writes and reads like any other block.
TEST(CheckpointFile, PlasticProjectionWithoutSynapses) {
    std::string yaml = kRing;
    const std::string at = "projections:\n";
    yaml.insert(yaml.find(at) + at.size(),
                "  LONE_LONE: {source: LONE, target: LONE, receptors: {gaba_a: 1},\n"
                "              connectivity: {autapses: false}, stdp: {}}\n");
    const std::string pops = "populations:\n";
    yaml.insert(yaml.find(pops) + pops.size(), "  LONE: {type: pv, n: 1}\n");
    const Config cfg = test::config_from(yaml);
    Simulation whole(cfg, Simulation::Backend::cpu);
    ASSERT_TRUE(whole.run());
    ASSERT_EQ(whole.current_weights(0).size(), 0u);
    const fs::path file = temp_file("lone.l5ck");
    expect_same(outcome(whole), stop_and_resume(cfg, Simulation::Backend::cpu,
                                                Simulation::Backend::cpu, 1234, file));
    fs::remove(file);
}

namespace {

fs::path written_checkpoint() {
    const fs::path file = temp_file("refuse.l5ck");
    Simulation a(test::config_from(kRing), Simulation::Backend::cpu);
    a.run({}, [](int64_t s) { return s >= 500; });
    write_checkpoint(file, a);
    return file;
}

std::string error_of(const fs::path& file) {
    try {
        read_checkpoint_info(file);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(CheckpointFile, WrittenAtomicallyAndVerified) {
    const fs::path file = written_checkpoint();
    EXPECT_FALSE(fs::exists(file.string() + ".part"));
    EXPECT_EQ("", error_of(file));
    EXPECT_EQ(read_checkpoint_info(file).bytes, fs::file_size(file));
    fs::remove(file);
}

TEST(CheckpointFile, CorruptByteIsRefused) {
    const fs::path file = written_checkpoint();
    {
        std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(fs::file_size(file) / 2));
        char c = 0;
        f.read(&c, 1);
        f.seekp(static_cast<std::streamoff>(fs::file_size(file) / 2));
        c = static_cast<char>(c ^ 0x10);
        f.write(&c, 1);
    }
    const std::string e = error_of(file);
    EXPECT_NE(e.find("corrupt (CRC-32 mismatch"), std::string::npos) << e;
    EXPECT_NE(e.find(file.string()), std::string::npos) << e;
    fs::remove(file);
}

TEST(CheckpointFile, TruncatedFileIsRefused) {
    const fs::path file = written_checkpoint();
    fs::resize_file(file, fs::file_size(file) - 1000);
    const std::string e = error_of(file);
    EXPECT_NE(e.find("truncated"), std::string::npos) << e;
    fs::resize_file(file, 10);
    EXPECT_NE(error_of(file).find("truncated"), std::string::npos);
    fs::remove(file);
}

// Format 1 held 64-bit delay rings; this l5sim writes format 2 (32-bit rings) and refuses
// the other, saying which wrote it.
TEST(CheckpointFile, OtherFormatVersionIsRefused) {
    const fs::path file = written_checkpoint();
    for (uint32_t format : {1u, 3u}) {
        {
            std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
            f.seekp(8);  // after the magic
            f.write(reinterpret_cast<const char*>(&format), 4);
        }
        const std::string e = error_of(file);
        EXPECT_NE(e.find("format version " + std::to_string(format) + ", this l5sim reads 2"),
                  std::string::npos)
            << e;
        EXPECT_NE(e.find(format == 1 ? "written by an earlier l5sim" : "written by a newer l5sim"),
                  std::string::npos)
            << e;
    }
    fs::remove(file);
}

TEST(CheckpointFile, OtherFilesAndMissingFilesAreRefused) {
    const fs::path file = temp_file("other.l5ck");
    {
        std::ofstream f(file);
        f << std::string(200, 'x');
    }
    EXPECT_NE(error_of(file).find("not an l5sim checkpoint"), std::string::npos);
    fs::remove(file);
    EXPECT_NE(error_of(file).find("no such file"), std::string::npos);
}

TEST(CheckpointFile, ResumingAnotherConfigIsRefused) {
    const fs::path file = written_checkpoint();
    Simulation other(test::config_from(kRing, {{"simulation.seed", "6"}}),
                     Simulation::Backend::cpu);
    try {
        restore_checkpoint(file, read_checkpoint_info(file), other);
        ADD_FAILURE() << "a checkpoint of seed 5 restored into a seed-6 run";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("written for another config"), std::string::npos);
    }
    fs::remove(file);
}

// A checkpoint holds the same blocks whichever engine wrote it (state_layout): the CPU engine's
// resumes on the CUDA engine and the other way round, with the same results (cuda instance).
// Every block leaves the engine piece by piece (read_block_to) with the bytes read_block gives;
// a ring row by row (one target population's cells at a time), never as a whole copy.
TEST_P(Checkpoint, BlocksLeaveTheEngineInPiecesWithReadBlocksBytes) {
    const Config cfg = test::config_from(kRing);
    Simulation sim(cfg, backend());
    EXPECT_FALSE(sim.run({}, [&](int64_t s) { return s >= 1234; }));
    sim.engine().synchronize();
    int rings_of_rows = 0;  // rings of several rows (the delayed projections')
    for (const StateBlock& b : state_layout(cfg)) {
        SCOPED_TRACE(b.name);
        std::vector<char> whole(b.bytes()), pieces;
        sim.engine().read_block(b, sim.step(), whole.data());
        uint64_t largest = 0;
        sim.engine().read_block_to(b, sim.step(), [&](const void* p, uint64_t n) {
            pieces.insert(pieces.end(), static_cast<const char*>(p),
                          static_cast<const char*>(p) + n);
            largest = std::max(largest, n);
        });
        EXPECT_EQ(pieces, whole);
        if (b.var == "ring") {
            const uint64_t row = cfg.populations[cfg.projections[b.index].target].n * 4;
            EXPECT_EQ(largest, row);
            rings_of_rows += b.bytes() > row;
        }
    }
    EXPECT_GE(rings_of_rows, 2);
}

TEST_P(Checkpoint, CheckpointOfOneEngineResumesOnTheOther) {
    if (GetParam() == test::EngineKind::cpu) GTEST_SKIP() << "cross-engine: the cuda instance";
    const Config cfg = test::config_from(kRing);
    Simulation whole(cfg, Simulation::Backend::cpu);
    ASSERT_TRUE(whole.run());
    const Outcome ref = outcome(whole);
    const fs::path file = temp_file("cross");
    expect_same(
        ref, stop_and_resume(cfg, Simulation::Backend::cpu, Simulation::Backend::cuda, 2003, file));
    expect_same(
        ref, stop_and_resume(cfg, Simulation::Backend::cuda, Simulation::Backend::cpu, 1777, file));
    fs::remove(file);
}
