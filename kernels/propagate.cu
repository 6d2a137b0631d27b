// Thread mapping: one warp per (spiking cell, chunk of kChunk synapses of its row), grid-stride
// over the device spike count times the chunks per row, so the host never waits and a few
// hundred spikes still fill the GPU; lanes walk the chunk of the CSR row (propagate) or of the
// reverse-index row (potentiate). Ring writes are 64-bit integer atomics (order-free); each
// synapse has exactly one writer.
#include "launch.cuh"
#include "propagate.hpp"

namespace l5sim::cuda {

namespace kernel {

__global__ void propagate(ProjView pj, const uint32_t* spike_ids, const int* spike_count) {
    const uint32_t step = *pj.step;
    const uint64_t items = static_cast<uint64_t>(*spike_count) * pj.row_chunks;
    const int lane = threadIdx.x & 31;
    const uint64_t warps = (gridDim.x * blockDim.x) >> 5;
    const bool triplet = pj.plastic && pj.stdp.rule == model::StdpRule::triplet;
    unsigned long long events = 0;
    for (uint64_t it = (blockIdx.x * blockDim.x + threadIdx.x) >> 5; it < items; it += warps) {
        const uint32_t s = spike_ids[it / pj.row_chunks];
        const uint64_t row_b = pj.row_ptr[s], row_e = pj.row_ptr[s + 1];
        const uint64_t b = row_b + (it % pj.row_chunks) * kChunk;
        if (b >= row_e) continue;
        const uint64_t e = b + kChunk < row_e ? b + kChunk : row_e;
        const float r2 = triplet ? pj.r2[s] : 0.0f;
        for (uint64_t syn = b + lane; syn < e; syn += 32) {
            const uint32_t td = pj.target_delay[syn];
            const uint32_t t = td & 0xffffffu;
            const uint64_t slot = (static_cast<uint64_t>(step) + (td >> 24)) % pj.slots;
            const float w = pj.weight[syn];
            atomicAdd(&pj.ring[slot * pj.n_tgt + t],
                      static_cast<unsigned long long>(model::to_fixed(w)));
            if (pj.plastic) pj.weight[syn] = model::depress(pj.stdp, w, pj.y[t], r2);
        }
        if (lane == 0) events += e - b;
    }
    if (lane == 0 && events) atomicAdd(pj.events, events);
}

__global__ void potentiate(ProjView pj, const uint32_t* post_ids, const int* post_count) {
    const uint32_t K = pj.in_degree;
    const uint32_t chunks = (K + kChunk - 1) / kChunk;
    const uint64_t items = static_cast<uint64_t>(*post_count) * chunks;
    const int lane = threadIdx.x & 31;
    const uint64_t warps = (gridDim.x * blockDim.x) >> 5;
    const bool triplet = pj.stdp.rule == model::StdpRule::triplet;
    for (uint64_t it = (blockIdx.x * blockDim.x + threadIdx.x) >> 5; it < items; it += warps) {
        const uint32_t t = post_ids[it / chunks];
        const uint32_t k0 = static_cast<uint32_t>(it % chunks) * kChunk;
        const uint32_t k1 = k0 + kChunk < K ? k0 + kChunk : K;
        const float o2 = triplet ? pj.o2[t] : 0.0f;
        const model::SourcesOf source_of(pj.source, t);
        for (uint32_t k = k0 + lane; k < k1; k += 32) {
            const uint32_t syn = pj.rev[static_cast<uint64_t>(t) * K + k];
            const uint32_t src = source_of(k);
            pj.weight[syn] = model::potentiate(pj.stdp, pj.weight[syn], pj.x[src], o2);
        }
    }
}

__global__ void jump_slow_traces(float* trace, const uint32_t* ids, const int* count) {
    const int n = *count;
    for (int q = blockIdx.x * blockDim.x + threadIdx.x; q < n; q += gridDim.x * blockDim.x)
        trace[ids[q]] = trace[ids[q]] + 1.0f;
}

// Work item `it` as (spike q, chunk r) of `chunks` per spike, with a 32-bit division when it
// fits (a 64-bit one is a long software sequence).
__device__ __forceinline__ void split_item(uint64_t it, uint32_t chunks, uint32_t* q,
                                           uint32_t* r) {
    if (it <= 0xffffffffull) {
        const auto a = static_cast<uint32_t>(it);
        *q = a / chunks;
        *r = a - *q * chunks;
    } else {
        *q = static_cast<uint32_t>(it / chunks);
        *r = static_cast<uint32_t>(it - static_cast<uint64_t>(*q) * chunks);
    }
}

// A window's spikes (DESIGN.md section 4): each source that spiked in the window once, with
// its spike mask. A static synapse delivers its weight at each spike; a plastic one replays the
// window in step order (model::stdp_window: delivery and depression at each presynaptic spike,
// potentiation at each spike of its target), so the synapses whose source spiked have this
// kernel as their one writer.
__global__ void propagate_window(ProjView pj, const uint32_t* spike_ids, const int* spike_count) {
    const uint32_t first = *pj.step;
    const uint32_t base = first % pj.slots;  // the window's first step's slot
    const uint64_t items = static_cast<uint64_t>(*spike_count) * pj.row_chunks;
    const int lane = threadIdx.x & 31;
    const uint64_t warps = (gridDim.x * blockDim.x) >> 5;
    const bool triplet = pj.plastic && pj.stdp.rule == model::StdpRule::triplet;
    unsigned long long events = 0;
    for (uint64_t it = (blockIdx.x * blockDim.x + threadIdx.x) >> 5; it < items; it += warps) {
        uint32_t q, chunk;
        split_item(it, pj.row_chunks, &q, &chunk);
        const uint32_t s = spike_ids[q];
        const uint64_t row_b = pj.row_ptr[s], row_e = pj.row_ptr[s + 1];
        const uint64_t b = row_b + static_cast<uint64_t>(chunk) * kChunk;
        if (b >= row_e) continue;
        const uint64_t e = b + kChunk < row_e ? b + kChunk : row_e;
        const uint32_t ms = pj.src_mask[s];
        const float x0 = pj.plastic ? pj.x[s] : 0.0f, r20 = triplet ? pj.r2[s] : 0.0f;
        for (uint64_t syn = b + lane; syn < e; syn += 32) {
            const uint32_t td = pj.target_delay[syn];
            const uint32_t t = td & 0xffffffu;
            const uint32_t at = base + (td >> 24);  // < 2 slots (delay < slots)
            unsigned long long* ring = pj.ring + t;
            auto deliver = [&](uint32_t j, float w) {
                uint32_t slot = at + j;  // the arrival step's slot: (first + delay + j) % slots
                while (slot >= pj.slots) slot -= pj.slots;
                atomicAdd(&ring[static_cast<uint64_t>(slot) * pj.n_tgt],
                          static_cast<unsigned long long>(model::to_fixed(w)));
            };
            const float w = pj.weight[syn];
            if (!pj.plastic) {
                for (uint32_t m = ms; m != 0u; m &= m - 1u)
                    deliver(static_cast<uint32_t>(__ffs(static_cast<int>(m)) - 1), w);
                continue;
            }
            const model::SynapseTraces tr{x0, r20, pj.y[t], triplet ? pj.o2[t] : 0.0f};
            pj.weight[syn] = model::stdp_window(pj.stdp, w, ms, pj.tgt_mask[t], tr, deliver);
        }
        if (lane == 0) events += (e - b) * __popc(ms);
    }
    if (lane == 0 && events) atomicAdd(pj.events, events);
}

// A window's post-side STDP: for each target that spiked in the window, the synapses from
// sources that did not (the others are propagate_window's): potentiation at each of the
// target's spikes, with the source trace decaying through the window.
__global__ void potentiate_window(ProjView pj, const uint32_t* post_ids, const int* post_count) {
    const uint32_t K = pj.in_degree;
    const uint32_t chunks = (K + kChunk - 1) / kChunk;
    const uint64_t items = static_cast<uint64_t>(*post_count) * chunks;
    const int lane = threadIdx.x & 31;
    const uint64_t warps = (gridDim.x * blockDim.x) >> 5;
    const bool triplet = pj.stdp.rule == model::StdpRule::triplet;
    for (uint64_t it = (blockIdx.x * blockDim.x + threadIdx.x) >> 5; it < items; it += warps) {
        uint32_t q, chunk;
        split_item(it, chunks, &q, &chunk);
        const uint32_t t = post_ids[q];
        const uint32_t k0 = chunk * kChunk;
        const uint32_t k1 = k0 + kChunk < K ? k0 + kChunk : K;
        const uint32_t mt = pj.tgt_mask[t];
        const float y0 = pj.y[t], o20 = triplet ? pj.o2[t] : 0.0f;
        const model::SourcesOf source_of(pj.source, t);
        for (uint32_t k = k0 + lane; k < k1; k += 32) {
            const uint32_t src = source_of(k);
            if (pj.src_mask[src] != 0u) continue;
            const uint32_t syn = pj.rev[static_cast<uint64_t>(t) * K + k];
            const model::SynapseTraces tr{pj.x[src], 0.0f, y0, o20};
            pj.weight[syn] = model::stdp_window(pj.stdp, pj.weight[syn], 0u, mt, tr,
                                                [](uint32_t, float) {});
        }
    }
}

}  // namespace kernel

// Enough warps to fill the GPU on a busy step (132 SMs x 64 warps on an H100); idle warps
// exit at once.
static uint64_t work_warps(uint64_t max_items) { return max_items < 16384u ? max_items : 16384u; }

void propagate(const ProjView& pj, const uint32_t* spike_ids, const int* spike_count,
               cudaStream_t stream) {
    launch_warps(kernel::propagate, stream, work_warps(uint64_t(pj.n_src) * pj.row_chunks), pj,
                 spike_ids, spike_count);
}

void propagate_window(const ProjView& pj, const uint32_t* spike_ids, const int* spike_count,
                      cudaStream_t stream) {
    launch_warps(kernel::propagate_window, stream, work_warps(uint64_t(pj.n_src) * pj.row_chunks),
                 pj, spike_ids, spike_count);
}

void potentiate_window(const ProjView& pj, const uint32_t* post_ids, const int* post_count,
                       cudaStream_t stream) {
    const uint64_t chunks = (pj.in_degree + kChunk - 1) / kChunk;
    launch_warps(kernel::potentiate_window, stream, work_warps(uint64_t(pj.n_tgt) * chunks), pj,
                 post_ids, post_count);
}

void potentiate(const ProjView& pj, const uint32_t* post_ids, const int* post_count,
                const uint32_t* pre_ids, const int* pre_count, cudaStream_t stream) {
    const uint64_t chunks = (pj.in_degree + kChunk - 1) / kChunk;
    launch_warps(kernel::potentiate, stream, work_warps(uint64_t(pj.n_tgt) * chunks), pj, post_ids,
                 post_count);
    if (pj.stdp.rule == model::StdpRule::triplet) {
        launch(kernel::jump_slow_traces, stream, pj.n_src < 65536u ? pj.n_src : 65536u, pj.r2,
               pre_ids, pre_count);
        launch(kernel::jump_slow_traces, stream, pj.n_tgt < 65536u ? pj.n_tgt : 65536u, pj.o2,
               post_ids, post_count);
    }
}

}  // namespace l5sim::cuda
