// The cell-to-rank map (l5sim/partition.hpp): contiguous ranges on the ring, torus tiles on the
// sheet; and what a rank's part of a projection subscribes to.
#include "l5sim/partition.hpp"

#include <cmath>

#include "l5sim/error.hpp"
#include "l5sim/model/connectivity.hpp"
#include "l5sim/model/rng.hpp"

namespace l5sim {

void rank_grid(uint32_t ranks, uint32_t* rx, uint32_t* ry) {
    if (ranks == 0) throw Error("a partition needs at least one rank");
    uint32_t best = 1;
    for (uint32_t d = 1; uint64_t(d) * d <= ranks; ++d)
        if (ranks % d == 0) best = d;
    *rx = best;
    *ry = ranks / best;
}

uint32_t rank_of(const Config& cfg, uint32_t pop, uint32_t cell, uint32_t ranks) {
    const uint32_t n = cfg.populations.at(pop).n;
    if (ranks == 0 || cell >= n) throw Error("rank_of: cell or rank count out of range");
    if (cfg.layout == Layout::ring) {
        // Rank r owns [floor(n r / R), floor(n (r + 1) / R)).
        auto r = static_cast<uint32_t>(uint64_t(cell) * ranks / n);
        while (uint64_t(n) * (r + 1) / ranks <= cell) ++r;
        while (uint64_t(n) * r / ranks > cell) --r;
        return r;
    }
    // The sheet: the tile holding the cell's position (sheet_position: the grid, or the jittered
    // grid), rx columns over x, ry rows over y.
    uint32_t rx = 1, ry = 1;
    rank_grid(ranks, &rx, &ry);
    const uint32_t side = grid_side(n);
    float x = 0, y = 0;
    model::sheet_position(cfg.seed, model::stream_id(model::StreamKind::positions, pop), cell, side,
                          cfg.sheet.positions == "jittered" ? 1.0f : 0.0f, &x, &y);
    const auto col = std::min<uint32_t>(rx - 1, static_cast<uint32_t>(x * float(rx)));
    const auto row = std::min<uint32_t>(ry - 1, static_cast<uint32_t>(y * float(ry)));
    return row * rx + col;
}

std::vector<uint32_t> cells_of(const Config& cfg, uint32_t pop, uint32_t rank, uint32_t ranks) {
    if (rank >= ranks)
        throw Error("cells_of: rank " + std::to_string(rank) + " of " + std::to_string(ranks));
    const uint32_t n = cfg.populations.at(pop).n;
    std::vector<uint32_t> out;
    if (cfg.layout == Layout::ring) {
        const auto b = static_cast<uint32_t>(uint64_t(n) * rank / ranks);
        const auto e = static_cast<uint32_t>(uint64_t(n) * (rank + 1) / ranks);
        for (uint32_t c = b; c < e; ++c) out.push_back(c);
        return out;
    }
    for (uint32_t c = 0; c < n; ++c)
        if (rank_of(cfg, pop, c, ranks) == rank) out.push_back(c);
    return out;
}

std::vector<uint32_t> subscribed_sources(const Connectivity& part) {
    std::vector<uint32_t> out;
    for (uint32_t s = 0; s < part.n_src; ++s)
        if (part.row_ptr[s + 1] > part.row_ptr[s]) out.push_back(s);
    return out;
}

}  // namespace l5sim
