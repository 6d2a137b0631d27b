#pragma once
// Reading a spikes.h5 that l5sim wrote (SONATA: /spikes/<population>/{timestamps, node_ids}).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace l5sim {

struct SpikeTrain {
    std::string population;
    std::vector<double> t_ms;   // sorted by time, then id
    std::vector<uint64_t> ids;  // node ids
};

/// The spikes of `populations` (in that order) in `path`; an Error naming the file and the
/// cause otherwise (a missing file or population, a malformed dataset).
std::vector<SpikeTrain> read_spike_file(const std::filesystem::path& path,
                                        const std::vector<std::string>& populations);

}  // namespace l5sim
