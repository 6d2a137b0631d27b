// The Engine interface's defaults (l5sim/engine.hpp).
#include "l5sim/engine.hpp"

#include "l5sim/error.hpp"

namespace l5sim {

// An engine that holds every cell (the CUDA engine) is not a rank of a distributed run.
void Engine::window_cells(int64_t, int64_t) {
    throw Error("the " + name() + " engine does not run distributed yet");
}
const WindowSpikes& Engine::window_spikes() const {
    throw Error("the " + name() + " engine does not run distributed yet");
}
void Engine::window_synapses(const WindowSpikes&) {
    throw Error("the " + name() + " engine does not run distributed yet");
}

void Engine::write_block_from(const StateBlock& b, int64_t step, const BlockSource& read) {
    std::vector<char> buf(b.bytes());
    read(buf.data(), buf.size());
    write_block(b, step, buf.data());
}

}  // namespace l5sim
