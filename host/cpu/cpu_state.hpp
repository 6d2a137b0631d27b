#pragma once
// Structure-of-arrays state of the CPU engine (one vector per variable per population).
#include <cstdint>
#include <vector>

#include "l5sim/config.hpp"
#include "l5sim/engine.hpp"
#include "l5sim/model/connectivity.hpp"
#include "l5sim/model/dendrite.hpp"
#include "l5sim/model/izhikevich.hpp"
#include "l5sim/model/stdp.hpp"
#include "l5sim/model/synapse.hpp"
#include "l5sim/population_store.hpp"
#include "l5sim/state_vars.hpp"

namespace l5sim::cpu {

/// The CPU engine's one storage object (plain host copies).
inline constexpr HostStorage kHostStorage{};

struct PopulationState {
    uint32_t n = 0;
    bool has_dendrite = false;  // CellCaps
    bool adapts = false;
    model::IzhConstants soma{};
    model::DendriteConstants dend{};
    model::Coupling coupling = model::Coupling::stochastic;
    float adapt_increment = 0, adapt_decay = 1, adapt_E = -80;
    PopulationDrive drive{};
    // The per-cell state variables (l5sim/state_vars.hpp), allocated and started by the store.
    PopulationStore<HostStorage> st;
    // A rank's population (LocalCells): the global id of each cell (empty: one process, the
    // index is the id), the population's size over all ranks, the source cells it holds rows
    // and presynaptic traces of (LocalCells::sources), and this step's spikes among them (as
    // rows, window_synapses) with their mask (sources of plastic projections).
    std::vector<uint32_t> gid;
    uint32_t n_global = 0;
    std::vector<uint32_t> src_gid;
    std::vector<uint32_t> all_spikes;
    std::vector<uint8_t> all_spiked;
    // this step
    std::vector<uint8_t> spiked;
    std::vector<uint32_t> spike_ids;
    SpikeRecord record;  // since the last take_spikes
    uint64_t spike_count = 0;
    uint64_t calcium_spikes = 0;
};

struct ProjectionState {
    uint32_t source = 0, target = 0;
    Compartment compartment = Compartment::soma;
    float factor[model::kReceptorCount] = {};              // receptor factor x gain
    std::array<double, model::kReceptorCount> receptor{};  // receptor factors (config)
    uint32_t slots = 1;                                    // ring size = max delay + 1
    std::vector<model::RingCell> ring;                     // [slot][target], 32-bit fixed point
    float fixed_per_ns = 1, ns_per_fixed = 1;              // the ring's scale (2^e, 2^-e)
    bool plastic = false;
    model::StdpConstants stdp{};
    model::SourceRule source_rule{};  // recomputes the source of a reverse-index entry
    std::vector<float> x, r2;         // pre traces (per source cell; a rank's: per row)
    std::vector<float> y, o2;         // post traces (per target cell)
};

}  // namespace l5sim::cpu
