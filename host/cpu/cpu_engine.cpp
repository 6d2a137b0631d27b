// The CPU engine (cpu_engine.hpp): construction, knobs, state access and checkpoint blocks.
#include "cpu/cpu_engine.hpp"

namespace l5sim::cpu {

void CpuEngine::init_population(uint32_t p) {
    const auto& c = cfg_.populations[p];
    PopulationState s;
    s.n = c.n;
    s.n_global = c.n;
    if (distributed_) {
        s.gid = local_.gid[p];
        s.n = static_cast<uint32_t>(s.gid.size());
        check_local_ids(cfg_, p, s.gid, "cells");
        s.src_gid = local_.sources.at(p);
        check_local_ids(cfg_, p, s.src_gid, "sources");
    }
    s.has_dendrite = c.caps.has_dendrite;
    s.adapts = c.caps.adapts;
    s.soma = model::make_izh_constants(c.soma, cfg_.dt_ms);
    s.coupling = c.coupling;
    s.adapt_increment = static_cast<float>(c.adapt_increment_nS);
    s.adapt_decay = static_cast<float>(1 - cfg_.dt_ms / c.adapt_tau_ms);
    s.adapt_E = static_cast<float>(c.adapt_E_mV);
    const size_t n = s.n;
    s.st = PopulationStore<HostStorage>(cfg_, p, &kHostStorage, distributed_ ? &s.gid : nullptr);
    if (s.has_dendrite) s.dend = model::make_dendrite_constants(c.dendrite, cfg_.dt_ms);
    s.spiked.assign(n, 0);
    pops_.push_back(std::move(s));
}

void CpuEngine::init_projection(uint32_t j) {
    const auto& c = cfg_.projections[j];
    const auto& net = net_.projections[j];
    ProjectionState s;
    s.source = c.source;
    s.target = c.target;
    s.compartment = c.compartment;
    s.receptor = c.receptor;
    s.slots = net.max_delay_steps + 1;
    s.ring.assign(static_cast<size_t>(s.slots) * net.n_tgt, 0);
    s.fixed_per_ns = std::ldexp(1.0f, net.fixed_exponent);
    s.ns_per_fixed = std::ldexp(1.0f, -net.fixed_exponent);
    s.plastic = c.stdp.has_value();
    // A rank's part has a row per source it holds (its population's LocalCells::sources), the
    // rows its presynaptic traces and spike mask follow.
    if (distributed_) {
        if (!net.has_rows(pops_[c.source].src_gid))
            throw Error("LocalCells: the rows of " + c.name + " must be the sources of " +
                        cfg_.populations[c.source].name + " (set_source_rows)");
    }
    if (s.plastic && distributed_) pops_[c.source].all_spiked.assign(net.rows(), 0);
    if (s.plastic) {
        s.stdp = stdp_constants(*c.stdp, net.w_max, cfg_.dt_ms);
        s.source_rule = source_rule(cfg_, j);
        s.x.assign(net.rows(), 0.0f);
        s.r2.assign(net.rows(), 0.0f);
        s.y.assign(net.n_tgt, 0.0f);
        s.o2.assign(net.n_tgt, 0.0f);
    }
    projs_.push_back(std::move(s));
    set_projection(j, c.gain, c.stdp ? c.stdp->eta : 0.0);
}

// Phase 1. Spike test and reset (burst-mode c, d chosen by the previous step's dendrite), spike
// history for the BAP window, adaptation increment; then the ordered spike list and traces.
// Phase 1 for cells [b, b + count) of population p: spike test and reset, spike history,
// adaptation jump, this block's spiking cells (in id order) into `ids`, and the STDP traces of
// the plastic projections from and to p. Returns the block's calcium-triggered spikes.
void CpuEngine::set_drive(uint32_t pop, const PopulationDrive& d, int64_t step) {
    auto& s = pops_[pop];
    const auto& old = s.drive;
    const uint32_t stream = model::stream_id(model::StreamKind::background, pop);
    const uint32_t st = static_cast<uint32_t>(step);
    const float ls0 = old.background_soma.lambda, ls1 = d.background_soma.lambda;
    const float ld0 = old.background_dendrite.lambda, ld1 = d.background_dendrite.lambda;
    const int64_t n = s.n;
    // The engine starts with every rate 0 and every source never firing: the first call starts
    // them (a fresh gap), later ones rescale (model::poisson_rate_change).
    auto rescale = [&](std::vector<float>& rem, float l0, float l1, int word) {
        if (l0 == l1) return;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
        for (int64_t i = 0; i < n; ++i)
            rem[i] = model::poisson_rate_change(rem[i], l0, l1, cfg_.seed, stream, st,
                                                cell_key(pop, static_cast<uint32_t>(i)), word);
    };
    rescale(s.st.array(Var::rem_soma), ls0, ls1, 0);
    if (s.has_dendrite) rescale(s.st.array(Var::rem_dend), ld0, ld1, 1);
    s.drive = d;
}

bool CpuEngine::find_nonfinite(uint32_t pop, std::string* var, uint32_t* cell) const {
    return pops_[pop].st.find_nonfinite(var, cell);
}

void CpuEngine::read_state(uint32_t pop, const std::string& var, const std::vector<uint32_t>& cells,
                           float* out) const {
    pops_[pop].st.read_probe(var, cells, out);
}

const void* CpuEngine::locate(const StateBlock& b) const {
    const void* ptr = nullptr;
    uint64_t have = 0;
    // An empty array (a plastic projection without synapses on this engine: a rank without
    // cells of its target, or a projection that drew none) is a block of 0 bytes at a valid
    // address.
    auto vec = [&](const auto& v) {
        ptr = v.empty() ? static_cast<const void*>(this) : v.data();
        have = v.size() * sizeof(v[0]);
    };
    auto scalar = [&](const uint64_t& x) {
        ptr = &x;
        have = sizeof x;
    };
    if (b.kind == StateBlock::Kind::population) {
        const auto& s = pops_[b.index];
        const std::string& v = b.var;
        if (v == "spikes")
            scalar(s.spike_count);
        else if (v == "calcium_spikes")
            scalar(s.calcium_spikes);
    } else if (b.kind == StateBlock::Kind::projection) {
        const auto& pj = projs_[b.index];
        const std::string& v = b.var;
        if (v == "weight")
            vec(net_.projections[b.index].weight);
        else if (v == "x")
            vec(pj.x);
        else if (v == "r2")
            vec(pj.r2);
        else if (v == "y")
            vec(pj.y);
        else if (v == "o2")
            vec(pj.o2);
    } else if (b.var == "events") {
        scalar(events_);
    }
    if (!ptr || have != b.bytes())
        throw Error("state block " + b.name + ": the CPU engine holds " + std::to_string(have) +
                    " bytes, the layout says " + std::to_string(b.bytes()));
    return ptr;
}

}  // namespace l5sim::cpu

namespace l5sim {
std::unique_ptr<Engine> make_cpu_engine(const Config& cfg, Network net, LocalCells local) {
    return std::make_unique<cpu::CpuEngine>(cfg, std::move(net), std::move(local));
}
}  // namespace l5sim
