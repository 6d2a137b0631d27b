// The initial state of every cell (populations.<name>.init), computed once on the host for both
// engines, so that they start from the same bits.
#include "l5sim/engine.hpp"

namespace l5sim {

std::vector<float> initial_values(const Config& cfg, uint32_t pop, model::InitVar var) {
    const auto& c = cfg.populations.at(pop);
    const model::InitSpec& spec = c.init[static_cast<int>(var)];
    std::vector<float> out(c.n);
    const auto n = static_cast<int64_t>(c.n);
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i)
        out[i] = model::initial_value(spec, cfg.seed, pop, var, static_cast<uint32_t>(i));
    return out;
}

}  // namespace l5sim
