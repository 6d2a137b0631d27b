// Thread mapping: CUB's DeviceSelect (stable); then one thread per spike for the record append.
// The record base offset is read by every thread and advanced by a one-thread kernel after.
#include <cub/device/device_select.cuh>
#include <thrust/iterator/counting_iterator.h>

#include "launch.cuh"
#include "spikes.hpp"

namespace l5sim::cuda {

namespace kernel {

__global__ void append_spikes(PopView p) {
    const uint32_t step = *p.step;
    const int n = *p.spike_count;
    const unsigned long long base = *p.record_count;
    for (int q = blockIdx.x * blockDim.x + threadIdx.x; q < n; q += gridDim.x * blockDim.x) {
        const unsigned long long at = base + q;
        if (at < p.record_capacity) p.record[at] = SpikeEvent{step, p.spike_ids[q]};
    }
}

__global__ void advance_record(PopView p, bool record) {
    const unsigned long long n = static_cast<unsigned long long>(*p.spike_count);
    p.counters[0] += n;
    if (!record) return;
    const unsigned long long end = *p.record_count + n;
    if (end > p.record_capacity) {
        p.counters[2] = 1;  // overflow: the host throws at the next collection
        *p.record_count = p.record_capacity;
    } else {
        *p.record_count = end;
    }
}

}  // namespace kernel

size_t compact_temp_bytes(uint32_t n) {
    size_t bytes = 0;
    thrust::counting_iterator<uint32_t> ids(0);
    L5_CUDA_CHECK(cub::DeviceSelect::Flagged(nullptr, bytes, ids, static_cast<uint8_t*>(nullptr),
                                             static_cast<uint32_t*>(nullptr),
                                             static_cast<int*>(nullptr), static_cast<int>(n)));
    return bytes;
}

void compact_spikes(const PopView& p, void* temp, size_t temp_bytes, bool record,
                    cudaStream_t stream) {
    thrust::counting_iterator<uint32_t> ids(0);
    size_t bytes = temp_bytes;
    L5_CUDA_CHECK(cub::DeviceSelect::Flagged(temp, bytes, ids, p.spiked, p.spike_ids,
                                             p.spike_count, static_cast<int>(p.n), stream));
    if (record) {
        const unsigned blocks = p.n < 65536u ? (p.n + kBlock - 1) / kBlock : 256u;
        kernel::append_spikes<<<blocks, kBlock, 0, stream>>>(p);
        check_launch("append_spikes", stream);
    }
    kernel::advance_record<<<1, 1, 0, stream>>>(p, record);
    check_launch("advance_record", stream);
}

}  // namespace l5sim::cuda
