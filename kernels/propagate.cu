// Thread mapping: one warp per spiking cell (grid-stride over the device spike count, so the
// host never waits for it); lanes walk the cell's CSR row (propagate) or reverse-index row
// (potentiate). Ring writes are 64-bit integer atomics (order-free); each synapse has one writer.
#include "launch.cuh"
#include "propagate.hpp"

namespace l5sim::cuda {

namespace kernel {

__global__ void propagate(ProjView pj, const uint32_t* spike_ids, const int* spike_count) {
    const uint32_t step = *pj.step;
    const int n = *spike_count;
    const int lane = threadIdx.x & 31;
    const int warps = (gridDim.x * blockDim.x) >> 5;
    const bool triplet = pj.plastic && pj.stdp.rule == model::StdpRule::triplet;
    unsigned long long events = 0;
    for (int q = (blockIdx.x * blockDim.x + threadIdx.x) >> 5; q < n; q += warps) {
        const uint32_t s = spike_ids[q];
        const uint64_t b = pj.row_ptr[s], e = pj.row_ptr[s + 1];
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
    const int n = *post_count;
    const int lane = threadIdx.x & 31;
    const int warps = (gridDim.x * blockDim.x) >> 5;
    const bool triplet = pj.stdp.rule == model::StdpRule::triplet;
    const uint32_t K = pj.in_degree;
    for (int q = (blockIdx.x * blockDim.x + threadIdx.x) >> 5; q < n; q += warps) {
        const uint32_t t = post_ids[q];
        const float o2 = triplet ? pj.o2[t] : 0.0f;
        for (uint32_t k = lane; k < K; k += 32) {
            const uint32_t syn = pj.rev[static_cast<uint64_t>(t) * K + k];
            const uint32_t src = model::source_of(pj.source, t, k);
            pj.weight[syn] = model::potentiate(pj.stdp, pj.weight[syn], pj.x[src], o2);
        }
    }
}

__global__ void jump_slow_traces(float* trace, const uint32_t* ids, const int* count) {
    const int n = *count;
    for (int q = blockIdx.x * blockDim.x + threadIdx.x; q < n; q += gridDim.x * blockDim.x)
        trace[ids[q]] = trace[ids[q]] + 1.0f;
}

}  // namespace kernel

// Enough warps to cover a busy step; idle warps exit at once.
static uint64_t spike_warps(uint32_t n_cells) { return n_cells < 8192u ? n_cells : 8192u; }

void propagate(const ProjView& pj, const uint32_t* spike_ids, const int* spike_count,
               cudaStream_t stream) {
    launch_warps(kernel::propagate, stream, spike_warps(pj.n_src), pj, spike_ids, spike_count);
}

void potentiate(const ProjView& pj, const uint32_t* post_ids, const int* post_count,
                const uint32_t* pre_ids, const int* pre_count, cudaStream_t stream) {
    launch_warps(kernel::potentiate, stream, spike_warps(pj.n_tgt), pj, post_ids, post_count);
    if (pj.stdp.rule == model::StdpRule::triplet) {
        launch(kernel::jump_slow_traces, stream, pj.n_src < 65536u ? pj.n_src : 65536u, pj.r2,
               pre_ids, pre_count);
        launch(kernel::jump_slow_traces, stream, pj.n_tgt < 65536u ? pj.n_tgt : 65536u, pj.o2,
               post_ids, post_count);
    }
}

}  // namespace l5sim::cuda
