#pragma once
// The config's blocks (config.cpp reads the root): a population (its type's row of the cell-type
// registry, soma, dendrite, adaptation, background, init) and a projection (connectivity,
// receptors, delays, STDP). Private to host/config.
#include <cstdint>
#include <string>

#include "config/yaml_reader.hpp"
#include "l5sim/config.hpp"

namespace l5sim::config_detail {

inline constexpr double kBig = 1e300;
inline constexpr double kMaxRateHz = 1e6;       // background rate_hz, and its schedule knob
inline constexpr double kMaxAmplitudePa = 1e7;  // injection amplitude_pA, and its schedule knob

/// The population named by `key` (an error naming the known ones otherwise).
uint32_t find_population(MapReader& r, const std::string& key, const Config& c);
/// populations.<name>: its type's row of the registry, then the keys that row allows.
PopulationConfig read_population(MapReader r, const std::string& name, double dt);
/// projections.<name>, after every population was read.
ProjectionConfig read_projection(MapReader r, const std::string& name, const Config& c);

}  // namespace l5sim::config_detail
