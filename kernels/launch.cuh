#pragma once
// The one launch helper (STYLE.md, Kernels): grid from n, early return for n == 0, launch
// check, and a synchronising check after each launch (these checks run in tests).
#include <cuda_runtime.h>

#include <cstdint>

#include "check.cuh"

namespace l5sim::cuda {

inline constexpr int kBlock = 256;

template <class... KArgs, class... Args>
void launch(void (*k)(KArgs...), uint64_t n, Args&&... args) {
    if (n == 0) return;
    const uint64_t blocks = (n + kBlock - 1) / kBlock;
    k<<<static_cast<unsigned>(blocks), kBlock>>>(std::forward<Args>(args)...);
    L5_CUDA_CHECK(cudaGetLastError());
    L5_CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace l5sim::cuda
