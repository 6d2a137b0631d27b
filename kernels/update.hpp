#pragma once
// Per-cell kernels of the CUDA engine: phase 1 (detect) and phases 2b-5 fused (deliver,
// background, decay, dendrite, soma), plus the STDP trace step.
#include <cstdint>

#include "engine_views.hpp"

namespace l5sim::cuda {

void detect_spikes(const PopView& pop);
void update_cells(const PopView& pop, const InputSet& inputs, uint64_t seed, uint32_t step);
void step_traces(const ProjView& proj, const uint8_t* src_spiked, const uint8_t* tgt_spiked);

}  // namespace l5sim::cuda
