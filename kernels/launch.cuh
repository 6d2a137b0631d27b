#pragma once
// The one launch helper (STYLE.md, Kernels): grid from n, early return for n == 0, launch check,
// and (when L5SIM_CUDA_SYNC=1, as the tests set it) a synchronising check after each launch.
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "check.cuh"

namespace l5sim::cuda {

inline constexpr int kBlock = 256;

inline bool sync_after_launch() {
    static const bool on = [] {
        const char* v = std::getenv("L5SIM_CUDA_SYNC");
        return v && std::string(v) == "1";
    }();
    return on;
}

inline void check_launch(const char* name, cudaStream_t stream = 0) {
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        throw Error(std::string("CUDA: launch of ") + name + ": " + cudaGetErrorString(e));
    cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
    if (stream) L5_CUDA_CHECK(cudaStreamIsCapturing(stream, &capturing));
    if (sync_after_launch() && capturing == cudaStreamCaptureStatusNone) {
        // The launch's own stream, never the device: another thread's engine may be capturing a
        // graph on its stream (concurrent sweep replicas), and a device-wide synchronisation
        // is illegal then. Stream 0 is the legacy stream, which does not wait for the engines'
        // non-blocking streams.
        const cudaError_t s = cudaStreamSynchronize(stream);
        if (s != cudaSuccess)
            throw Error(std::string("CUDA: ") + name + ": " + cudaGetErrorString(s));
    }
}

/// One thread per item, on `stream`.
template <class... KArgs, class... Args>
void launch(void (*k)(KArgs...), cudaStream_t stream, uint64_t n, Args&&... args) {
    if (n == 0) return;
    const uint64_t blocks = (n + kBlock - 1) / kBlock;
    k<<<static_cast<unsigned>(blocks), kBlock, 0, stream>>>(std::forward<Args>(args)...);
    check_launch("kernel", stream);
}

/// `warps` warps in blocks of kBlock threads (for kernels that give a warp to each item).
template <class... KArgs, class... Args>
void launch_warps(void (*k)(KArgs...), cudaStream_t stream, uint64_t warps, Args&&... args) {
    if (warps == 0) return;
    const uint64_t threads = warps * 32;
    const uint64_t blocks = (threads + kBlock - 1) / kBlock;
    k<<<static_cast<unsigned>(blocks), kBlock, 0, stream>>>(std::forward<Args>(args)...);
    check_launch("warp kernel", stream);
}

}  // namespace l5sim::cuda
