#pragma once
// Packed replicas (l5sim/packed.hpp): a fused launch covers the blocks of many tasks (the
// populations or projections of many members); task t owns blocks [first[t], first[t + 1]).
#include <cstdint>

#include "engine_views.hpp"
#include "launch.cuh"

namespace l5sim::cuda {

/// One launch of `k(tasks, first, count, args...)` over every block of the list (nothing when
/// it is empty).
template <class Task, class... KArgs, class... Args>
void launch_tasks(void (*k)(KArgs...), const TaskList<Task>& l, cudaStream_t stream, Args... args) {
    if (l.count == 0 || l.blocks == 0) return;
    k<<<l.blocks, kBlock, 0, stream>>>(l.task, l.first, l.count, args...);
    check_launch("packed kernel", stream);
}

}  // namespace l5sim::cuda
