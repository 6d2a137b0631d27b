// A sweep on the CUDA engine, unpacked (several replicas at once, each with its own engine and
// stream, from its own host thread; packed sweeps: tests/engine/packed_test.cpp) writes the
// same spikes and weights as the same sweep on the CPU engine, replica for replica. Skips
// without a device; fails under L5SIM_REQUIRE_GPU=1.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "l5sim/devices.hpp"
#include "l5sim/sweep.hpp"
#include "test_util.hpp"

using namespace l5sim;
namespace fs = std::filesystem;

namespace {

const char* kSweep = R"(
simulation: {dt_ms: 0.1, duration_ms: 300, seed: 3}
network: {layout: ring}
populations:
  PYR: {type: pyramidal, n: 40, background: {dendrite: {rate_hz: 500}}}
  SOM: {type: som, n: 10}
projections:
  PYR_PYR: {source: PYR, target: PYR, receptors: {ampa: 1.75, nmda: 0.35},
            connectivity: {A: 3.5, sigma: 0.5}, stdp: {rule: pair_all}}
  PYR_SOM: {source: PYR, target: SOM, receptors: {ampa: 1, nmda: 1}, connectivity: {A: 1, sigma: 2}}
  SOM_PYR: {source: SOM, target: PYR, compartment: dendrite, receptors: {gaba_a: 1},
            connectivity: {A: 5, sigma: 2}}
injections:
  - {population: PYR, compartment: soma, kind: constant, amplitude_pA: 0}
recording:
  weights: [{projection: PYR_PYR, every_ms: 50, max_synapses: 500}]
sweep:
  trials: 3
  conditions:
    - {label: coupled, set: {populations.PYR.coupling.gamma: 1}}
    - {label: uncoupled, set: {populations.PYR.coupling.gamma: 0}}
  grid:
    injections.0.amplitude_pA: [0, 300]
    projections.SOM_PYR.gain: [0, 1]
)";

std::string bytes_of(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

TEST(CrossEngineSweep, ConcurrentCudaReplicasEqualCpuReplicas) {
    L5_REQUIRE_DEVICE();
    const Batch b = parse_batch(kSweep, "sweep_cross.yaml");
    ASSERT_EQ(b.replicas.size(), 24u);
    const fs::path root =
        fs::temp_directory_path() / ("l5sim_sweep_cross_" + std::to_string(::getpid()));
    fs::remove_all(root);
    SweepRunOptions opt;
    opt.quiet = true;
    opt.parallel = 2;
    opt.backend = Simulation::Backend::cpu;
    run_sweep(b, root / "cpu", opt);
    opt.parallel = 8;  // eight engines on the device at once, each on its own (unpacked)
    opt.backend = Simulation::Backend::cuda;
    opt.pack = SweepRunOptions::Pack::off;
    run_sweep(b, root / "cuda", opt);
    std::set<std::string> distinct;  // replicas must differ, or the comparison proves little
    for (uint32_t i = 0; i < b.replicas.size(); ++i) {
        const fs::path rel = replica_dir_name(i);
        for (const char* f : {"spikes.h5", "weights.h5"}) {
            const std::string a = bytes_of(root / "cpu" / rel / f);
            const std::string c = bytes_of(root / "cuda" / rel / f);
            ASSERT_FALSE(a.empty()) << rel << "/" << f;
            EXPECT_EQ(a, c) << "replica " << i << " " << f << " differs between the engines";
        }
        distinct.insert(bytes_of(root / "cpu" / rel / "spikes.h5"));
    }
    EXPECT_GT(distinct.size(), 12u);
    fs::remove_all(root);
}
