// The Engine interface's defaults (l5sim/engine.hpp).
#include "l5sim/engine.hpp"

#include "l5sim/error.hpp"

namespace l5sim {

// An engine that holds every cell (the CUDA engine; the CPU engine without LocalCells) is not a
// rank of a distributed run.
std::vector<uint32_t> Engine::local_spike_gids(uint32_t) const {
    throw Error("the " + name() + " engine does not run distributed yet");
}
void Engine::set_all_spikes(uint32_t, const std::vector<uint32_t>&) {
    throw Error("the " + name() + " engine does not run distributed yet");
}

}  // namespace l5sim
