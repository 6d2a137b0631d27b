#pragma once
/// How a network is split over processes (docs/SCALING.md, issue 19): every population over the
/// ranks, a pure function of the config and the rank count, so that every rank computes the same
/// map without talking. On the ring, contiguous ranges of ids; on the sheet, tiles of the unit
/// torus (a grid of rx x ry tiles, rx * ry = ranks, as square as the rank count allows), so that
/// a cell's Gaussian neighbours mostly share its rank. A rank builds only the incoming synapses
/// of its own cells (build_projection_part), and asks the owners of their sources for their
/// spikes (subscriptions).
#include <cstdint>
#include <vector>

#include "l5sim/config.hpp"
#include "l5sim/engine.hpp"
#include "l5sim/network.hpp"

namespace l5sim {

/// The tile grid of `ranks` ranks on the sheet: rx columns x ry rows, rx <= ry, rx the largest
/// divisor of `ranks` not above its square root (a prime rank count gives 1 x ranks strips).
void rank_grid(uint32_t ranks, uint32_t* rx, uint32_t* ry);

/// The rank that owns cell `cell` of population `pop` among `ranks` ranks.
uint32_t rank_of(const Config& cfg, uint32_t pop, uint32_t cell, uint32_t ranks);

/// The cells of population `pop` that rank `rank` owns, ascending global ids.
std::vector<uint32_t> cells_of(const Config& cfg, uint32_t pop, uint32_t rank, uint32_t ranks);
/// How many: cells_of(...).size() without holding the list.
uint64_t count_cells_of(const Config& cfg, uint32_t pop, uint32_t rank, uint32_t ranks);

/// Projection j restricted to the synapses onto `targets` (global ids of its target population,
/// ascending): CSR by source with a row only for each source cell that has a synapse onto
/// `targets` (src_gid, ascending; O(synapses) memory, nothing over every source cell), `target`
/// holding local indices into `targets`, each row in the order of the full build (so the full
/// build is the rows of all ranks merged by global target). Drawn from the same per-target
/// functions as build_projection. n_tgt is targets.size(). w_init_max and max_delay_steps are the
/// part's own: the ring's fixed-point scale and the STDP bound must come from the whole
/// projection's (set_global_bounds with the largest w_init_max over the ranks), or ranks would
/// quantise apart.
Connectivity build_projection_part(const Config& cfg, uint32_t j,
                                   const std::vector<uint32_t>& targets);

/// Sets w_max and the ring's fixed exponent of a part from the whole projection's largest
/// initial weight (the maximum of every rank's w_init_max), as build_projection sets them.
void set_global_bounds(const Config& cfg, uint32_t j, float w_init_max, Connectivity* part);

/// The sources a part needs spikes of (global ids, ascending): those whose row is not empty.
std::vector<uint32_t> subscribed_sources(const Connectivity& part);

/// Re-rows a part over `sources` (ascending global ids of its source population, holding every
/// source with a synapse in the part): one row per entry, empty for sources without synapses;
/// rev_src follows. A rank gives every part from a population the same rows (its cells and the
/// sources it subscribes to), which then index its presynaptic traces too. Rows over every
/// source cell keep no src_gid (row s is cell s). An Error when `sources` is not ascending or
/// lacks a source of the part.
void set_source_rows(Connectivity* part, const std::vector<uint32_t>& sources);

/// A rank's rows (make_rank_cpu_engine): per population, its own cells (cells->gid) and the
/// sources its parts need (subscribed_sources, merged over the parts from the population), kept
/// in cells->sources and given to every part of `net` from that population (set_source_rows).
/// Returns the needed sources per population (ascending; what the rank subscribes to).
std::vector<std::vector<uint32_t>> set_rank_sources(const Config& cfg, LocalCells* cells,
                                                    Network* net);

}  // namespace l5sim

namespace l5sim {

struct SpikeTrain;

/// What one rank of a partition would hold (bytes as the CPU engine holds them).
struct RankLoad {
    std::vector<uint32_t> cells;      // per population
    uint64_t synapses = 0;            // incoming synapses of its cells
    uint64_t local_inputs = 0;        // of which from cells it owns
    uint64_t connectivity_bytes = 0;  // its parts: row pointers, targets, weights, delays, reverse
    uint64_t row_index_bytes = 0;     // of which row pointers and row sources (held sources)
    uint64_t state_bytes = 0;         // per-cell state of its cells, their delay rings, post traces
    uint64_t pre_trace_bytes = 0;     // pre traces of the held sources of plastic projections
    uint64_t subscribed = 0;          // cells of other ranks it needs the spikes of
    uint64_t held_sources = 0;        // source rows it holds (own cells + subscribed), all pops
};

/// What the ranks would send each other, from a run's spikes: per window of `window_steps`
/// (the shortest delay, at least 1 step), each spike (cell id and step: 8 bytes) sent to every
/// other rank that subscribes to its cell (sparse), or to every other rank (allgather).
struct ExchangeLoad {
    int64_t window_steps = 1;
    uint64_t windows = 0;
    std::vector<double> sparse_mean, allgather_mean;  // bytes sent per window, per rank
    std::vector<uint64_t> sparse_max, allgather_max;
};

struct PartitionReport {
    uint32_t ranks = 1;
    std::vector<RankLoad> rank;
    int64_t min_delay_steps = 0;
    bool has_exchange = false;
    ExchangeLoad exchange;
};

/// Builds every rank's parts one after another (never more than one rank's at a time) and
/// measures them; with `spikes` (a run of the same config: read_spike_file), the exchange too.
PartitionReport partition_report(const Config& cfg, uint32_t ranks,
                                 const std::vector<SpikeTrain>* spikes);

}  // namespace l5sim
