#pragma once
// Arrays in device memory for PopulationStore (l5sim/population_store.hpp): DeviceBuffer, copies
// on the engine's stream, the health scan as one Thrust reduction, probes as one gather.
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "device_buffer.cuh"
#include "l5sim/error.hpp"

namespace l5sim::cuda {

class DeviceStorage {
  public:
    template <class T>
    using Array = DeviceBuffer<T>;

    /// The stream every copy and scan is ordered on (the engine's, or its pack's).
    void set_stream(cudaStream_t s) { stream_ = s; }
    template <class T>
    Array<T> make(const std::vector<T>& values) const {
        return DeviceBuffer<T>(values);
    }
    void to_host(void* dst, const void* src, size_t bytes) const {
        if (!bytes) return;
        L5_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
        L5_CUDA_CHECK(cudaStreamSynchronize(stream_));
    }
    void from_host(void* dst, const void* src, size_t bytes) const {
        if (!bytes) return;
        L5_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
        L5_CUDA_CHECK(cudaStreamSynchronize(stream_));
    }
    /// The lowest j * n + i with a[j][i] NaN or infinite, or ~0ull: one reduction over all k
    /// arrays (thrust::transform_reduce), one copy back.
    uint64_t first_nonfinite(const float* const* a, size_t k, uint32_t n) const;
    /// out[k] = src[cells[k]]: the cell list uploaded once while it stays the same, one gather,
    /// one copy back.
    void gather(const float* src, const std::vector<uint32_t>& cells, float* out) const;
    void gather(const uint8_t* src, const std::vector<uint32_t>& cells, float* out) const;

  private:
    const uint32_t* upload_cells(const std::vector<uint32_t>& cells) const;
    cudaStream_t stream_ = nullptr;
    // Probe scratch (the store's readers are const: these are caches).
    mutable std::vector<uint32_t> cells_host_;
    mutable DeviceBuffer<uint32_t> cells_;
    mutable DeviceBuffer<float> out_;
};

}  // namespace l5sim::cuda
