// Thread mapping: one thread per synapse (draw, scatter, row boundaries); CUB radix sort
// (stable, so equal sources keep their (target, k) order exactly as the CPU counting sort).
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_reduce.cuh>

#include "connect.cuh"
#include "l5sim/error.hpp"
#include "launch.cuh"

namespace l5sim::cuda {

namespace kernel {

__global__ void draw_sources(model::SheetDraw p, uint32_t K, uint64_t total, uint32_t* src,
                             uint8_t* delay, uint32_t* idx) {
    const uint64_t i = blockIdx.x * static_cast<uint64_t>(blockDim.x) + threadIdx.x;
    if (i >= total) return;
    uint32_t s, d;
    model::sheet_draw_source(p, static_cast<uint32_t>(i / K), static_cast<uint32_t>(i % K), &s, &d);
    src[i] = s;
    delay[i] = static_cast<uint8_t>(d);
    idx[i] = static_cast<uint32_t>(i);
}

__global__ void scatter(uint64_t total, uint32_t K, float w, const uint32_t* sorted_idx,
                        const uint8_t* delay_draw, uint32_t* target_delay, float* weight,
                        uint32_t* rev) {
    const uint64_t pos = blockIdx.x * static_cast<uint64_t>(blockDim.x) + threadIdx.x;
    if (pos >= total) return;
    const uint32_t i = sorted_idx[pos];
    target_delay[pos] = (i / K) | (static_cast<uint32_t>(delay_draw[i]) << kTargetBits);
    weight[pos] = w;
    if (rev) rev[i] = static_cast<uint32_t>(pos);
}

// row_ptr[r] = first position whose source is >= r.
__global__ void row_bounds(uint64_t total, uint32_t n_src, const uint32_t* sorted_src,
                           uint64_t* row_ptr) {
    const uint64_t pos = blockIdx.x * static_cast<uint64_t>(blockDim.x) + threadIdx.x;
    if (pos >= total) return;
    const uint32_t s = sorted_src[pos];
    const int64_t prev = pos == 0 ? -1 : static_cast<int64_t>(sorted_src[pos - 1]);
    for (int64_t r = prev + 1; r <= static_cast<int64_t>(s); ++r) row_ptr[r] = pos;
    if (pos + 1 == total)
        for (uint64_t r = static_cast<uint64_t>(s) + 1; r <= n_src; ++r) row_ptr[r] = total;
}

}  // namespace kernel

// Peak while sorting: keys, keys_alt, idx, idx_alt (4 B each) + delay draws (1 B); while
// scattering: idx (4) + delay draws (1) + the final arrays (8 or 12), never more than 17 B.
uint64_t sparse_build_bytes(uint64_t synapses) {
    // Saturating: a count this large is refused by the estimate, never wrapped to a small one.
    if (synapses > (UINT64_MAX - (64ull << 20)) / 17) return UINT64_MAX;
    return synapses * 17 + (64ull << 20);
}

DeviceCsr build_sparse(const model::SheetDraw& p, uint32_t K, float w, bool plastic) {
    const uint64_t total = static_cast<uint64_t>(p.n_tgt) * K;
    if (p.n_tgt > kTargetMask + 1)
        throw Error(
            "the CUDA engine holds at most 2^24 target cells per projection; this one has " +
            std::to_string(p.n_tgt));
    if (total > 0xffffffffull)
        throw Error("a sparse projection with " + std::to_string(total) +
                    " synapses exceeds the 2^32 - 1 synapses one projection may hold");
    DeviceCsr c;
    c.n_src = p.n_src;
    c.n_tgt = p.n_tgt;
    c.in_degree = K;
    DeviceBuffer<uint32_t> keys(total), keys_alt(total), idx(total), idx_alt(total);
    DeviceBuffer<uint8_t> delay_draw(total);
    launch(kernel::draw_sources, 0, total, p, K, total, keys.data(), delay_draw.data(), idx.data());
    int bits = 1;
    while (bits < 32 && (1ull << bits) < p.n_src) ++bits;
    cub::DoubleBuffer<uint32_t> dk(keys.data(), keys_alt.data());
    cub::DoubleBuffer<uint32_t> dv(idx.data(), idx_alt.data());
    size_t temp_bytes = 0;
    L5_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, dk, dv, total, 0, bits));
    {
        DeviceBuffer<char> temp(temp_bytes);
        L5_CUDA_CHECK(
            cub::DeviceRadixSort::SortPairs(temp.data(), temp_bytes, dk, dv, total, 0, bits));
    }
    c.row_ptr = DeviceBuffer<uint64_t>(static_cast<size_t>(p.n_src) + 1);
    launch(kernel::row_bounds, 0, total, total, p.n_src, dk.Current(), c.row_ptr.data());
    keys = DeviceBuffer<uint32_t>();
    keys_alt = DeviceBuffer<uint32_t>();
    // Keep only the sorted half of the index double buffer.
    if (dv.Current() == idx.data()) {
        idx_alt = DeviceBuffer<uint32_t>();
    } else {
        idx = DeviceBuffer<uint32_t>();
    }
    DeviceBuffer<uint8_t> max_delay(1);
    size_t red_bytes = 0;
    L5_CUDA_CHECK(
        cub::DeviceReduce::Max(nullptr, red_bytes, delay_draw.data(), max_delay.data(), total));
    {
        DeviceBuffer<char> red_temp(red_bytes);
        L5_CUDA_CHECK(cub::DeviceReduce::Max(red_temp.data(), red_bytes, delay_draw.data(),
                                             max_delay.data(), total));
    }
    c.max_delay = max_delay.to_host()[0];
    c.target_delay = DeviceBuffer<uint32_t>(total);
    c.weight = DeviceBuffer<float>(total);
    if (plastic) c.rev = DeviceBuffer<uint32_t>(total);
    launch(kernel::scatter, 0, total, total, K, w, dv.Current(), delay_draw.data(),
           c.target_delay.data(), c.weight.data(), plastic ? c.rev.data() : nullptr);
    return c;
}

}  // namespace l5sim::cuda
