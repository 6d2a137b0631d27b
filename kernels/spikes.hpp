#pragma once
// The end of a step on the device: spike counters, the record's fill level, the step counter.
#include <cuda_runtime.h>

#include <cstdint>

#include "engine_views.hpp"

namespace l5sim::cuda {

/// For each of the n population tails (of one engine, or of every member of a pack): add this
/// step's spikes to the spike counter, advance the record by them (if the tail records;
/// overflow is flagged in counters[2]) and zero the step's spike count; then *step += 1. The
/// last node of a step.
void finish_step(const PopTail* tails, uint32_t n, uint32_t* step, cudaStream_t stream);
/// The last node of a window of `count` steps: every tail's window spike list emptied,
/// *step += count (the per-cell kernel counted and recorded the spikes).
void finish_window(const PopTail* tails, uint32_t n, uint32_t count, uint32_t* step,
                   cudaStream_t stream);
/// CUB scratch bytes for sorting up to n spike keys.
size_t sort_spike_scratch_bytes(uint64_t n);
/// The n spike keys (spike_key) sorted ascending, i.e. by step, then id, on `stream`, with
/// `alt` (n entries) as the radix sort's second buffer: returns the buffer holding them.
const unsigned long long* sort_spike_keys(unsigned long long* keys, unsigned long long* alt,
                                          uint64_t n, void* scratch, size_t scratch_bytes,
                                          cudaStream_t stream);

/// out[p] = the record fill level of tails[p] (device array of n).
void record_fill(const PopTail* tails, uint32_t n, unsigned long long* out, cudaStream_t stream);

}  // namespace l5sim::cuda
