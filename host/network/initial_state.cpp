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

std::vector<float> initial_floats(const Config& cfg, uint32_t pop, const VarInfo& r) {
    const auto& c = cfg.populations.at(pop);
    switch (r.start) {
        case VarInfo::Start::init:
            return initial_values(cfg, pop, static_cast<model::InitVar>(r.init_var));
        case VarInfo::Start::never:
            return std::vector<float>(c.n, model::poisson_never());
        case VarInfo::Start::gamma:
            return std::vector<float>(c.n, static_cast<float>(c.gamma));
        case VarInfo::Start::zero:
            break;
    }
    return std::vector<float>(c.n, 0.0f);
}

}  // namespace l5sim
