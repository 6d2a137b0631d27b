#pragma once
/// The synaptic receptors, one row each (MODEL.md section 6; Arbor's mechanism table, GeNN's
/// postsynaptic models): config key, default time constant and reversal, voltage gate, and
/// whether every population has its conductances (a core receptor) or only those with an input
/// on it. The config reader (synapses.<key>, projections.<name>.receptors.<key>), the per-step
/// constants, the conductance arrays of both engines (indexed by compartment x receptor), the
/// state-variable table's conductance rows and configs/README.md's receptor table come from it
/// (docs/EXTENDING.md). C++17: the CUDA sources include it.
#include <cstdint>

#include "l5sim/model/hd.hpp"

namespace l5sim::model {

/// The receptors, in table order: the order in which the engines sum their currents (never
/// reorder: results depend on the order of a float sum).
enum class Receptor : uint8_t { ampa, nmda, gaba_a, gaba_b };
inline constexpr int kReceptorCount = 4;
/// Receptors 0 .. kCoreReceptors - 1 are the core: every population has their conductances.
/// The others exist in a population (are stepped and checkpointed) only when one of its incoming
/// projections uses one of them (Config's PopulationConfig::receptors), so a network without
/// them runs, stores and checkpoints exactly as before they existed.
inline constexpr int kCoreReceptors = 3;

/// Voltage dependence of a receptor's conductance.
enum class Gate : uint8_t {
    none,
    magnesium,  // NMDA's Mg2+ block, nmda_gate(v); at the soma also capped (soma_cap_nS)
};

struct ReceptorInfo {
    Receptor receptor;
    const char* key;  // synapses.<key>, projections.<name>.receptors.<key>
    const char* label;
    double tau_ms;  // default decay time constant
    double E_mV;    // default reversal potential
    Gate gate;
    const char* source;  // where the defaults come from
};

inline constexpr ReceptorInfo kReceptorTable[kReceptorCount] = {
    {Receptor::ampa, "ampa", "AMPA", 6, 0, Gate::none, "reference implementation"},
    {Receptor::nmda, "nmda", "NMDA", 100, 0, Gate::magnesium, "reference implementation"},
    {Receptor::gaba_a, "gaba_a", "GABA_A", 6, -75, Gate::none, "reference implementation"},
    {Receptor::gaba_b, "gaba_b", "GABA_B", 150, -90, Gate::none,
     "assumed: Izhikevich & Edelman 2008 (PNAS 105:3593); not in the paper"},
};

namespace detail {
constexpr bool receptor_rows_in_order() {
    for (int i = 0; i < kReceptorCount; ++i)
        if (static_cast<int>(kReceptorTable[i].receptor) != i) return false;
    return true;
}
}  // namespace detail
static_assert(detail::receptor_rows_in_order(), "kReceptorTable's rows must be in Receptor order");
static_assert(static_cast<int>(Receptor::nmda) < kCoreReceptors,
              "the background's NMDA is a core receptor");

L5_HD constexpr int index_of(Receptor r) { return static_cast<int>(r); }

/// NMDA magnesium gate B(v) = q^2 / (1 + q^2), q = (v + 80) / 60.
L5_HD inline float nmda_gate(float v_mV) {
    const float q = (v_mV + 80.0f) * (1.0f / 60.0f);
    const float q2 = q * q;
    return q2 / (1.0f + q2);
}

/// Per-step receptor constants, derived once on the host in double (l5sim/model_constants.hpp).
struct ReceptorConstants {
    float decay[kReceptorCount];  // 1 - dt / tau
    float E[kReceptorCount];      // mV
    float nmda_soma_cap;          // nS, cap on each gated NMDA conductance at the soma
};

namespace detail {
constexpr uint32_t gate_mask(Gate g) {
    uint32_t m = 0;
    for (int i = 0; i < kReceptorCount; ++i)
        if (kReceptorTable[i].gate == g) m |= 1u << i;
    return m;
}
}  // namespace detail
/// Bit r: receptor r has the magnesium gate (a scalar, so that device code can read it).
inline constexpr uint32_t kMagnesiumGated = detail::gate_mask(Gate::magnesium);

/// Conductance g of receptor `r` through its voltage gate at v (`gate` = nmda_gate(v), computed
/// once per compartment), or g itself for a receptor without a gate. In loops over r with a
/// constant bound (unrolled), the test folds away.
L5_HD inline float gated(int r, float g, float gate) {
    return ((kMagnesiumGated >> r) & 1u) != 0 ? g * gate : g;
}

/// The receptors a population steps: the core ones, or all (PopulationConfig::receptors).
L5_HD constexpr int receptors_of(bool all) { return all ? kReceptorCount : kCoreReceptors; }

}  // namespace l5sim::model
