#pragma once
// Helpers shared by the tests: configs from YAML text, runs, a GPU-requirement switch, and the
// fixture that runs one engine-test body on both engines.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

#include "l5sim/config.hpp"
#include "l5sim/devices.hpp"
#include "l5sim/simulation.hpp"

namespace l5sim::test {

/// Parse a config from YAML text (as if it came from file "test.yaml").
/// The steps at which `cell` of population `pop` spiked, in order.
inline std::vector<int64_t> spike_steps(const Simulation& sim, uint32_t pop, uint32_t cell) {
    std::vector<int64_t> out;
    const SpikeRecord& r = sim.spikes()[pop];
    for (size_t k = 0; k < r.steps.size(); ++k)
        if (r.ids[k] == cell) out.push_back(r.steps[k]);
    return out;
}

inline Config config_from(const std::string& yaml, const std::vector<Override>& ov = {}) {
    return parse_config(yaml, "test.yaml", ov);
}

/// Resident memory of this process (kB, /proc/self/status), or -1 where there is none or where
/// it means little (AddressSanitizer holds freed memory in quarantine, hundreds of MB).
inline long resident_kb() {
#if defined(__SANITIZE_ADDRESS__)
    return -1;
#else
    std::ifstream f("/proc/self/status");
    std::string key;
    while (f >> key) {
        if (key == "VmRSS:") {
            long kb = -1;
            f >> kb;
            return kb;
        }
        f.ignore(1 << 12, '\n');
    }
    return -1;
#endif
}

/// True when the environment demands that GPU tests run (L5SIM_REQUIRE_GPU=1).
inline bool gpu_required() {
    const char* v = std::getenv("L5SIM_REQUIRE_GPU");
    return v && std::string(v) == "1";
}

// L5SIM_WINDOW set for the lifetime of the object (unset when `steps` is 0).
class WindowEnv {
  public:
    explicit WindowEnv(int steps) {
        if (const char* v = std::getenv("L5SIM_WINDOW")) saved_ = v;
        if (steps > 0) {
            setenv("L5SIM_WINDOW", std::to_string(steps).c_str(), 1);
        } else {
            unsetenv("L5SIM_WINDOW");
        }
    }
    ~WindowEnv() {
        if (saved_.empty()) {
            unsetenv("L5SIM_WINDOW");
        } else {
            setenv("L5SIM_WINDOW", saved_.c_str(), 1);
        }
    }

  private:
    std::string saved_;
};

}  // namespace l5sim::test

/// In a GPU test body: skip without a device, fail instead under L5SIM_REQUIRE_GPU=1.
#define L5_REQUIRE_DEVICE()                                                      \
    do {                                                                         \
        std::string l5_why_;                                                     \
        if (::l5sim::cuda_devices(&l5_why_).empty()) {                           \
            if (::l5sim::test::gpu_required())                                   \
                FAIL() << "L5SIM_REQUIRE_GPU=1 but no CUDA device: " << l5_why_; \
            GTEST_SKIP() << "no CUDA device: " << l5_why_;                       \
        }                                                                        \
    } while (0)

namespace l5sim::test {

/// The engines an engine test runs on (STYLE.md "Tests": one body, TEST_P over {cpu, cuda}).
enum class EngineKind { cpu, cuda };

inline Simulation::Backend backend_of(EngineKind e) {
    return e == EngineKind::cuda ? Simulation::Backend::cuda : Simulation::Backend::cpu;
}

inline const char* to_string(EngineKind e) { return e == EngineKind::cuda ? "cuda" : "cpu"; }
/// GoogleTest prints the parameter as its name.
inline void PrintTo(EngineKind e, std::ostream* os) { *os << to_string(e); }

/// Test names end in /cpu or /cuda (so `--gtest_filter='*/cuda'` picks the GPU cases).
inline std::string engine_name(const ::testing::TestParamInfo<EngineKind>& info) {
    return to_string(info.param);
}

/// Fixture of the engine tests: `backend()` is the engine of this instance; the cuda instance
/// skips before its body without a device, and fails instead under L5SIM_REQUIRE_GPU=1.
class EngineTest : public ::testing::TestWithParam<EngineKind> {
  protected:
    void SetUp() override {
        if (GetParam() == EngineKind::cuda) L5_REQUIRE_DEVICE();
    }
    Simulation::Backend backend() const { return backend_of(GetParam()); }
};

}  // namespace l5sim::test

/// Run every TEST_P of `suite` (a fixture derived from l5sim::test::EngineTest) on both engines,
/// as suite.Test/cpu and suite.Test/cuda.
#define L5_ENGINE_TEST_SUITE(suite)                                                         \
    INSTANTIATE_TEST_SUITE_P(                                                               \
        , suite,                                                                            \
        ::testing::Values(::l5sim::test::EngineKind::cpu, ::l5sim::test::EngineKind::cuda), \
        ::l5sim::test::engine_name)
