// Thread mapping: one warp per (spiking cell, chunk of kChunk synapses of its row), grid-stride
// over the device spike count times the chunks per row, so the host never waits and a few
// hundred spikes still fill the GPU; lanes walk the chunk of the CSR row (propagate) or of the
// reverse-index row (potentiate). Ring writes are 32-bit integer atomics (order-free); each
// synapse has exactly one writer.
#include "launch.cuh"
#include "propagate.hpp"
#include "tasks.cuh"

namespace l5sim::cuda {

namespace kernel {

// Each body below is one warp's share of a launch: warp `warp` of `warps`, grid-stride.
__device__ __forceinline__ void propagate_warp(const ProjView& pj, const uint32_t* spike_ids,
                                               const int* spike_count, uint64_t warp,
                                               uint64_t warps) {
    const uint32_t step = *pj.step;
    const uint64_t items = static_cast<uint64_t>(*spike_count) * pj.row_chunks;
    const int lane = threadIdx.x & 31;
    const bool triplet = pj.plastic && pj.stdp.rule == model::StdpRule::triplet;
    unsigned long long events = 0;
    for (uint64_t it = warp; it < items; it += warps) {
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
            atomicAdd(&pj.ring[slot * pj.n_tgt + t], model::to_fixed(w, pj.fixed_per_ns));
            if (pj.plastic) pj.weight[syn] = model::depress(pj.stdp, w, pj.y[t], r2);
        }
        if (lane == 0) events += e - b;
    }
    if (lane == 0 && events) atomicAdd(pj.events, events);
}

__device__ __forceinline__ void potentiate_warp(const ProjView& pj, const uint32_t* post_ids,
                                                const int* post_count, uint64_t warp,
                                                uint64_t warps) {
    const uint32_t K = pj.in_degree;
    const uint32_t chunks = (K + kChunk - 1) / kChunk;
    const uint64_t items = static_cast<uint64_t>(*post_count) * chunks;
    const int lane = threadIdx.x & 31;
    const bool triplet = pj.stdp.rule == model::StdpRule::triplet;
    for (uint64_t it = warp; it < items; it += warps) {
        const uint32_t t = post_ids[it / chunks];
        const uint32_t k0 = static_cast<uint32_t>(it % chunks) * kChunk;
        const uint32_t k1 = k0 + kChunk < K ? k0 + kChunk : K;
        const float o2 = triplet ? pj.o2[t] : 0.0f;
        const model::SourcesOf source_of(pj.source, t);
        for (uint32_t k = k0 + lane; k < k1; k += 32) {
            const uint64_t r = static_cast<uint64_t>(t) * K + k;
            const uint32_t syn = pj.rev[r];
            const uint32_t src = pj.rev_src ? pj.rev_src[r] : source_of(k);
            pj.weight[syn] = model::potentiate(pj.stdp, pj.weight[syn], pj.x[src], o2);
        }
    }
}

// Thread `at` of `threads`.
__device__ __forceinline__ void jump_slow(float* trace, const uint32_t* ids, const int* count,
                                          uint32_t at, uint32_t threads) {
    const auto n = static_cast<uint32_t>(*count);
    for (uint32_t q = at; q < n; q += threads) trace[ids[q]] = trace[ids[q]] + 1.0f;
}

__global__ void jump_slow_traces(float* trace, const uint32_t* ids, const int* count) {
    jump_slow(trace, ids, count, blockIdx.x * blockDim.x + threadIdx.x, gridDim.x * blockDim.x);
}

// Work item `it` as (spike q, chunk r) of `chunks` per spike, with a 32-bit division when it
// fits (a 64-bit one is a long software sequence).
__device__ __forceinline__ void split_item(uint64_t it, uint32_t chunks, uint32_t* q, uint32_t* r) {
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
__device__ __forceinline__ void propagate_window_warp(const ProjView& pj, const uint32_t* spike_ids,
                                                      const int* spike_count, uint64_t warp,
                                                      uint64_t warps) {
    const uint32_t first = *pj.step;
    const uint32_t base = first % pj.slots;  // the window's first step's slot
    const uint64_t items = static_cast<uint64_t>(*spike_count) * pj.row_chunks;
    const int lane = threadIdx.x & 31;
    const bool triplet = pj.plastic && pj.stdp.rule == model::StdpRule::triplet;
    unsigned long long events = 0;
    for (uint64_t it = warp; it < items; it += warps) {
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
            model::RingCell* ring = pj.ring + t;
            auto deliver = [&](uint32_t j, float w) {
                uint32_t slot = at + j;  // the arrival step's slot: (first + delay + j) % slots
                while (slot >= pj.slots) slot -= pj.slots;
                atomicAdd(&ring[static_cast<uint64_t>(slot) * pj.n_tgt],
                          model::to_fixed(w, pj.fixed_per_ns));
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
__device__ __forceinline__ void potentiate_window_warp(const ProjView& pj, const uint32_t* post_ids,
                                                       const int* post_count, uint64_t warp,
                                                       uint64_t warps) {
    const uint32_t K = pj.in_degree;
    const uint32_t chunks = (K + kChunk - 1) / kChunk;
    const uint64_t items = static_cast<uint64_t>(*post_count) * chunks;
    const int lane = threadIdx.x & 31;
    const bool triplet = pj.stdp.rule == model::StdpRule::triplet;
    for (uint64_t it = warp; it < items; it += warps) {
        uint32_t q, chunk;
        split_item(it, chunks, &q, &chunk);
        const uint32_t t = post_ids[q];
        const uint32_t k0 = chunk * kChunk;
        const uint32_t k1 = k0 + kChunk < K ? k0 + kChunk : K;
        const uint32_t mt = pj.tgt_mask[t];
        const float y0 = pj.y[t], o20 = triplet ? pj.o2[t] : 0.0f;
        const model::SourcesOf source_of(pj.source, t);
        for (uint32_t k = k0 + lane; k < k1; k += 32) {
            const uint64_t r = static_cast<uint64_t>(t) * K + k;
            const uint32_t src = pj.rev_src ? pj.rev_src[r] : source_of(k);
            if (pj.src_mask[src] != 0u) continue;
            const uint32_t syn = pj.rev[r];
            const model::SynapseTraces tr{pj.x[src], 0.0f, y0, o20};
            pj.weight[syn] =
                model::stdp_window(pj.stdp, pj.weight[syn], 0u, mt, tr, [](uint32_t, float) {});
        }
    }
}

// This thread's warp in the launch, and the launch's warps.
__device__ __forceinline__ uint64_t grid_warp() {
    return (static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
}
__device__ __forceinline__ uint64_t grid_warps() {
    return (static_cast<uint64_t>(gridDim.x) * blockDim.x) >> 5;
}

__global__ void propagate(ProjView pj, const uint32_t* spike_ids, const int* spike_count) {
    propagate_warp(pj, spike_ids, spike_count, grid_warp(), grid_warps());
}

__global__ void potentiate(ProjView pj, const uint32_t* post_ids, const int* post_count) {
    potentiate_warp(pj, post_ids, post_count, grid_warp(), grid_warps());
}

__global__ void propagate_window(ProjView pj, const uint32_t* spike_ids, const int* spike_count) {
    propagate_window_warp(pj, spike_ids, spike_count, grid_warp(), grid_warps());
}

__global__ void potentiate_window(ProjView pj, const uint32_t* post_ids, const int* post_count) {
    potentiate_window_warp(pj, post_ids, post_count, grid_warp(), grid_warps());
}

// ---- packed replicas: one launch for the projections of many members (TaskList) ----

// This thread's task, its warp within the task's blocks and the task's warps.
struct TaskWarp {
    uint32_t t;
    uint64_t warp, warps;
};
__device__ __forceinline__ TaskWarp task_warp(const uint32_t* __restrict__ first, uint32_t count) {
    const uint32_t t = task_of(first, count, blockIdx.x);
    const uint32_t b = blockIdx.x - first[t], nb = first[t + 1] - first[t];
    return {t, (static_cast<uint64_t>(b) * blockDim.x + threadIdx.x) >> 5,
            (static_cast<uint64_t>(nb) * blockDim.x) >> 5};
}

// One kernel per stage, the stage a template argument (the same task lookup for each).
template <ProjStage kStage>
__global__ void proj_tasks(const ProjTask* __restrict__ task, const uint32_t* __restrict__ first,
                           uint32_t count) {
    const TaskWarp w = task_warp(first, count);
    const ProjTask& x = task[w.t];
    if constexpr (kStage == ProjStage::propagate) {
        propagate_warp(x.proj, x.pre_ids, x.pre_count, w.warp, w.warps);
    } else if constexpr (kStage == ProjStage::potentiate) {
        potentiate_warp(x.proj, x.post_ids, x.post_count, w.warp, w.warps);
    } else if constexpr (kStage == ProjStage::jump) {
        // The triplet rule's slow traces after potentiation: r2 of the sources and o2 of the
        // targets that spiked this step.
        const auto at = static_cast<uint32_t>(w.warp * 32 + (threadIdx.x & 31u));
        const auto threads = static_cast<uint32_t>(w.warps * 32);
        jump_slow(x.proj.r2, x.pre_ids, x.pre_count, at, threads);
        jump_slow(x.proj.o2, x.post_ids, x.post_count, at, threads);
    } else if constexpr (kStage == ProjStage::propagate_window) {
        propagate_window_warp(x.proj, x.pre_ids, x.pre_count, w.warp, w.warps);
    } else {
        potentiate_window_warp(x.proj, x.post_ids, x.post_count, w.warp, w.warps);
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

void proj_tasks(ProjStage stage, const TaskList<ProjTask>& l, cudaStream_t s) {
    switch (stage) {
        case ProjStage::propagate:
            launch_tasks(kernel::proj_tasks<ProjStage::propagate>, l, s);
            break;
        case ProjStage::potentiate:
            launch_tasks(kernel::proj_tasks<ProjStage::potentiate>, l, s);
            break;
        case ProjStage::jump:
            launch_tasks(kernel::proj_tasks<ProjStage::jump>, l, s);
            break;
        case ProjStage::propagate_window:
            launch_tasks(kernel::proj_tasks<ProjStage::propagate_window>, l, s);
            break;
        case ProjStage::potentiate_window:
            launch_tasks(kernel::proj_tasks<ProjStage::potentiate_window>, l, s);
            break;
    }
}

}  // namespace l5sim::cuda
