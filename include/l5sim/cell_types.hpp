#pragma once
/// The cell-type registry: one row per type (populations.<name>.type), holding its defaults and
/// what the type can do. The config reader, the resolved config, summary.json and
/// configs/README.md's "Cell types" tables come from these rows (scripts/plot.py colours by
/// type); the engines test the capabilities, never a type's name. docs/EXTENDING.md: adding a
/// type is adding a row.
#include <cstddef>
#include <string>
#include <string_view>

#include "l5sim/model/dendrite.hpp"
#include "l5sim/model/izhikevich.hpp"

namespace l5sim {

/// What a cell type can do; each capability brings its config keys, state and engine work.
struct CellCaps {
    /// The calcium dendrite (MODEL.md sections 3, 4): the `dendrite` and `coupling` keys,
    /// dendritic inputs, injections and background, the BAP window, plateaus and burst mode
    /// (`soma.c_burst_mV`, `soma.d_burst_pA`), the gamma knob; burst and calcium-triggered
    /// fractions are reported for it.
    bool has_dendrite = false;
    /// A spike-triggered adaptation conductance g_adapt (the `adaptation` keys; MODEL.md
    /// section 2). Without it g_adapt stays 0.
    bool adapts = false;
};

struct PoissonSource {
    double rate_hz = 0;
    double weight = 1;  // times 1 nS, added to AMPA and NMDA per input spike
};

struct AdaptationParams {
    double increment_nS = 0;  // g_adapt jump per somatic spike
    double tau_ms = 1;        // decay time constant
    double E_mV = -80;        // reversal potential
};

/// One row of the registry. Every default of a type is here and nowhere else.
struct CellTypeInfo {
    const char* name;         // populations.<name>.type
    const char* label;        // short name in tables and plots: PYR, PV, ...
    const char* description;  // one line: what the cell is
    const char* source;       // where its defaults come from (MODEL.md section, or the assumption)
    CellCaps caps;
    model::IzhParams soma;           // c_burst, d_burst: has_dendrite only
    model::DendriteParams dendrite;  // has_dendrite only
    bool stochastic_coupling;        // coupling.mode (has_dendrite only)
    double gamma;                    // coupling.gamma (has_dendrite only)
    AdaptationParams adaptation;     // adapts only
    PoissonSource background_soma;
    PoissonSource background_dendrite;  // has_dendrite only
};

/// The registered types (a range; C++17, as the CUDA sources that include this header are).
struct CellTypeList {
    const CellTypeInfo* first;
    std::size_t count;
    const CellTypeInfo* begin() const { return first; }
    const CellTypeInfo* end() const { return first + count; }
    std::size_t size() const { return count; }
};
/// Every registered type, in the order of configs/README.md.
CellTypeList cell_types();
/// The row of type `name`, or null.
const CellTypeInfo* find_cell_type(std::string_view name);
/// The row of type `name` (std::out_of_range if there is none).
const CellTypeInfo& cell_type(std::string_view name);
/// configs/README.md's "Cell types" tables (capabilities; every per-type default), generated
/// from the resolved config of one population of each type, so they show what the reader does.
std::string cell_types_markdown();

}  // namespace l5sim
