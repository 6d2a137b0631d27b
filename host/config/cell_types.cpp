// The cell-type registry (l5sim/cell_types.hpp): one row per type, every default of a type in
// its row, written with designated initialisers. Adding a type is adding a row here, a line in
// docs/MODEL.md saying where its numbers come from, and regenerating configs/README.md's table
// (docs/EXTENDING.md).
#include "l5sim/cell_types.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <vector>

#include "l5sim/config.hpp"

namespace l5sim {

namespace {

// MODEL.md section 3: the PYR apical dendrite. Reused by any type with a dendrite unless its row
// says otherwise.
constexpr model::DendriteParams kPyramidalDendrite{
    .C_d = 170,
    .g_Ld = 170.0 / 7.0,
    .E_Ld = -70,
    .g_Ca = 1200,
    .E_half = -38,
    .D = 6,
    .a_d = 1.0 / 30.0,
    .b_d = -13,
    .p_bap = 2600,
    .theta_ca = -30,
    .bap_delay_steps = 5,
    .bap_last_steps = 25,
};

// Interneurons have none; the reader never reads these (no has_dendrite), but a row is complete.
constexpr model::DendriteParams kNoDendrite = kPyramidalDendrite;

const CellTypeInfo kCellTypes[] = {
    {
        .name = "pyramidal",
        .label = "PYR",
        .description = "two-compartment layer-5 pyramidal cell: Izhikevich soma, calcium-spiking "
                       "apical dendrite, burst mode during plateaus, spike-triggered adaptation",
        .source = "MODEL.md sections 2-4, 6",
        .caps = {.has_dendrite = true, .adapts = true},
        .soma = {.C = 150,
                 .k = 2.5,
                 .v_r = -75,
                 .v_t = -45,
                 .v_peak = 50,
                 .a = 0.01,
                 .b = 5,
                 .c = -65,
                 .d = 250,
                 .c_burst = -55,
                 .d_burst = 150},
        .dendrite = kPyramidalDendrite,
        .stochastic_coupling = true,
        .gamma = 0.5,
        .adaptation = {.increment_nS = 0.065, .tau_ms = 2000, .E_mV = -80},
        .background_soma = {.rate_hz = 600, .weight = 1},
        .background_dendrite = {.rate_hz = 50, .weight = 1},
    },
    {
        .name = "pv",
        .label = "PV",
        .description = "parvalbumin basket cell (fast spiking); inhibits somata",
        .source = "MODEL.md section 2",
        .caps = {.has_dendrite = false, .adapts = false},
        .soma = {.C = 20,
                 .k = 1,
                 .v_r = -55,
                 .v_t = -40,
                 .v_peak = 25,
                 .a = 0.15,
                 .b = 8,
                 .c = -55,
                 .d = 200,
                 .c_burst = -55,
                 .d_burst = 200},
        .dendrite = kNoDendrite,
        .stochastic_coupling = true,
        .gamma = 0,
        .adaptation = {},
        .background_soma = {.rate_hz = 600, .weight = 0.02},
        .background_dendrite = {.rate_hz = 0, .weight = 0},
    },
    {
        .name = "som",
        .label = "SOM",
        .description = "somatostatin Martinotti cell (low-threshold spiking); inhibits apical "
                       "dendrites",
        .source = "MODEL.md section 2 (assumed there)",
        .caps = {.has_dendrite = false, .adapts = false},
        .soma = {.C = 100,
                 .k = 1,
                 .v_r = -56,
                 .v_t = -42,
                 .v_peak = 40,
                 .a = 0.03,
                 .b = 8,
                 .c = -53,
                 .d = 20,
                 .c_burst = -53,
                 .d_burst = 20},
        .dendrite = kNoDendrite,
        .stochastic_coupling = true,
        .gamma = 0,
        .adaptation = {},
        .background_soma = {.rate_hz = 600, .weight = 0.02},
        .background_dendrite = {.rate_hz = 0, .weight = 0},
    },
    {
        .name = "vip",
        .label = "VIP",
        .description = "vasoactive-intestinal-peptide interneuron (adapting, high input "
                       "resistance); inhibits SOM cells, disinhibiting PYR dendrites",
        .source = "docs/MODEL.md section 13 (an extension; assumed values)",
        .caps = {.has_dendrite = false, .adapts = true},
        .soma = {.C = 60,
                 .k = 0.2,
                 .v_r = -65,
                 .v_t = -45,
                 .v_peak = 30,
                 .a = 0.03,
                 .b = 0.5,
                 .c = -55,
                 .d = 20,
                 .c_burst = -55,
                 .d_burst = 20},
        .dendrite = kNoDendrite,
        .stochastic_coupling = true,
        .gamma = 0,
        .adaptation = {.increment_nS = 0.3, .tau_ms = 200, .E_mV = -80},
        .background_soma = {.rate_hz = 600, .weight = 0.02},
        .background_dendrite = {.rate_hz = 0, .weight = 0},
    },
};

}  // namespace

CellTypeList cell_types() { return {kCellTypes, std::size(kCellTypes)}; }

const CellTypeInfo* find_cell_type(std::string_view name) {
    for (const auto& t : kCellTypes)
        if (name == t.name) return &t;
    return nullptr;
}

const CellTypeInfo& cell_type(std::string_view name) {
    const CellTypeInfo* t = find_cell_type(name);
    if (!t) throw std::out_of_range("no cell type '" + std::string(name) + "'");
    return *t;
}

namespace {

// The scalar leaves of a resolved population as "section.key" -> text, and the keys in the order
// the reader writes them (n, type and init left out: they are not per-type defaults).
void flatten(const YAML::Node& node, const std::string& prefix,
             std::map<std::string, std::string>* values, std::vector<std::string>* order) {
    for (const auto& kv : node) {
        const std::string key = kv.first.as<std::string>();
        if (prefix.empty() && (key == "init" || key == "n" || key == "type")) continue;
        const std::string path = prefix.empty() ? key : prefix + "." + key;
        if (kv.second.IsMap()) {
            flatten(kv.second, path, values, order);
        } else if (kv.second.IsScalar()) {
            (*values)[path] = kv.second.as<std::string>();
            if (std::find(order->begin(), order->end(), path) == order->end())
                order->push_back(path);
        }
    }
}

}  // namespace

std::string cell_types_markdown() {
    // One population of each type, resolved by the reader: the table shows what it does.
    std::string yaml = "populations:\n";
    for (const auto& t : kCellTypes)
        yaml += std::string("  ") + t.label + ": {type: " + t.name + ", n: 1}\n";
    const Config cfg = parse_config(yaml, "cell types");
    const YAML::Node pops = YAML::Load(cfg.resolved_yaml)["populations"];
    std::vector<std::map<std::string, std::string>> values;
    std::vector<std::string> order;  // keys in the order the reader writes them
    for (const auto& t : kCellTypes) {
        std::map<std::string, std::string> v;
        flatten(pops[t.label], "", &v, &order);
        values.push_back(std::move(v));
    }
    auto yes = [](bool b) { return std::string(b ? "yes" : "no"); };
    std::string md;
    md += "| type | label | has_dendrite | adapts | what it is | defaults from |\n";
    md += "|---|---|---|---|---|---|\n";
    for (const auto& t : kCellTypes)
        md += std::string("| `") + t.name + "` | " + t.label + " | " + yes(t.caps.has_dendrite) +
              " | " + yes(t.caps.adapts) + " | " + t.description + " | " + t.source + " |\n";
    md += "\n| key |";
    for (const auto& t : kCellTypes) md += std::string(" ") + t.label + " |";
    md += "\n|---|";
    for (size_t i = 0; i < std::size(kCellTypes); ++i) md += "---|";
    md += "\n";
    for (const auto& key : order) {
        md += "| `" + key + "` |";
        for (const auto& v : values) {
            const auto it = v.find(key);
            md += " " + (it == v.end() ? std::string("-") : it->second) + " |";
        }
        md += "\n";
    }
    return md;
}

}  // namespace l5sim
