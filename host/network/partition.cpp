// The cell-to-rank map (l5sim/partition.hpp): contiguous ranges on the ring, torus tiles on the
// sheet; and what a rank's part of a projection subscribes to.
#include "l5sim/partition.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>

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

uint64_t count_cells_of(const Config& cfg, uint32_t pop, uint32_t rank, uint32_t ranks) {
    if (rank >= ranks)
        throw Error("cells_of: rank " + std::to_string(rank) + " of " + std::to_string(ranks));
    const uint32_t n = cfg.populations.at(pop).n;
    if (cfg.layout == Layout::ring)
        return uint64_t(n) * (rank + 1) / ranks - uint64_t(n) * rank / ranks;
    uint64_t count = 0;
    for (uint32_t c = 0; c < n; ++c) count += rank_of(cfg, pop, c, ranks) == rank;
    return count;
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
    for (uint32_t r = 0; r < part.rows(); ++r)
        if (part.row_ptr[r + 1] > part.row_ptr[r]) out.push_back(part.source_of_row(r));
    return out;
}

void set_source_rows(Connectivity* part, const std::vector<uint32_t>& sources) {
    Connectivity& c = *part;
    for (size_t i = 1; i < sources.size(); ++i)
        if (sources[i] <= sources[i - 1])
            throw Error("set_source_rows: the sources must be ascending ids");
    if (!sources.empty() && sources.back() >= c.n_src)
        throw Error("set_source_rows: source " + std::to_string(sources.back()) + " beyond " +
                    std::to_string(c.n_src));
    // Old row -> new row, walking both ascending lists.
    const uint32_t old_rows = c.rows();
    std::vector<uint32_t> to(old_rows);
    size_t k = 0;
    for (uint32_t r = 0; r < old_rows; ++r) {
        const uint32_t g = c.source_of_row(r);
        while (k < sources.size() && sources[k] < g) ++k;
        if (k == sources.size() || sources[k] != g) {
            if (c.row_ptr[r + 1] == c.row_ptr[r]) {  // an empty row may go
                to[r] = UINT32_MAX;
                continue;
            }
            throw Error("set_source_rows: source " + std::to_string(g) +
                        " has synapses in the part but is not among the rows given");
        }
        to[r] = static_cast<uint32_t>(k);
    }
    std::vector<uint64_t> row_ptr(sources.size() + 1, 0);
    for (uint32_t r = 0; r < old_rows; ++r)
        if (to[r] != UINT32_MAX) row_ptr[to[r] + 1] = c.row_ptr[r + 1] - c.row_ptr[r];
    for (size_t i = 0; i < sources.size(); ++i) row_ptr[i + 1] += row_ptr[i];
    for (auto& r : c.rev_src) r = to[r];
    c.row_ptr = std::move(row_ptr);
    // Every source cell (one rank, or a rank that needs them all): row s is cell s again.
    if (sources.size() == c.n_src) {
        c.src_gid.clear();
        c.src_gid.shrink_to_fit();
    } else {
        c.src_gid = sources;
    }
}

std::vector<std::vector<uint32_t>> set_rank_sources(const Config& cfg, LocalCells* cells,
                                                    Network* net) {
    const size_t pops = cfg.populations.size();
    if (cells->gid.size() != pops || net->projections.size() != cfg.projections.size())
        throw Error("set_rank_sources: one list of cells per population, one part per projection");
    std::vector<std::vector<uint32_t>> needs(pops);
    for (uint32_t j = 0; j < cfg.projections.size(); ++j) {
        auto& n = needs[cfg.projections[j].source];
        const auto subs = subscribed_sources(net->projections[j]);
        std::vector<uint32_t> merged;
        std::set_union(n.begin(), n.end(), subs.begin(), subs.end(), std::back_inserter(merged));
        n = std::move(merged);
    }
    cells->sources.assign(pops, {});
    for (size_t p = 0; p < pops; ++p)
        std::set_union(needs[p].begin(), needs[p].end(), cells->gid[p].begin(), cells->gid[p].end(),
                       std::back_inserter(cells->sources[p]));
    for (uint32_t j = 0; j < cfg.projections.size(); ++j)
        set_source_rows(&net->projections[j], cells->sources[cfg.projections[j].source]);
    return needs;
}

}  // namespace l5sim
