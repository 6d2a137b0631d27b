#pragma once
// The one owner of device memory (DESIGN.md section 3): move-only, no managed memory; and its
// page-locked host counterpart for copies that must not synchronise.
#include <cuda_runtime.h>

#include <cstddef>
#include <vector>

#include "check.cuh"

namespace l5sim::cuda {

// `n` elements of T from `Alloc`, returned to `Free`: move-only.
template <class T, cudaError_t (*Alloc)(void**, size_t), cudaError_t (*Free)(void*)>
class CudaArray {
  public:
    CudaArray() = default;
    explicit CudaArray(size_t n) : n_(n) {
        if (n_) L5_CUDA_CHECK(Alloc(reinterpret_cast<void**>(&p_), n_ * sizeof(T)));
    }
    CudaArray(CudaArray&& o) noexcept : p_(o.p_), n_(o.n_) {
        o.p_ = nullptr;
        o.n_ = 0;
    }
    CudaArray& operator=(CudaArray&& o) noexcept {
        if (this != &o) {
            release();
            p_ = o.p_;
            n_ = o.n_;
            o.p_ = nullptr;
            o.n_ = 0;
        }
        return *this;
    }
    CudaArray(const CudaArray&) = delete;
    CudaArray& operator=(const CudaArray&) = delete;
    ~CudaArray() { release(); }

    T* data() { return p_; }
    const T* data() const { return p_; }
    size_t size() const { return n_; }

  protected:
    void release() {
        if (p_) Free(p_);
        p_ = nullptr;
    }
    T* p_ = nullptr;
    size_t n_ = 0;
};

inline cudaError_t device_alloc(void** p, size_t bytes) { return cudaMalloc(p, bytes); }
inline cudaError_t device_free(void* p) { return cudaFree(p); }
inline cudaError_t pinned_alloc(void** p, size_t bytes) { return cudaMallocHost(p, bytes); }
inline cudaError_t pinned_free(void* p) { return cudaFreeHost(p); }

template <class T>
class DeviceBuffer : public CudaArray<T, device_alloc, device_free> {
    using Base = CudaArray<T, device_alloc, device_free>;

  public:
    DeviceBuffer() = default;
    explicit DeviceBuffer(size_t n) : Base(n) {}
    explicit DeviceBuffer(const std::vector<T>& host) : Base(host.size()) {
        if (this->n_)
            L5_CUDA_CHECK(
                cudaMemcpy(this->p_, host.data(), this->n_ * sizeof(T), cudaMemcpyHostToDevice));
    }
    std::vector<T> to_host() const {
        std::vector<T> h(this->n_);
        if (this->n_)
            L5_CUDA_CHECK(
                cudaMemcpy(h.data(), this->p_, this->n_ * sizeof(T), cudaMemcpyDeviceToHost));
        return h;
    }
};

/// Page-locked host memory (cudaMallocHost): copies to and from it are truly asynchronous on
/// their stream, so a host buffer used for every window costs no synchronisation of its own.
template <class T>
class PinnedBuffer : public CudaArray<T, pinned_alloc, pinned_free> {
    using Base = CudaArray<T, pinned_alloc, pinned_free>;

  public:
    PinnedBuffer() = default;
    explicit PinnedBuffer(size_t n) : Base(n) {}
    T& operator[](size_t i) { return this->p_[i]; }
    const T& operator[](size_t i) const { return this->p_[i]; }
};

}  // namespace l5sim::cuda
