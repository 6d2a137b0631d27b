#pragma once
// Words 0 and 1 of model::philox(seed, stream, step, idx[a], 0) for a batch of cells: the CPU
// engine's draws for the few cells of a block that need one (background arrivals, open BAP
// windows, plateaus). Bit-identical to model::philox (Philox4x32-10 is integer arithmetic); on a
// CPU with AVX2 eight counters go through the rounds together.
#include <cstdint>

namespace l5sim::cpu {

void philox_batch(uint64_t seed, uint32_t stream, uint32_t step, const uint32_t* idx, int64_t m,
                  uint32_t* w0, uint32_t* w1);

}  // namespace l5sim::cpu
