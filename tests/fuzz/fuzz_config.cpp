// libFuzzer target over the config loader: any text, through the same function `l5sim run` and
// `l5sim validate` use (parse_batch: YAML, overrides, sweep expansion, schema). A ConfigError is
// the expected answer to bad input; anything else escaping (another exception, a crash, a
// sanitizer report, a hang) is a bug. Built by scripts/fuzz.sh (clang, -DL5SIM_FUZZ=ON).
#include <cstddef>
#include <cstdint>
#include <string>

#include "l5sim/error.hpp"
#include "l5sim/sweep.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        l5sim::parse_batch(text, "fuzz.yaml");
    } catch (const l5sim::ConfigError&) {
    }
    return 0;
}
