#pragma once
// Per-cell kernels of the CUDA engine: phase 1 (detect) and phases 2b-5 fused (deliver,
// background, decay, dendrite, soma), plus the STDP trace step.
#include <cstdint>

#include <cuda_runtime.h>

#include "engine_views.hpp"

namespace l5sim::cuda {

// Every launcher enqueues on `stream`; the step number is read on the device (pop.step), so a
// captured CUDA graph replays unchanged from step to step.
void detect_spikes(const PopView& pop, cudaStream_t stream);
void update_cells(const PopView& pop, const InputSet& inputs, uint64_t seed, cudaStream_t stream);
/// Every cell's background time to its next input spike after a rate change at `step`
/// (model::poisson_rate_change; word 0 soma, 1 dendrite). Not captured in the step's graph.
void background_rate_change(float* rem, uint32_t n, float lambda_old, float lambda_new,
                            uint64_t seed, uint32_t stream, uint32_t step, int word,
                            cudaStream_t cs);
void step_traces(const ProjView& proj, const uint8_t* src_spiked, const uint8_t* tgt_spiked,
                 cudaStream_t stream);
/// out[k] = src[cells[k]] (probes): floats, or bytes widened to float.
void gather(const float* src, const uint32_t* cells, uint32_t n, float* out, cudaStream_t stream);
void gather(const uint8_t* src, const uint32_t* cells, uint32_t n, float* out, cudaStream_t stream);
/// *step += 1 (the last node of a step).
void advance_step(uint32_t* step, cudaStream_t stream);

}  // namespace l5sim::cuda
