#pragma once
// Helpers shared by the tests: configs from YAML text, runs, and a GPU-requirement switch.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "l5sim/config.hpp"
#include "l5sim/devices.hpp"
#include "l5sim/simulation.hpp"

namespace l5sim::test {

/// Parse a config from YAML text (as if it came from file "test.yaml").
inline Config config_from(const std::string& yaml, const std::vector<Override>& ov = {}) {
    return parse_config(yaml, "test.yaml", ov);
}

/// True when the environment demands that GPU tests run (L5SIM_REQUIRE_GPU=1).
inline bool gpu_required() {
    const char* v = std::getenv("L5SIM_REQUIRE_GPU");
    return v && std::string(v) == "1";
}

}  // namespace l5sim::test

/// In a GPU test body: skip without a device, fail instead under L5SIM_REQUIRE_GPU=1.
#define L5_REQUIRE_DEVICE()                                                                 \
    do {                                                                                    \
        std::string l5_why_;                                                                \
        if (::l5sim::cuda_devices(&l5_why_).empty()) {                                      \
            if (::l5sim::test::gpu_required())                                              \
                FAIL() << "L5SIM_REQUIRE_GPU=1 but no CUDA device: " << l5_why_;            \
            GTEST_SKIP() << "no CUDA device: " << l5_why_;                                  \
        }                                                                                   \
    } while (0)
