#pragma once
/// CUDA devices visible to this build (empty when built without CUDA or none is visible).
#include <string>
#include <vector>

namespace l5sim {
bool cuda_built();
std::vector<std::string> cuda_devices(std::string* why = nullptr);
/// Measured device-to-device copy bandwidth of device 0 in bytes/s (read + write counted).
double cuda_copy_bandwidth();
}  // namespace l5sim
