#pragma once
/// Per-step model constants derived from the config in double on the host, for every engine.
#include <cmath>

#include "l5sim/config.hpp"
#include "l5sim/model/stdp.hpp"
#include "l5sim/model/synapse.hpp"

namespace l5sim {

inline model::ReceptorConstants receptor_constants(const Config& cfg) {
    const auto& s = cfg.synapses;
    const double dt = cfg.dt_ms;
    model::ReceptorConstants rc{};
    for (int r = 0; r < model::kReceptorCount; ++r) {
        rc.decay[r] = static_cast<float>(1 - dt / s.tau_ms[r]);
        rc.E[r] = static_cast<float>(s.E_mV[r]);
    }
    rc.nmda_soma_cap = static_cast<float>(s.nmda_soma_cap_nS);
    return rc;
}

inline model::StdpConstants stdp_constants(const StdpConfig& s, float w_max, double dt) {
    const double a_plus = s.a_plus_rel * w_max;
    return model::StdpConstants{s.rule,
                                s.bounds,
                                static_cast<float>(std::exp(-dt / s.tau_plus_ms)),
                                static_cast<float>(std::exp(-dt / s.tau_minus_ms)),
                                static_cast<float>(std::exp(-dt / s.tau_x_ms)),
                                static_cast<float>(std::exp(-dt / s.tau_y_ms)),
                                static_cast<float>(a_plus),
                                static_cast<float>(a_plus * s.a_minus_ratio),
                                static_cast<float>(s.a3_plus_rel * w_max),
                                static_cast<float>(s.a3_minus_rel * w_max),
                                w_max,
                                static_cast<float>(s.eta)};
}

}  // namespace l5sim
