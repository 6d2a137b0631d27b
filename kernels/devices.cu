// Device discovery, and the CUDA engine entry points. The CUDA engine itself is issue 3: until
// it lands, --backend cuda says so plainly (exit code 1).
#include <cuda_runtime.h>

#include "check.cuh"
#include "l5sim/devices.hpp"
#include "l5sim/engine.hpp"

namespace l5sim {

bool cuda_built() { return true; }

std::vector<std::string> cuda_devices(std::string* why) {
    int n = 0;
    const cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
        if (why) *why = cudaGetErrorString(err);
        return {};
    }
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
        cudaDeviceProp p{};
        if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
        char buf[256];
        snprintf(buf, sizeof buf, "%s, sm_%d%d, %.1f GiB, %d SMs", p.name, p.major, p.minor,
                 p.totalGlobalMem / 1073741824.0, p.multiProcessorCount);
        out.emplace_back(buf);
    }
    if (out.empty() && why) *why = "no CUDA device visible";
    return out;
}

// The CUDA engine is not in this version, so no run can use a device yet.
bool cuda_available(std::string* why) {
    if (why) *why = "the CUDA engine is not implemented in this version";
    return false;
}

std::unique_ptr<Engine> make_cuda_engine(const Config&) {
    std::string why;
    const bool gpu = cuda_available(&why);
    throw Error(std::string("--backend cuda: the CUDA engine is not implemented in this version "
                            "(it is the next milestone); ") +
                (gpu ? "a device is visible, but" : "also: " + why + ";") +
                " use --backend cpu");
}

}  // namespace l5sim
