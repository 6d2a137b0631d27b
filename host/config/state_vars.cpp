// configs/README.md's tables of state variables (probe names, init keys), generated from the
// state table (l5sim/state_vars.hpp): `l5sim info --state-vars`; a test compares the copy.
#include "l5sim/state_vars.hpp"

#include <fmt/format.h>

#include <string>

namespace l5sim {

namespace {

std::string number(double x) {
    return x == static_cast<double>(static_cast<long long>(x))
               ? fmt::format("{}", static_cast<long long>(x))
               : fmt::format("{}", x);
}

std::string range(double lo, double hi) { return fmt::format("[{}, {}]", number(lo), number(hi)); }

}  // namespace

std::string state_vars_markdown() {
    std::string md;
    md += "Probe variables (`recording.probes[i].variables`):\n\n";
    md += "| variable | unit | populations | meaning |\n|---|---|---|---|\n";
    for (const VarInfo& r : kVarTable) {
        if (!r.probe) continue;
        const char* who = r.dendrite
                              ? (r.extra_receptor ? "types with a dendrite, with an input on "
                                                    "the receptor"
                                                  : "types with a dendrite")
                              : (r.extra_receptor ? "with an input on the receptor" : "all");
        md += fmt::format("| `{}` | {} | {} | {} |\n", r.probe, r.unit, who, r.meaning);
    }
    md += "\nInitial values (`populations.<name>.init`):\n\n";
    md += "| key | unit | default | allowed | meaning |\n|---|---|---|---|---|\n";
    for (const VarInfo& r : kVarTable) {
        if (!r.init_key) continue;
        const char* def = r.var == Var::v     ? "`soma.v_r_mV`"
                          : r.var == Var::v_d ? "`dendrite.E_L_mV`"
                                              : "0";
        const char* who = r.dendrite            ? "**types with a dendrite**: "
                          : r.init_needs_adapts ? "**adapting types**: "
                                                : "";
        md += fmt::format("| `{}` | {} | {} | {} | {}{} |\n", r.init_key, r.unit, def,
                          range(r.init_lo, r.init_hi), who, r.meaning);
    }
    md += "\nReceptors (`synapses.<receptor>`, `projections.<name>.receptors.<receptor>`):\n\n";
    md +=
        "| receptor | tau_ms | E_mV | gate | populations | defaults |\n|---|---|---|---|---|---|\n";
    for (int i = 0; i < model::kReceptorCount; ++i) {
        const model::ReceptorInfo& r = model::kReceptorTable[i];
        md += fmt::format(
            "| `{}` | {} | {} | {} | {} | {} |\n", r.key, number(r.tau_ms), number(r.E_mV),
            r.gate == model::Gate::magnesium ? "Mg2+ block B(v); capped at the soma" : "none",
            i < model::kCoreReceptors ? "all" : "with an input on it", r.source);
    }
    return md;
}

}  // namespace l5sim
