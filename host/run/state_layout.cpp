// The checkpoint's list of state blocks (include/l5sim/engine.hpp): a function of the config, so
// that both engines read and write the same blocks in the same order.
#include <algorithm>
#include <cstring>

#include "l5sim/engine.hpp"
#include "l5sim/error.hpp"

namespace l5sim {

std::vector<StateBlock> state_layout(const Config& cfg) {
    std::vector<StateBlock> out;
    auto add = [&](StateBlock::Kind kind, uint32_t index, const std::string& owner,
                   const std::string& var, uint32_t elem, uint64_t count) {
        StateBlock b;
        b.name = owner.empty() ? var : owner + "/" + var;
        b.kind = kind;
        b.index = index;
        b.var = var;
        b.elem_bytes = elem;
        b.count = count;
        out.push_back(b);
    };
    using K = StateBlock::Kind;
    for (uint32_t p = 0; p < cfg.populations.size(); ++p) {
        const auto& pop = cfg.populations[p];
        // Every variable of the table its type has (l5sim/state_vars.hpp), in table order.
        for (const VarInfo& r : kVarTable)
            if (has_var(r, pop.caps.has_dendrite, pop.all_receptors))
                add(K::population, p, pop.name, r.name, static_cast<uint32_t>(var_bytes(r)), pop.n);
        add(K::population, p, pop.name, "spikes", 8, 1);
        add(K::population, p, pop.name, "calcium_spikes", 8, 1);
    }
    for (uint32_t j = 0; j < cfg.projections.size(); ++j) {
        const auto& pr = cfg.projections[j];
        const uint64_t n_src = cfg.populations[pr.source].n, n_tgt = cfg.populations[pr.target].n;
        add(K::projection, j, pr.name, "ring", sizeof(model::RingCell),
            max_ring_slots(cfg, pr) * n_tgt);
        if (!pr.stdp) continue;
        add(K::projection, j, pr.name, "weight", 4, projection_synapses(cfg, pr));
        add(K::projection, j, pr.name, "x", 4, n_src);
        add(K::projection, j, pr.name, "r2", 4, n_src);
        add(K::projection, j, pr.name, "y", 4, n_tgt);
        add(K::projection, j, pr.name, "o2", 4, n_tgt);
    }
    add(K::global, 0, "", "events", 8, 1);
    return out;
}

void ring_to_rotated(const model::RingCell* ring, uint64_t slots, uint64_t n_tgt, int64_t step,
                     model::RingCell* out, uint64_t out_slots) {
    for (uint64_t d = 0; d < out_slots; ++d) {
        model::RingCell* dst = out + d * n_tgt;
        if (d >= slots) {
            std::fill(dst, dst + n_tgt, 0);
            continue;
        }
        const uint64_t s = (static_cast<uint64_t>(step) + d) % slots;
        std::memcpy(dst, ring + s * n_tgt, n_tgt * sizeof(model::RingCell));
    }
}

void ring_from_rotated(const model::RingCell* in, uint64_t in_slots, uint64_t n_tgt, int64_t step,
                       model::RingCell* ring, uint64_t slots, const std::string& name) {
    std::fill(ring, ring + slots * n_tgt, 0);
    for (uint64_t d = 0; d < in_slots; ++d) {
        const model::RingCell* src = in + d * n_tgt;
        if (d >= slots) {
            if (std::any_of(src, src + n_tgt, [](model::RingCell x) { return x != 0; }))
                throw Error("checkpoint block " + name + ": input scheduled " + std::to_string(d) +
                            " steps ahead, beyond this network's longest delay");
            continue;
        }
        const uint64_t s = (static_cast<uint64_t>(step) + d) % slots;
        std::memcpy(ring + s * n_tgt, src, n_tgt * sizeof(model::RingCell));
    }
}

}  // namespace l5sim
