#pragma once
// Phase 2a on the device: spikes -> fixed-point delay rings, with pre-side STDP fused.
#include <cuda_runtime.h>

#include <cstdint>

#include "engine_views.hpp"

namespace l5sim::cuda {

void propagate(const ProjView& proj, const uint32_t* spike_ids, const int* spike_count,
               cudaStream_t stream);
/// Phase 6: potentiation through the reverse index; then the triplet slow traces jump.
void potentiate(const ProjView& proj, const uint32_t* post_ids, const int* post_count,
                const uint32_t* pre_ids, const int* pre_count, cudaStream_t stream);

/// A window's propagation (DESIGN.md section 4): every source that spiked in it, each spike
/// into its arrival slot; plastic synapses replay the window's STDP (model::stdp_window).
void propagate_window(const ProjView& proj, const uint32_t* spike_ids, const int* spike_count,
                      cudaStream_t stream);
/// A window's post-side STDP for the synapses whose source did not spike in it.
void potentiate_window(const ProjView& proj, const uint32_t* post_ids, const int* post_count,
                       cudaStream_t stream);

// Packed replicas: the kernels above, one launch for every task of the list (engine_views.hpp);
// each task's blocks grid-stride over its own work.
enum class ProjStage {
    propagate,          // propagate
    potentiate,         // potentiate without the slow-trace jumps
    jump,               // the triplet rule's slow-trace jumps (triplet tasks only)
    propagate_window,   // propagate_window
    potentiate_window,  // potentiate_window
};
void proj_tasks(ProjStage stage, const TaskList<ProjTask>& tasks, cudaStream_t stream);

}  // namespace l5sim::cuda
