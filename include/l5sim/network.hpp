#pragma once
/// The connectivity of a configured network: one CSR (by presynaptic cell) per projection, with
/// a reverse index for plastic projections. Built on the host (OpenMP) from the same model
/// functions the CUDA engine uses, so both engines hold the identical network.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "l5sim/config.hpp"
#include "l5sim/model/connectivity.hpp"

namespace l5sim {

struct Connectivity {
    uint32_t n_src = 0, n_tgt = 0;
    uint32_t in_degree = 0;  // every target has exactly this many synapses
    uint32_t max_delay_steps = 0;
    float w_max = 0;                // STDP upper bound (plastic projections)
    float w_init_max = 0;           // largest initial weight
    int fixed_exponent = 0;         // delay ring scale: 2^fixed_exponent units per nS
    std::vector<uint64_t> row_ptr;  // rows() + 1
    // The source cell of each row (ascending global ids): a rank's part has rows only for the
    // sources it holds (build_projection_part, set_source_rows), so that its memory falls with
    // the rank count. Empty: one row per source cell, row s = cell s (the whole projection).
    std::vector<uint32_t> src_gid;
    std::vector<uint32_t> target;   // per synapse
    std::vector<float> weight;      // per synapse, nS (times the receptor factors)
    std::vector<uint8_t> delay;     // per synapse, whole steps
    std::vector<uint32_t> rev;      // plastic only: rev[t * in_degree + k] = synapse id
    std::vector<uint32_t> rev_src;  // plastic only: the row (source) of rev[t * in_degree + k]
                                    // (the CPU engine's; the CUDA engine recomputes it)

    uint64_t size() const { return target.size(); }
    /// Rows of the CSR (n_src for a whole projection, src_gid.size() for a part).
    uint32_t rows() const {
        return static_cast<uint32_t>(row_ptr.empty() ? 0 : row_ptr.size() - 1);
    }
    /// The global id of the source cell of row r.
    uint32_t source_of_row(uint32_t r) const { return src_gid.empty() ? r : src_gid[r]; }
    /// Whether the rows are exactly the sources `held` (ascending global ids), in order.
    bool has_rows(const std::vector<uint32_t>& held) const {
        if (rows() != held.size()) return false;
        for (uint32_t r = 0; r < rows(); ++r)
            if (source_of_row(r) != held[r]) return false;
        return true;
    }
    /// Bytes held, everything included (row pointers and row sources too: a rank's part
    /// without synapses still holds its rows).
    uint64_t bytes() const;
    /// bytes() per synapse (0 without synapses).
    double bytes_per_synapse() const;
};

struct Network {
    std::vector<Connectivity> projections;  // same order as Config::projections
    uint64_t synapses() const;
    uint64_t bytes() const;
};

/// Total dense-ring input a target receives (sum of A g(d) over a ring of n sources).
double dense_ring_total(double A, double sigma, uint32_t n_sources, bool exclude_self);

/// Build every projection of `cfg`.
Network build_network(const Config& cfg);
/// Build projection j alone.
Connectivity build_projection(const Config& cfg, uint32_t j);
/// The side of the square grid that holds n cells on the sheet (ceil(sqrt(n))).
uint32_t grid_side(uint32_t n);
/// The sparse-draw parameters of sheet projection j (the same for every engine).
model::SheetDraw sheet_draw_params(const Config& cfg, uint32_t j);
/// How post-side STDP finds the source of input k of a target of projection j.
model::SourceRule source_rule(const Config& cfg, uint32_t j);
/// The per-synapse weight of a sparse projection (dense reference total / K).
float sparse_weight(const ProjectionConfig& p);
/// STDP upper bound of a projection given its largest initial weight.
float stdp_w_max(const ProjectionConfig& p, float w_init_max);

/// The fixed-point exponent e of a projection's delay ring (2^e units per nS): the finest scale,
/// at most 2^model::kMaxFixedExponent, at which the most input one target cell can receive in
/// one step (all `in_degree` of its synapses arriving together, each at `w_peak`, the largest
/// weight a synapse of the projection can hold) fits in 31 bits. Both engines derive it from
/// the same numbers, so they quantise alike. Error when even 1 unit per nS would not fit.
/// `where` names the projection in the error ("file:line:column: projections.NAME").
int ring_fixed_exponent(const std::string& where, uint32_t in_degree, float w_peak);

/// Synapses projection `p` will have (known before building it).
uint64_t projection_synapses(const Config& cfg, const ProjectionConfig& p);
/// Upper bound of a projection's delay-ring slots (longest possible delay + 1), before building.
uint64_t max_ring_slots(const Config& cfg, const ProjectionConfig& p);

/// Memory the CPU engine will need for `cfg` (connectivity + state + ring buffers), in bytes,
/// estimated before anything is allocated.
uint64_t estimate_bytes(const Config& cfg);
/// The same for a rank of a distributed run holding `cells[p]` cells of each population p
/// (their state, incoming synapses and rings; rows and presynaptic traces for at most its own
/// cells plus one source per synapse, never more than the population), before building.
uint64_t estimate_rank_bytes(const Config& cfg, const std::vector<uint64_t>& cells);
/// Host memory this process may still use, bytes: the least of MemAvailable (/proc/meminfo),
/// what RLIMIT_AS (ulimit -v) leaves of the address space, and what the process's cgroup
/// memory limit (memory.max) leaves; 0 when unknown. `address_space` false: without the
/// RLIMIT_AS bound (what the processes of a node share: MemAvailable and the cgroup).
uint64_t host_available_bytes(bool address_space = true);

}  // namespace l5sim
