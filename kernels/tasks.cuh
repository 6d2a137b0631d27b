#pragma once
// Packed replicas (l5sim/packed.hpp): a fused launch covers the blocks of many tasks (the
// populations or projections of many members); task t owns blocks [first[t], first[t + 1]).
#include <cstdint>

#include "engine_views.hpp"
#include "launch.cuh"

namespace l5sim::cuda {

namespace kernel {

// The task that owns block b: the last t with first[t] <= b (first[0] = 0).
__device__ __forceinline__ uint32_t task_of(const uint32_t* __restrict__ first, uint32_t count,
                                            uint32_t b) {
    uint32_t lo = 0, hi = count;
    while (hi - lo > 1) {
        const uint32_t mid = (lo + hi) >> 1;
        if (first[mid] <= b) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

}  // namespace kernel

/// One launch of `k(tasks, first, count, args...)` over every block of the list (nothing when
/// it is empty).
template <class Task, class... KArgs, class... Args>
void launch_tasks(void (*k)(KArgs...), const TaskList<Task>& l, cudaStream_t stream,
                  Args... args) {
    if (l.count == 0 || l.blocks == 0) return;
    k<<<l.blocks, kBlock, 0, stream>>>(l.task, l.first, l.count, args...);
    check_launch("packed kernel", stream);
}

}  // namespace l5sim::cuda
