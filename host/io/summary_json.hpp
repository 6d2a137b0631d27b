#pragma once
// One population's entry of summary.json, written alike by a single run and by a sweep.
#include <nlohmann/json.hpp>

#include "l5sim/simulation.hpp"

namespace l5sim {

inline nlohmann::ordered_json population_json(const PopulationSummary& s) {
    auto optional = [](const std::optional<double>& x) {
        return x ? nlohmann::ordered_json(*x) : nlohmann::ordered_json();
    };
    return {{"type", s.type},
            {"n", s.n},
            {"spikes", s.spikes},
            {"rate_hz", s.rate_hz},
            {"burst_fraction", optional(s.burst_fraction)},
            {"calcium_fraction", optional(s.calcium_fraction)}};
}

}  // namespace l5sim
