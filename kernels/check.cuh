#pragma once
// One short check around a single CUDA call (STYLE.md, Errors).
#include <cuda_runtime.h>

#include <string>

#include "l5sim/error.hpp"

#define L5_CUDA_CHECK(call)                                             \
    do {                                                                \
        const cudaError_t l5_err_ = (call);                             \
        if (l5_err_ != cudaSuccess)                                     \
            throw ::l5sim::Error(std::string("CUDA: ") + #call + ": " + \
                                 cudaGetErrorString(l5_err_));          \
    } while (0)
