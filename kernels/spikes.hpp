#pragma once
// Stable compaction of spike flags into ascending spike ids (CUB), and the device spike record.
#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

#include "engine_views.hpp"

namespace l5sim::cuda {

/// Temporary storage CUB needs to compact up to n flags.
size_t compact_temp_bytes(uint32_t n);
/// spike_ids <- ids i with spiked[i], ascending; *spike_count <- their number. Then append them
/// to the record (if `record`) and add them to the spike counter.
void compact_spikes(const PopView& pop, void* temp, size_t temp_bytes, bool record,
                    cudaStream_t stream);

}  // namespace l5sim::cuda
