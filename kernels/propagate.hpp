#pragma once
// Phase 2a on the device: spikes -> fixed-point delay rings, with pre-side STDP fused.
#include <cstdint>

#include <cuda_runtime.h>

#include "engine_views.hpp"

namespace l5sim::cuda {

void propagate(const ProjView& proj, const uint32_t* spike_ids, const int* spike_count,
               cudaStream_t stream);
/// Phase 6: potentiation through the reverse index; then the triplet slow traces jump.
void potentiate(const ProjView& proj, const uint32_t* post_ids, const int* post_count,
                const uint32_t* pre_ids, const int* pre_count, cudaStream_t stream);

}  // namespace l5sim::cuda
