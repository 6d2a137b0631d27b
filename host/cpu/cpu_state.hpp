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
#include "l5sim/state_vars.hpp"

namespace l5sim::cpu {

struct PopulationState {
    uint32_t n = 0;
    bool has_dendrite = false;  // CellCaps
    bool adapts = false;
    model::IzhConstants soma{};
    model::DendriteConstants dend{};
    model::Coupling coupling = model::Coupling::stochastic;
    float adapt_increment = 0, adapt_decay = 1, adapt_E = -80;
    PopulationDrive drive{};
    // soma
    std::vector<float> v, u, g_ampa, g_nmda, g_nmda_bg, g_gaba, g_adapt, i_ext;
    std::vector<float> rem_soma;  // background: steps to the next input spike (model/poisson.hpp)
    // dendrite (has_dendrite only)
    std::vector<float> v_d, u_d, g_ampa_d, g_nmda_d, g_gaba_d, i_ext_d, gamma;
    std::vector<float> rem_dend;  // background of the dendrite
    std::vector<uint32_t> history;
    std::vector<uint8_t> burst;
    /// The float array of variable `v` (l5sim/state_vars.hpp), or null for the history and burst
    /// arrays (not floats). Empty where the population's type lacks the variable.
    std::vector<float>* floats(Var v) {
        switch (v) {
            case Var::v:
                return &this->v;
            case Var::u:
                return &u;
            case Var::g_ampa:
                return &g_ampa;
            case Var::g_nmda:
                return &g_nmda;
            case Var::g_nmda_bg:
                return &g_nmda_bg;
            case Var::g_gaba:
                return &g_gaba;
            case Var::g_adapt:
                return &g_adapt;
            case Var::i_ext:
                return &i_ext;
            case Var::rem_soma:
                return &rem_soma;
            case Var::v_d:
                return &v_d;
            case Var::u_d:
                return &u_d;
            case Var::g_ampa_d:
                return &g_ampa_d;
            case Var::g_nmda_d:
                return &g_nmda_d;
            case Var::g_gaba_d:
                return &g_gaba_d;
            case Var::i_ext_d:
                return &i_ext_d;
            case Var::gamma:
                return &gamma;
            case Var::rem_dend:
                return &rem_dend;
            case Var::history:
            case Var::burst:
                return nullptr;
        }
        return nullptr;
    }
    const std::vector<float>* floats(Var v) const {
        return const_cast<PopulationState*>(this)->floats(v);
    }
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
    float f_ampa = 0, f_nmda = 0, f_gaba = 0;  // receptor factor x gain
    double ampa = 0, nmda = 0, gaba = 0;       // receptor factors (config)
    uint32_t slots = 1;                        // ring size = max delay + 1
    std::vector<model::RingCell> ring;         // [slot][target], 32-bit fixed point
    float fixed_per_ns = 1, ns_per_fixed = 1;  // the ring's scale (2^e, 2^-e)
    bool plastic = false;
    model::StdpConstants stdp{};
    model::SourceRule source_rule{};  // recomputes the source of a reverse-index entry
    std::vector<float> x, r2;         // pre traces (per source cell)
    std::vector<float> y, o2;         // post traces (per target cell)
};

}  // namespace l5sim::cpu
