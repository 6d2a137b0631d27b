// DeviceStorage's scans and gathers (device_storage.cuh).
#include <thrust/execution_policy.h>
#include <thrust/functional.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/transform_reduce.h>

#include <exception>
#include <string>

#include "device_storage.cuh"
#include "l5sim/state_vars.hpp"
#include "launch.cuh"

namespace l5sim::cuda {

namespace {

// The arrays a health scan reads: at most one per variable of the state table.
struct Arrays {
    const float* a[kVarCount];
};

// Flat index j * n + i of a non-finite value, else the reduction's identity.
struct NonfiniteIndex {
    Arrays arrays;
    uint32_t n;
    __device__ unsigned long long operator()(unsigned long long idx) const {
        const auto j = static_cast<uint32_t>(idx / n);
        const auto i = static_cast<uint32_t>(idx - static_cast<unsigned long long>(j) * n);
        return isfinite(arrays.a[j][i]) ? ~0ull : idx;
    }
};

template <class T>
__global__ void gather_kernel(const T* src, const uint32_t* cells, uint32_t n, float* out) {
    const uint32_t k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k < n) out[k] = static_cast<float>(src[cells[k]]);
}

}  // namespace

uint64_t DeviceStorage::first_nonfinite(const float* const* a, size_t k, uint32_t n) const {
    if (k == 0 || n == 0) return ~0ull;
    if (k > static_cast<size_t>(kVarCount))
        throw Error("health scan: more arrays than the state table has variables");
    NonfiniteIndex f{{}, n};
    for (size_t j = 0; j < k; ++j) f.arrays.a[j] = a[j];
    const unsigned long long total = static_cast<unsigned long long>(k) * n;
    try {
        return thrust::transform_reduce(thrust::cuda::par.on(stream_),
                                        thrust::counting_iterator<unsigned long long>(0),
                                        thrust::counting_iterator<unsigned long long>(total), f,
                                        ~0ull, thrust::minimum<unsigned long long>());
    } catch (const std::exception& e) {  // thrust::system_error
        throw Error(std::string("CUDA: health scan: ") + e.what());
    }
}

const uint32_t* DeviceStorage::upload_cells(const std::vector<uint32_t>& cells) const {
    if (cells_host_ != cells) {
        cells_ = DeviceBuffer<uint32_t>(cells);
        cells_host_ = cells;
    }
    if (out_.size() < cells.size()) out_ = DeviceBuffer<float>(cells.size());
    return cells_.data();
}

void DeviceStorage::gather(const float* src, const std::vector<uint32_t>& cells, float* out) const {
    const auto n = static_cast<uint32_t>(cells.size());
    if (!n) return;
    launch(gather_kernel<float>, stream_, n, src, upload_cells(cells), n, out_.data());
    to_host(out, out_.data(), n * sizeof(float));
}

void DeviceStorage::gather(const uint8_t* src, const std::vector<uint32_t>& cells,
                           float* out) const {
    const auto n = static_cast<uint32_t>(cells.size());
    if (!n) return;
    launch(gather_kernel<uint8_t>, stream_, n, src, upload_cells(cells), n, out_.data());
    to_host(out, out_.data(), n * sizeof(float));
}

}  // namespace l5sim::cuda
