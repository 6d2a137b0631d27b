#pragma once
// Sparse fixed in-degree connectivity built on the device with the same draws as the CPU engine
// (model::sheet_draw_source), sorted into CSR by a stable CUB radix sort: the identical network.
#include <cstdint>

#include "device_buffer.cuh"
#include "l5sim/model/connectivity.hpp"

namespace l5sim::cuda {

struct DeviceCsr {
    uint32_t n_src = 0, n_tgt = 0, in_degree = 0, max_delay = 0;
    DeviceBuffer<uint64_t> row_ptr;
    DeviceBuffer<uint32_t> target_delay;  // target id (low 24 bits) | delay in steps << 24
    DeviceBuffer<float> weight;
    DeviceBuffer<uint32_t> rev;  // plastic only
};

/// 12 bytes per plastic synapse: the delay rides in the top byte of the target id.
inline constexpr uint32_t kTargetBits = 24;
inline constexpr uint32_t kTargetMask = (1u << kTargetBits) - 1;

/// Device bytes needed while building a projection of `synapses` synapses (peak, transient).
uint64_t sparse_build_bytes(uint64_t synapses);

DeviceCsr build_sparse(const model::SheetDraw& p, uint32_t K, float weight, bool plastic);

}  // namespace l5sim::cuda
