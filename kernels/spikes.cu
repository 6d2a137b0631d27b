// Thread mapping: one thread per population tail (of an engine, or of every member of a pack);
// thread 0 advances the step.
#include <algorithm>
#include <cub/device/device_radix_sort.cuh>

#include "launch.cuh"
#include "spikes.hpp"

namespace l5sim::cuda {

namespace kernel {

// One thread per population tail (of one engine, or of every member of a pack); thread 0
// advances the (shared) step counter.
__global__ void finish_step(const PopTail* tails, uint32_t n, uint32_t* step) {
    const uint32_t p = blockIdx.x * blockDim.x + threadIdx.x;
    if (p < n) {
        const PopTail t = tails[p];
        const auto spikes = static_cast<unsigned long long>(*t.spike_count);
        t.counters[0] += spikes;
        if (t.record) {
            const unsigned long long end = *t.record_count + spikes;
            if (end > t.record_capacity) {
                t.counters[2] = 1;  // overflow: the host throws at the next collection
                *t.record_count = t.record_capacity;
            } else {
                *t.record_count = end;
            }
        }
        *t.spike_count = 0;
    }
    if (p == 0) *step = *step + 1;
}

// The end of a window: its spikes were counted and recorded by the per-cell kernel.
__global__ void finish_window(const PopTail* tails, uint32_t n, uint32_t count, uint32_t* step) {
    const uint32_t p = blockIdx.x * blockDim.x + threadIdx.x;
    if (p < n) *tails[p].spike_count = 0;
    if (p == 0) *step = *step + count;
}

__global__ void record_fill(const PopTail* tails, uint32_t n, unsigned long long* out) {
    const uint32_t p = blockIdx.x * blockDim.x + threadIdx.x;
    if (p < n) out[p] = *tails[p].record_count;
}

}  // namespace kernel

size_t sort_spike_scratch_bytes(uint64_t n) {
    if (n > 0x7fffffffu) throw Error("spike record of more than 2^31 entries");
    cub::DoubleBuffer<unsigned long long> keys(nullptr, nullptr);
    size_t bytes = 0;
    L5_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(nullptr, bytes, keys, static_cast<int>(n)));
    return bytes;
}

const unsigned long long* sort_spike_keys(unsigned long long* keys, unsigned long long* alt,
                                          uint64_t n, void* scratch, size_t scratch_bytes,
                                          cudaStream_t stream) {
    if (n > 0x7fffffffu) throw Error("spike record of more than 2^31 entries");
    cub::DoubleBuffer<unsigned long long> k(keys, alt);
    L5_CUDA_CHECK(cub::DeviceRadixSort::SortKeys(scratch, scratch_bytes, k, static_cast<int>(n), 0,
                                                 64, stream));
    return k.Current();
}

static unsigned tail_blocks(uint32_t n) { return (std::max(n, 1u) + kBlock - 1) / kBlock; }

void finish_step(const PopTail* tails, uint32_t n, uint32_t* step, cudaStream_t stream) {
    kernel::finish_step<<<tail_blocks(n), kBlock, 0, stream>>>(tails, n, step);
    check_launch("finish_step", stream);
}

void finish_window(const PopTail* tails, uint32_t n, uint32_t count, uint32_t* step,
                   cudaStream_t stream) {
    kernel::finish_window<<<tail_blocks(n), kBlock, 0, stream>>>(tails, n, count, step);
    check_launch("finish_window", stream);
}

void record_fill(const PopTail* tails, uint32_t n, unsigned long long* out, cudaStream_t stream) {
    launch(kernel::record_fill, stream, n, tails, n, out);
}

}  // namespace l5sim::cuda
