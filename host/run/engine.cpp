// The Engine interface's defaults (l5sim/engine.hpp).
#include "l5sim/engine.hpp"

#include <algorithm>

#include "l5sim/error.hpp"

namespace l5sim {

void check_window_spikes(const Config& cfg, const WindowSpikes& all, int64_t first, int64_t steps) {
    if (all.first != first || all.steps != steps || all.ids.size() != cfg.populations.size() ||
        all.start.size() != cfg.populations.size())
        throw Error("window_synapses: the spikes of steps " + std::to_string(all.first) + " + " +
                    std::to_string(all.steps) + ", the window was " + std::to_string(first) +
                    " + " + std::to_string(steps));
    for (uint32_t p = 0; p < cfg.populations.size(); ++p) {
        const auto& c = cfg.populations[p];
        const auto& start = all.start[p];
        if (start.size() != static_cast<size_t>(steps) + 1 || start.front() != 0 ||
            start.back() != all.ids[p].size() || !std::is_sorted(start.begin(), start.end()))
            throw Error("window_synapses: malformed spikes of " + c.name);
        for (const uint32_t g : all.ids[p])
            if (g >= c.n)
                throw Error("window_synapses: cell " + std::to_string(g) + " of " + c.name +
                            " beyond its " + std::to_string(c.n));
    }
}

void check_local_ids(const Config& cfg, uint32_t pop, const std::vector<uint32_t>& ids,
                     const char* what) {
    const auto& c = cfg.populations.at(pop);
    for (size_t i = 0; i < ids.size(); ++i)
        if (ids[i] >= c.n || (i > 0 && ids[i] <= ids[i - 1]))
            throw Error(std::string("LocalCells: the ") + what + " of " + c.name +
                        " must be ascending ids below " + std::to_string(c.n));
}

std::vector<float> values_of_cells(const std::vector<uint32_t>& gid, uint32_t n,
                                   const std::vector<float>& all) {
    if (all.size() != n) return all;
    std::vector<float> out(gid.size());
    for (size_t i = 0; i < gid.size(); ++i) out[i] = all[gid[i]];
    return out;
}

// An engine that holds every cell is not a rank of a distributed run.
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

void Engine::read_block_to(const StateBlock& b, int64_t step, const BlockSink& write) const {
    std::vector<char> buf(b.bytes());
    read_block(b, step, buf.data());
    write(buf.data(), buf.size());
}

}  // namespace l5sim
