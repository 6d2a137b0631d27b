#pragma once
/// The per-cell state variables, one row each (NEST's RecordablesMap, GeNN's getVars()): name,
/// compartment, element type, unit, which cell types have it, how it starts, whether it can be
/// probed, set by `populations.<name>.init`, and scanned by the health check. The checkpoint's
/// blocks, the probe names, the init keys, the health check, the engines' name lookups and
/// configs/README.md's tables come from this table (docs/EXTENDING.md). C++17: the CUDA sources
/// include it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "l5sim/model/receptors.hpp"

namespace l5sim {

/// The variables, in checkpoint order (never reorder: it is the checkpoint format's order).
enum class Var : uint8_t {
    v,
    u,
    g_ampa,
    g_nmda,
    g_nmda_bg,
    g_gaba,
    g_adapt,
    i_ext,
    rem_soma,
    v_d,
    u_d,
    g_ampa_d,
    g_nmda_d,
    g_gaba_d,
    i_ext_d,
    gamma,
    rem_dend,
    history,
    burst,
    g_gaba_b,
    g_gaba_b_d,
};
inline constexpr int kVarCount = 21;

struct VarInfo {
    enum class Type : uint8_t { f32, u32, u8 };
    /// How a cell's value starts: its populations.<name>.init entry (model::InitVar `init_var`),
    /// 0, the Poisson background's "no input spike pending" (model::poisson_never), or the
    /// population's coupling gamma.
    enum class Start : uint8_t { init, zero, never, gamma };
    Var var;
    const char* name;   // checkpoint block and engine lookup name
    const char* probe;  // recording.probes name, or null (not probe-able)
    const char* unit;   // "mV", "nS", ... ("" for counts and flags)
    bool dendrite;      // only types with a dendrite (CellCaps::has_dendrite) have it
    Type type;
    Start start;
    int init_var;             // model::InitVar when start == init, else -1
    const char* init_key;     // populations.<name>.init key, or null
    double init_lo, init_hi;  // the init key's range
    bool init_needs_adapts;   // the init key exists only for adapting types
    bool health;              // scanned for NaN and infinities
    const char* meaning;      // configs/README.md
    /// The conductance of a receptor beyond the core ones (model/receptors.hpp): only
    /// populations that step every receptor (PopulationConfig::all_receptors) have it.
    bool extra_receptor = false;
};

// clang-format off
inline constexpr VarInfo kVarTable[kVarCount] = {
    {Var::v, "v", "v", "mV", false, VarInfo::Type::f32, VarInfo::Start::init, 0, "v_mV", -200, 100, false, true, "somatic membrane potential"},
    {Var::u, "u", "u", "pA", false, VarInfo::Type::f32, VarInfo::Start::init, 1, "u_pA", -1e6, 1e6, false, true, "somatic recovery variable"},
    {Var::g_ampa, "g_ampa", "g_ampa", "nS", false, VarInfo::Type::f32, VarInfo::Start::init, 4, "g_ampa_nS", 0, 1e6, false, true, "somatic AMPA conductance (recurrent + background)"},
    {Var::g_nmda, "g_nmda", "g_nmda", "nS", false, VarInfo::Type::f32, VarInfo::Start::init, 5, "g_nmda_nS", 0, 1e6, false, true, "somatic recurrent NMDA conductance, before the Mg gate"},
    {Var::g_nmda_bg, "g_nmda_bg", "g_nmda_bg", "nS", false, VarInfo::Type::f32, VarInfo::Start::init, 6, "g_nmda_bg_nS", 0, 1e6, false, true, "somatic background NMDA conductance, before the Mg gate"},
    {Var::g_gaba, "g_gaba", "g_gaba", "nS", false, VarInfo::Type::f32, VarInfo::Start::init, 7, "g_gaba_nS", 0, 1e6, false, true, "somatic GABA_A conductance"},
    {Var::g_adapt, "g_adapt", "g_adapt", "nS", false, VarInfo::Type::f32, VarInfo::Start::init, 8, "g_adapt_nS", 0, 1e6, true, true, "adaptation conductance (0 for a type that does not adapt)"},
    {Var::i_ext, "i_ext", "i_ext", "pA", false, VarInfo::Type::f32, VarInfo::Start::zero, -1, nullptr, 0, 0, false, false, "injected somatic current"},
    {Var::rem_soma, "rem_soma", nullptr, "steps", false, VarInfo::Type::f32, VarInfo::Start::never, -1, nullptr, 0, 0, false, false, "somatic background: steps to the next input spike"},
    {Var::v_d, "v_d", "v_d", "mV", true, VarInfo::Type::f32, VarInfo::Start::init, 2, "v_d_mV", -200, 100, false, true, "dendritic potential"},
    {Var::u_d, "u_d", "u_d", "pA", true, VarInfo::Type::f32, VarInfo::Start::init, 3, "u_d_pA", -1e6, 1e6, false, true, "dendritic recovery variable"},
    {Var::g_ampa_d, "g_ampa_d", "g_ampa_d", "nS", true, VarInfo::Type::f32, VarInfo::Start::init, 9, "g_ampa_d_nS", 0, 1e6, false, true, "dendritic AMPA conductance"},
    {Var::g_nmda_d, "g_nmda_d", "g_nmda_d", "nS", true, VarInfo::Type::f32, VarInfo::Start::init, 10, "g_nmda_d_nS", 0, 1e6, false, true, "dendritic NMDA conductance (recurrent + background), before the gate"},
    {Var::g_gaba_d, "g_gaba_d", "g_gaba_d", "nS", true, VarInfo::Type::f32, VarInfo::Start::init, 11, "g_gaba_d_nS", 0, 1e6, false, true, "dendritic GABA_A conductance"},
    {Var::i_ext_d, "i_ext_d", "i_ext_d", "pA", true, VarInfo::Type::f32, VarInfo::Start::zero, -1, nullptr, 0, 0, false, false, "injected dendritic current"},
    {Var::gamma, "gamma", "gamma", "probability", true, VarInfo::Type::f32, VarInfo::Start::gamma, -1, nullptr, 0, 0, false, false, "current coupling gamma"},
    {Var::rem_dend, "rem_dend", nullptr, "steps", true, VarInfo::Type::f32, VarInfo::Start::never, -1, nullptr, 0, 0, false, false, "dendritic background: steps to the next input spike"},
    {Var::history, "history", nullptr, "", true, VarInfo::Type::u32, VarInfo::Start::zero, -1, nullptr, 0, 0, false, false, "somatic spikes of the last 32 steps (the BAP window)"},
    {Var::burst, "burst", "burst_mode", "0/1", true, VarInfo::Type::u8, VarInfo::Start::zero, -1, nullptr, 0, 0, false, false, "1 when the next somatic reset uses the burst c, d"},
    {Var::g_gaba_b, "g_gaba_b", "g_gaba_b", "nS", false, VarInfo::Type::f32, VarInfo::Start::zero, -1, nullptr, 0, 0, false, true, "somatic GABA_B conductance (populations with a GABA_B input)", true},
    {Var::g_gaba_b_d, "g_gaba_b_d", "g_gaba_b_d", "nS", true, VarInfo::Type::f32, VarInfo::Start::zero, -1, nullptr, 0, 0, false, true, "dendritic GABA_B conductance (populations with a GABA_B input)", true},
};
// clang-format on

/// The conductance variable of each receptor (model::Receptor order) at the soma and at the
/// dendrite: the engines' compartment x receptor arrays are these rows.
inline constexpr Var kSomaConductance[model::kReceptorCount] = {Var::g_ampa, Var::g_nmda,
                                                                Var::g_gaba, Var::g_gaba_b};
inline constexpr Var kDendriteConductance[model::kReceptorCount] = {Var::g_ampa_d, Var::g_nmda_d,
                                                                    Var::g_gaba_d, Var::g_gaba_b_d};

namespace detail {
constexpr bool rows_in_order() {
    for (int i = 0; i < kVarCount; ++i)
        if (static_cast<int>(kVarTable[i].var) != i) return false;
    return true;
}
}  // namespace detail
static_assert(detail::rows_in_order(), "kVarTable's rows must be in Var order");
namespace detail {
constexpr bool conductances_match() {
    for (int r = 0; r < model::kReceptorCount; ++r) {
        const VarInfo& s = kVarTable[static_cast<int>(kSomaConductance[r])];
        const VarInfo& d = kVarTable[static_cast<int>(kDendriteConductance[r])];
        const bool extra = r >= model::kCoreReceptors;
        if (s.dendrite || !d.dendrite || s.extra_receptor != extra || d.extra_receptor != extra)
            return false;
    }
    return true;
}
}  // namespace detail
static_assert(detail::conductances_match(),
              "one soma and one dendrite conductance row per receptor, extra beyond the core");

/// The row of `v`.
constexpr const VarInfo& var_info(Var v) { return kVarTable[static_cast<int>(v)]; }

/// The row called `name` (its checkpoint/lookup name), or null.
inline const VarInfo* find_var(std::string_view name) {
    for (const VarInfo& r : kVarTable)
        if (name == r.name) return &r;
    return nullptr;
}

/// The row probed as `name` (recording.probes), or null.
inline const VarInfo* find_probe_var(std::string_view name) {
    for (const VarInfo& r : kVarTable)
        if (r.probe && name == r.probe) return &r;
    return nullptr;
}

/// The receptor (model::Receptor index) whose conductance variable `v` is, or -1.
constexpr int receptor_of(Var v) {
    for (int r = 0; r < model::kReceptorCount; ++r)
        if (v == kSomaConductance[r] || v == kDendriteConductance[r]) return r;
    return -1;
}

/// Why population `pop` lacks variable `r` when it is an extra receptor's conductance (", which
/// only populations with a ... input have: ..."), else "" (messages of probes and state reads).
inline std::string extra_receptor_hint(const VarInfo& r, const std::string& pop) {
    const int k = receptor_of(r.var);
    if (!r.extra_receptor || k < 0) return "";
    const std::string key = model::kReceptorTable[k].key;
    return "; only populations with a " + std::string(model::kReceptorTable[k].label) +
           " input have it (a projection into " + pop + " with receptors." + key + " > 0)";
}

/// True when a population whose type has (or lacks) a dendrite, and that steps every receptor
/// (or only the core ones: PopulationConfig::all_receptors), has variable `r`.
constexpr bool has_var(const VarInfo& r, bool has_dendrite, bool all_receptors) {
    return (has_dendrite || !r.dendrite) && (all_receptors || !r.extra_receptor);
}

/// Bytes per cell of a variable.
constexpr std::size_t var_bytes(const VarInfo& r) { return r.type == VarInfo::Type::u8 ? 1 : 4; }

/// configs/README.md's probe-variable and init-key tables, from this table (`l5sim info
/// --state-vars`; a test compares the copy).
std::string state_vars_markdown();

}  // namespace l5sim
