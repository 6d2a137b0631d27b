// Built when nvcc was not found at configure time: the CUDA entry points say so.
#include "l5sim/devices.hpp"
#include "l5sim/engine.hpp"
#include "l5sim/error.hpp"
#include "l5sim/network.hpp"
#include "l5sim/packed.hpp"

namespace l5sim {

bool cuda_built() { return false; }

std::vector<std::string> cuda_devices(std::string* why) {
    if (why) *why = "this l5sim was built without CUDA (nvcc not found at configure time)";
    return {};
}

double cuda_copy_bandwidth() { throw Error("this l5sim was built without CUDA"); }

bool cuda_available(std::string* why) {
    cuda_devices(why);
    return false;
}

std::unique_ptr<Engine> make_cuda_engine(const Config&) {
    throw Error(
        "--backend cuda: this l5sim was built without CUDA (nvcc not found at configure "
        "time); rebuild on a machine with the CUDA toolkit, or use --backend cpu");
}

std::unique_ptr<Engine> make_cuda_engine(const Config& cfg, Network, LocalCells) {
    return make_cuda_engine(cfg);  // throws: no CUDA in this build
}

uint64_t cuda_rank_bytes(const Config&, const Network&, const LocalCells&) { return 0; }

int cuda_use_device(int, int*) {
    make_cuda_engine(Config{});  // throws: no CUDA in this build
    return 0;
}

EnginePack make_cuda_pack(const std::vector<Config>& cfgs) {
    make_cuda_engine(cfgs.empty() ? Config{} : cfgs.front());  // throws: no CUDA in this build
    return {};
}

uint64_t cuda_member_bytes(const Config&) { return 0; }

uint64_t cuda_free_bytes() { return 0; }

}  // namespace l5sim
