#pragma once
/// CUDA devices visible to this build (empty when built without CUDA or none is visible).
#include <string>
#include <vector>

namespace l5sim {
bool cuda_built();
std::vector<std::string> cuda_devices(std::string* why = nullptr);
}  // namespace l5sim
