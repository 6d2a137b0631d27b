#pragma once
// Evaluate the shared model functions on the device, so tests can demand bit-identical results
// from g++ and nvcc (DESIGN.md section 2). Plain header: g++ includes it.
#include <cstdint>
#include <vector>

#include "l5sim/model/connectivity.hpp"
#include "l5sim/model/isolated_cell.hpp"
#include "l5sim/model/synapse.hpp"

namespace l5sim::cuda {

struct MathResults {
    std::vector<float> exp, log, sin, cos, sigmoid, nmda_gate;
    std::vector<uint32_t> fixed;  // to_fixed(x, 2^24)
    std::vector<float> unfixed;   // from_fixed(fixed * kFixedScramble, 2^-20)
};
/// An odd multiplier that spreads the fixed-point words over the whole 32-bit range.
inline constexpr uint32_t kFixedScramble = 2654435761u;
/// pexp, plog(|x| + tiny), psincos_2pi, psigmoid, nmda_gate of every x, and the fixed-point
/// conversions (|x| < 128), on the device.
MathResults device_math(const std::vector<float>& x);

/// philox(seed, stream, step = i / n_ids, id = i % n_ids) words, for i < count.
std::vector<uint32_t> device_philox(uint64_t seed, uint32_t stream, uint32_t n_ids, uint32_t count);

/// Isolated cells, one per current value, `steps` steps each: per cell the spike codes per step
/// (0, 1 regular, 2 burst) and the final state.
void device_isolated_cells(const model::IsolatedCellSetup& setup,
                           const std::vector<float>& soma_currents, uint32_t steps,
                           std::vector<uint8_t>* codes,
                           std::vector<model::IsolatedCellState>* final_state);

/// sheet_draw_source for every target t < n_tgt and k < K: sources and delays (t-major).
void device_sheet_draws(const model::SheetDraw& p, uint32_t K, std::vector<uint32_t>* src,
                        std::vector<uint32_t>* delay);

}  // namespace l5sim::cuda
