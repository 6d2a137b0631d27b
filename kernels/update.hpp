#pragma once
// Per-cell kernels of the CUDA engine: phase 1 (detect, STDP traces, spike list) and phases
// 2b-5 fused (deliver, background, decay, dendrite, soma), or all of them in one kernel.
#include <cuda_runtime.h>

#include <cstdint>

#include "engine_views.hpp"

namespace l5sim::cuda {

// Every launcher enqueues on `stream`; the step number is read on the device (pop.step), so a
// captured CUDA graph replays unchanged from step to step.
/// Phase 1: spike test and reset, BAP history, the population's STDP traces, the spike list.
void detect_spikes(const PopView& pop, cudaStream_t stream);
/// Phases 2b-5; with `detect`, phase 1 first in the same kernel (only when no projection has a
/// delay of 0 steps: then this step's propagation can run after it).
void update_cells(const PopView& pop, const InputSet& inputs, uint64_t seed, bool detect,
                  cudaStream_t stream);
/// A window of `count` steps (phases 1-5 per step, all cells advanced with their state in
/// registers; valid when every delay is at least `count` steps): spike masks, the window's
/// spike list (each spiking cell once), the record, the spike counter. Traces untouched.
/// Populations with 5 to 8 inputs share one instantiation (the inputs past inputs.count are
/// skipped).
void update_window(const PopView& pop, const InputSet& inputs, uint64_t seed, uint32_t count,
                   cudaStream_t stream);
/// After the window's STDP: the population's traces moved through the window's spikes.
void advance_traces(const PopView& pop, uint32_t count, cudaStream_t stream);
/// Every cell's background time to its next input spike after a rate change at `step`
/// (model::poisson_rate_change; word 0 soma, 1 dendrite); `gid`: the cells' keys (PopView::gid,
/// null: their indices). Not captured in the step's graph.
void background_rate_change(float* rem, const uint32_t* gid, uint32_t n, float lambda_old,
                            float lambda_new, uint64_t seed, uint32_t stream, uint32_t step,
                            int word, cudaStream_t cs);
// Packed replicas: the kernels above, one launch for every task of the list (engine_views.hpp).
void detect_tasks(const TaskList<PopTask>& tasks, cudaStream_t stream);
/// Phases 2b-5 (update_cells without detect).
// all_receptors: some task's population steps every receptor (kernels for all; the others run
// in them unchanged), or none does (kernels for the core receptors).
void update_tasks(const TaskList<PopTask>& tasks, bool all_receptors, cudaStream_t stream);
/// A window of `steps` steps; every task of the list has `inputs` inputs (5 to 8: any of them).
void window_tasks(const TaskList<PopTask>& tasks, int inputs, bool all_receptors, uint32_t steps,
                  cudaStream_t stream);
void traces_tasks(const TaskList<PopTask>& tasks, uint32_t steps, cudaStream_t stream);

}  // namespace l5sim::cuda
