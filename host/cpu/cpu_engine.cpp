// The CPU reference engine: OpenMP loops over the shared model functions, one loop per phase.
// Deterministic for any thread count: per-cell work is independent, synaptic input is summed in
// 32-bit fixed point (the delay rings, docs/ARCHITECTURE.md "Fixed point") with atomic integer
// adds, and each synapse has one writer per phase.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>

#include "cpu/cpu_state.hpp"
#include "cpu/philox_batch.hpp"
#include "cpu/spin_team.hpp"
#include "l5sim/error.hpp"
#include "l5sim/model/cell_step.hpp"
#include "l5sim/model/poisson.hpp"
#include "l5sim/model/rng.hpp"
#include "l5sim/model_constants.hpp"

namespace l5sim::cpu {

namespace {

// Below this many items a loop runs on one thread (fork/join costs more than the work).
constexpr int64_t kParallelMin = 4096;
// Cells per block of the loops that the compiler vectorises (in functions of their own: GCC
// does not vectorise them inside OpenMP-outlined bodies).
constexpr int64_t kSimdBlock = 1024;

// The vectorised per-cell loops are built twice, for SSE2 and for AVX2, and the loader picks the
// one the CPU runs (GCC target_clones). Results are bit-identical: no FMA (-ffp-contract=off,
// and the avx2 target does not enable it), the same IEEE operations in the same order per lane.
// Not under ASan or TSan: the loader runs the clones' resolvers before the sanitizer's runtime
// is up, and their instrumented code crashes the process at start. Not with clang (the fuzzing
// build, scripts/fuzz.sh), which does not combine target_clones with noinline.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || defined(__clang__)
#define L5_CPU_LOOP __attribute__((noinline))
#else
#define L5_CPU_LOOP __attribute__((noinline, target_clones("avx2", "default")))
#endif

// Phase 2b for one projection and `count` cells: this step's ring slot into the conductances of
// its compartment (as model::add_arrivals), the slot cleared.
L5_CPU_LOOP void arrivals_block(model::RingCell* __restrict slot, float* __restrict ga,
                                float* __restrict gn, float* __restrict gg, float f_ampa,
                                float f_nmda, float f_gaba, float ns_per_fixed, int64_t count) {
    // Most slots are empty (a few % of the cells get input in a step): eight slots at a time,
    // skipped when all eight are empty (one 32-byte test). A group with input is added whole,
    // its empty slots too: adding the +0 of an empty slot leaves a conductance (never -0) bit
    // for bit unchanged, and unconditional full-width loads and stores beat a branch per cell
    // (or the masked stores the compiler makes of one).
    auto one = [&](int64_t i) {
        const float g = model::from_fixed(slot[i], ns_per_fixed);
        slot[i] = 0;
        ga[i] = ga[i] + f_ampa * g;
        gn[i] = gn[i] + f_nmda * g;
        gg[i] = gg[i] + f_gaba * g;
    };
    static_assert(sizeof(model::RingCell) == 4);
    int64_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __builtin_prefetch(slot + i + 256, 1);  // 1 KB ahead: a row spans pages
        uint64_t w[4];
        std::memcpy(w, slot + i, sizeof w);
        if ((w[0] | w[1] | w[2] | w[3]) == 0) continue;
        for (int k = 0; k < 8; ++k) one(i + k);
    }
    for (; i < count; ++i)
        if (slot[i] != 0) one(i);
}

// Phase 3 for the somatic conductances (one Euler decay each, written back), then phase 5's
// arithmetic, for `count` consecutive cells (vectorised by the compiler): the conductances are
// read once for both.
L5_CPU_LOOP void soma_block(const model::IzhConstants k, const model::ReceptorConstants rc,
                            float e_adapt, float adapt_decay, float* __restrict ga,
                            float* __restrict gn, float* __restrict gnb, float* __restrict gg,
                            float* __restrict gad, const float* __restrict iext,
                            float* __restrict v, float* __restrict u, int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
        const model::SomaConductances g{
            model::decay(ga[i], rc.decay_ampa), model::decay(gn[i], rc.decay_nmda),
            model::decay(gnb[i], rc.decay_nmda), model::decay(gg[i], rc.decay_gaba),
            model::decay(gad[i], adapt_decay)};
        ga[i] = g.ampa;
        gn[i] = g.nmda;
        gnb[i] = g.nmda_bg;
        gg[i] = g.gaba;
        gad[i] = g.adapt;
        float vi = v[i], ui = u[i];
        model::soma_step(k, rc, g, e_adapt, iext[i], &vi, &ui);
        v[i] = vi;
        u[i] = ui;
    }
}

// The cells id0 + k (k < count) whose flag is set (non-zero), in order, into idx; returns how
// many. Eight flags at a time: a group of eight clear flags (most groups: spikes, open BAP
// windows and plateaus are rare) costs one test; the others are written branch-free, so the
// selected cells cost no mispredictions.
__attribute__((noinline)) int64_t select_flagged(uint32_t id0, const uint8_t* __restrict flags,
                                                 int64_t count, uint32_t* __restrict idx) {
    int64_t m = 0, k = 0;
    for (; k + 8 <= count; k += 8) {
        uint64_t group;
        std::memcpy(&group, flags + k, sizeof group);
        if (group == 0) continue;
        for (int64_t q = k; q < k + 8; ++q) {
            idx[m] = id0 + static_cast<uint32_t>(q);
            m += flags[q] != 0 ? 1 : 0;
        }
    }
    for (; k < count; ++k) {
        idx[m] = id0 + static_cast<uint32_t>(k);
        m += flags[k] != 0 ? 1 : 0;
    }
    return m;
}

// Flags of the cells whose background has an input spike this step (model::background_arrives;
// rem_d null: no dendrite); every other cell's times count down one step (the flagged cells' times
// are left for their draws), vectorised.
L5_CPU_LOOP void flag_background(float* __restrict rem_s, float* __restrict rem_d, int64_t count,
                                 uint8_t* __restrict flags) {
    if (rem_d) {
        for (int64_t k = 0; k < count; ++k) {
            const float rs = rem_s[k], rd = rem_d[k];
            const bool arrives = model::background_arrives(rs, rd);
            flags[k] = arrives ? 1 : 0;
            rem_s[k] = arrives ? rs : rs - 1.0f;
            rem_d[k] = arrives ? rd : rd - 1.0f;
        }
    } else {
        for (int64_t k = 0; k < count; ++k) {
            const float rs = rem_s[k];
            const bool arrives = model::background_arrives(rs, model::poisson_never());
            flags[k] = arrives ? 1 : 0;
            rem_s[k] = arrives ? rs : rs - 1.0f;
        }
    }
}

// Flags of the cells whose BAP window is open this step (model::bap_window_open), vectorised.
L5_CPU_LOOP void flag_bap_window(const model::DendriteConstants k,
                                 const uint32_t* __restrict history, int64_t count,
                                 uint8_t* __restrict flags) {
    for (int64_t i = 0; i < count; ++i) flags[i] = model::bap_window_open(k, history[i]) ? 1 : 0;
}

// Phase 1 (model::spike_phase) for `count` cells without a dendrite or adaptation: spike test
// and reset with the regular c, d; vectorised.
L5_CPU_LOOP void reset_block(const model::IzhConstants k, float* __restrict v, float* __restrict u,
                             uint8_t* __restrict spiked, int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
        float vi = v[i], ui = u[i], gi = 0.0f;
        uint32_t hi = 0;
        const bool sp = model::spike_phase(k, false, false, false, 0.0f, &vi, &ui, &gi, &hi);
        v[i] = vi;
        u[i] = ui;
        spiked[i] = sp;
    }
}

// Phase 1 (model::spike_phase) for `count` adapting cells without a dendrite: spike test, reset
// with the regular c, d, adaptation jump; vectorised.
L5_CPU_LOOP void reset_adapting_block(const model::IzhConstants k, float adapt_increment,
                                      float* __restrict v, float* __restrict u,
                                      float* __restrict g_adapt, uint8_t* __restrict spiked,
                                      int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
        float vi = v[i], ui = u[i], gi = g_adapt[i];
        uint32_t hi = 0;
        const bool sp =
            model::spike_phase(k, false, true, false, adapt_increment, &vi, &ui, &gi, &hi);
        v[i] = vi;
        u[i] = ui;
        g_adapt[i] = gi;
        spiked[i] = sp;
    }
}

// Phase 1 (model::spike_phase) for `count` cells with a dendrite: spike test and reset (burst-mode
// c, d chosen by the previous step's dendrite), spike history, adaptation jump (adapting types);
// vectorised. Returns the number of calcium-triggered
// (burst-mode) spikes.
L5_CPU_LOOP int64_t reset_dendrite_block(const model::IzhConstants k, bool adapts,
                                         float adapt_increment, const uint8_t* __restrict burst,
                                         float* __restrict v, float* __restrict u,
                                         uint32_t* __restrict history, float* __restrict g_adapt,
                                         uint8_t* __restrict spiked, int64_t count) {
    int64_t calcium = 0;
    for (int64_t i = 0; i < count; ++i) {
        float vi = v[i], ui = u[i], gi = g_adapt[i];
        uint32_t hi = history[i];
        const bool b = burst[i] != 0;
        const bool sp = model::spike_phase(k, true, adapts, b, adapt_increment, &vi, &ui, &gi, &hi);
        v[i] = vi;
        u[i] = ui;
        g_adapt[i] = gi;
        history[i] = hi;
        spiked[i] = sp;
        calcium += static_cast<int64_t>(static_cast<unsigned>(sp) & static_cast<unsigned>(b));
    }
    return calcium;
}

// The first gaps exponential_gap(w[a], lambda) of a batch of background draws (vectorised).
L5_CPU_LOOP void gap_batch(const uint32_t* __restrict w, int64_t m, float lambda,
                           float* __restrict gap) {
    for (int64_t a = 0; a < m; ++a) gap[a] = model::exponential_gap(w[a], lambda);
}

// The first draws of a batch of background arrivals (model::background_first_draw), vectorised:
// rs, rd in: the times to the next input spike; out: after draw j = 0, with the spikes counted
// (ks, kd) and the cells that need more draws flagged.
L5_CPU_LOOP void first_draw_batch(float* __restrict rs, float* __restrict rd,
                                  const float* __restrict gap_s, const float* __restrict gap_d,
                                  int64_t m, float* __restrict ks, float* __restrict kd,
                                  uint8_t* __restrict more) {
    for (int64_t a = 0; a < m; ++a) {
        const model::BackgroundDraws d =
            model::background_first_draw(rs[a], rd[a], gap_s[a], gap_d[a]);
        rs[a] = d.rs;
        rd[a] = d.rd;
        ks[a] = d.ks;
        kd[a] = d.kd;
        more[a] = model::background_more_draws(d) ? 1 : 0;
    }
}

// Phase 3 for one conductance of `count` cells.
L5_CPU_LOOP void decay_block(float* __restrict g, int64_t count, float factor) {
    for (int64_t i = 0; i < count; ++i) g[i] = model::decay(g[i], factor);
}

// Phase 1's STDP trace step for `count` cells (model::trace_step), vectorised.
L5_CPU_LOOP void trace_block(model::StdpRule rule, float* __restrict trace,
                             const uint8_t* __restrict spiked, float decay, int64_t count) {
    for (int64_t i = 0; i < count; ++i)
        trace[i] = model::trace_step(rule, trace[i], decay, spiked[i] != 0);
}

class CpuEngine final : public Engine {
  public:
    CpuEngine(const Config& cfg, Network net) : cfg_(cfg), net_(std::move(net)) {
        rc_ = receptor_constants(cfg);
        for (uint32_t p = 0; p < cfg.populations.size(); ++p) init_population(p);
        for (uint32_t j = 0; j < cfg.projections.size(); ++j) init_projection(j);
        targets_of_.resize(pops_.size());
        for (uint32_t j = 0; j < projs_.size(); ++j) targets_of_[projs_[j].target].push_back(j);
        // Step by step unless L5SIM_WINDOW asks for windows (the generic run_window: tests of
        // the window bookkeeping, which must not change any result).
        std::vector<uint32_t> min_delays;
        for (const auto& pj : net_.projections) {
            const auto shortest = std::min_element(pj.delay.begin(), pj.delay.end());
            min_delays.push_back(shortest == pj.delay.end() ? 32u : *shortest);
        }
        overlap_propagation_ =
            std::all_of(min_delays.begin(), min_delays.end(), [](uint32_t d) { return d >= 1; });
        const int64_t asked = requested_window();
        window_ = asked > 0 ? std::min(asked, window_bound(min_delays)) : 1;
        slots_.resize(pops_.size());
        for (const auto& s : pops_) cells_ += s.n;
        // The per-cell loops (phase 1; phases 2b-5) run on a team that stays awake between
        // them (spin_team.hpp) whenever there is more than one thread; blocks of cells are
        // small enough to give each thread about four of them, at most kSimdBlock.
        const int threads = cfg.threads > 0 ? cfg.threads : omp_get_max_threads();
        int64_t block = kSimdBlock;
        if (threads > 1) {
            const int64_t share = (cells_ / (4 * threads) + 63) / 64 * 64;
            block = std::clamp<int64_t>(share, 128, kSimdBlock);
        }
        for (uint32_t p = 0; p < pops_.size(); ++p) {
            const int64_t n = pops_[p].n;
            for (int64_t b = 0; b < n; b += block)
                blocks_.push_back(Block{p, b, std::min<int64_t>(block, n - b)});
        }
        // No more workers than blocks (a small network on a many-core machine would otherwise
        // keep idle workers spinning, and every loop waits for each of them to pass through),
        // nor than cores (spinning threads that share a core take turns by the time slice).
        const auto team = std::min<int64_t>({threads, static_cast<int64_t>(blocks_.size()),
                                             static_cast<int64_t>(omp_get_num_procs())});
        if (team > 1) team_ = std::make_unique<SpinTeam>(static_cast<int>(team));
    }

    std::string name() const override { return "cpu"; }

    void detect_spikes(int64_t step) override;
    void propagate(int64_t step) override;
    void deliver(int64_t step) override;
    void integrate_dendrites(int64_t step) override;
    void set_profiling(bool on) override { fused_ = !on; }
    void integrate_somata(int64_t step) override;
    void plasticity(int64_t step) override;

    void take_spikes(uint32_t pop, SpikeRecord* out) override {
        auto& r = pops_[pop].record;
        out->steps.insert(out->steps.end(), r.steps.begin(), r.steps.end());
        out->ids.insert(out->ids.end(), r.ids.begin(), r.ids.end());
        r.steps.clear();
        r.ids.clear();
    }
    uint64_t spike_count(uint32_t pop) const override { return pops_[pop].spike_count; }
    uint64_t calcium_spikes(uint32_t pop) const override { return pops_[pop].calcium_spikes; }
    uint64_t synaptic_events() const override { return events_; }
    int64_t max_window() const override { return window_; }
    bool find_nonfinite(uint32_t pop, std::string* var, uint32_t* cell) const override;

    void set_drive(uint32_t pop, const PopulationDrive& d, int64_t step) override;
    void set_gamma(uint32_t pop, const std::vector<float>& g) override { pops_[pop].gamma = g; }
    void set_current(uint32_t pop, Compartment c, const std::vector<float>& pA) override {
        (c == Compartment::soma ? pops_[pop].i_ext : pops_[pop].i_ext_d) = pA;
    }
    void set_projection(uint32_t j, double gain, double eta) override {
        auto& pj = projs_[j];
        pj.f_ampa = static_cast<float>(pj.ampa * gain);
        pj.f_nmda = static_cast<float>(pj.nmda * gain);
        pj.f_gaba = static_cast<float>(pj.gaba * gain);
        pj.stdp.eta = static_cast<float>(eta);
    }

    void read_state(uint32_t pop, const std::string& var, const std::vector<uint32_t>& cells,
                    float* out) const override;
    void read_weights(uint32_t j, uint64_t stride, uint64_t count, float* out) const override {
        const auto& w = net_.projections[j].weight;
        for (uint64_t k = 0; k < count && k * stride < w.size(); ++k) out[k] = w[k * stride];
    }
    void read_synapses(uint32_t j, uint64_t stride, uint64_t count, uint32_t* src,
                       uint32_t* tgt) const override {
        const auto& c = net_.projections[j];
        uint32_t row = 0;
        for (uint64_t k = 0; k < count && k * stride < c.size(); ++k) {
            const uint64_t s = k * stride;
            while (c.row_ptr[row + 1] <= s) ++row;
            src[k] = row;
            tgt[k] = c.target[s];
        }
    }
    uint64_t synapse_count(uint32_t j) const override { return net_.projections[j].size(); }
    uint64_t connectivity_bytes() const override { return net_.bytes(); }
    int ring_fixed_exponent(uint32_t proj) const override {
        return net_.projections.at(proj).fixed_exponent;
    }

    void read_block(const StateBlock& b, int64_t step, void* dst) const override {
        if (b.var == "ring") {
            const auto& pj = projs_[b.index];
            const uint64_t n_tgt = pops_[pj.target].n;
            ring_to_rotated(pj.ring.data(), pj.slots, n_tgt, step,
                            static_cast<model::RingCell*>(dst), b.count / n_tgt);
            return;
        }
        std::memcpy(dst, locate(b), b.bytes());
    }
    void write_block(const StateBlock& b, int64_t step, const void* src) override {
        if (b.var == "ring") {
            auto& pj = projs_[b.index];
            const uint64_t n_tgt = pops_[pj.target].n;
            ring_from_rotated(static_cast<const model::RingCell*>(src), b.count / n_tgt, n_tgt,
                              step, pj.ring.data(), pj.slots, b.name);
            return;
        }
        std::memcpy(const_cast<void*>(locate(b)), src, b.bytes());
    }

  private:
    // The host memory of a state block (not rings), checked against the block's size.
    const void* locate(const StateBlock& b) const;
    void init_population(uint32_t p);
    void init_projection(uint32_t j);

    const Config& cfg_;
    Network net_;
    model::ReceptorConstants rc_{};
    std::vector<PopulationState> pops_;
    std::vector<ProjectionState> projs_;
    std::vector<std::vector<uint32_t>> targets_of_;  // projections into each population
    uint64_t events_ = 0;
    int64_t window_ = 1;  // max_window()
    bool fused_ = true;   // phases 4 and 5 inside deliver() (off while profiling)
    // Phase 2a as items of work: the spikes [q0, q1) of projection j. A projection whose spikes
    // are one item has its ring to itself (plain adds); one split into several adds atomically.
    struct PropagationItem {
        uint32_t proj;
        int64_t q0, q1;
        bool atomic;
    };
    std::vector<PropagationItem> prop_items_;  // this step's
    std::vector<uint64_t> prop_events_;        // synaptic events per item
    // Phase 2a runs inside deliver()'s parallel loop, beside the blocks of cells, when every
    // delay is at least one step (this step's propagation then writes no slot that this step's
    // delivery reads), there is a team, and phases are not profiled one by one. True between
    // such a propagate() and its deliver().
    bool overlap_propagation_ = false;
    bool propagation_pending_ = false;
    void plan_propagation();
    void propagate_item(int64_t i, int64_t step);  // item i; its events into prop_events_[i]
    void count_propagation_events();

    void dendrite_cells(uint32_t p, int64_t b, int64_t count, int64_t step);
    void deliver_cells(uint32_t p, int64_t b, int64_t count, int64_t step,
                       model::RingCell* const* slot);
    uint64_t detect_cells(uint32_t p, int64_t b, int64_t count, std::vector<uint32_t>* ids);
    std::vector<std::vector<uint32_t>> block_ids_;  // this step's spikes per block
    std::vector<uint64_t> block_calcium_;
    struct Block {
        uint32_t pop;
        int64_t begin, count;
    };
    std::vector<Block> blocks_;       // every population's cells in pieces of at most kSimdBlock
    std::unique_ptr<SpinTeam> team_;  // more than one thread: runs the loops over blocks_
    // f(w) for every block w, on the team (or on this thread alone).
    template <class F>
    void for_blocks(F&& f) {
        const auto items = static_cast<int64_t>(blocks_.size());
        if (team_) {
            team_->run(items, f);
        } else {
            for (int64_t w = 0; w < items; ++w) f(w);
        }
    }
    // f(begin, end) over [0, n) in chunks of 4 on the team when there is one and n >= 64,
    // else on this thread.
    template <class F>
    void for_chunks(int64_t n, F&& f) {
        constexpr int64_t kChunk = 4;
        if (!team_ || n < 64) {
            f(int64_t{0}, n);
            return;
        }
        team_->run((n + kChunk - 1) / kChunk,
                   [&](int64_t c) { f(c * kChunk, std::min(n, (c + 1) * kChunk)); });
    }
    // This step's ring slot per population and input.
    std::vector<std::vector<model::RingCell*>> slots_;
    int64_t cells_ = 0;
    void soma_cells(uint32_t p, int64_t b, int64_t count);
};

void CpuEngine::init_population(uint32_t p) {
    const auto& c = cfg_.populations[p];
    PopulationState s;
    s.n = c.n;
    s.has_dendrite = c.caps.has_dendrite;
    s.adapts = c.caps.adapts;
    s.soma = model::make_izh_constants(c.soma, cfg_.dt_ms);
    s.coupling = c.coupling;
    s.adapt_increment = static_cast<float>(c.adapt_increment_nS);
    s.adapt_decay = static_cast<float>(1 - cfg_.dt_ms / c.adapt_tau_ms);
    s.adapt_E = static_cast<float>(c.adapt_E_mV);
    const size_t n = c.n;
    // Every variable of the state table the type has, from its start (l5sim/state_vars.hpp).
    for (const VarInfo& r : kVarTable) {
        if (!has_var(r, s.has_dendrite)) continue;
        if (std::vector<float>* f = s.floats(r.var)) *f = initial_floats(cfg_, p, r);
    }
    if (s.has_dendrite) {
        s.dend = model::make_dendrite_constants(c.dendrite, cfg_.dt_ms);
        s.history.assign(n, 0);
        s.burst.assign(n, 0);
    }
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
    s.ampa = c.ampa;
    s.nmda = c.nmda;
    s.gaba = c.gaba;
    s.slots = net.max_delay_steps + 1;
    s.ring.assign(static_cast<size_t>(s.slots) * net.n_tgt, 0);
    s.fixed_per_ns = std::ldexp(1.0f, net.fixed_exponent);
    s.ns_per_fixed = std::ldexp(1.0f, -net.fixed_exponent);
    s.plastic = c.stdp.has_value();
    if (s.plastic) {
        s.stdp = stdp_constants(*c.stdp, net.w_max, cfg_.dt_ms);
        s.source_rule = source_rule(cfg_, j);
        s.x.assign(net.n_src, 0.0f);
        s.r2.assign(net.n_src, 0.0f);
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
uint64_t CpuEngine::detect_cells(uint32_t p, int64_t b, int64_t count, std::vector<uint32_t>* ids) {
    auto& s = pops_[p];
    uint64_t calcium = 0;
    if (s.has_dendrite) {
        calcium = static_cast<uint64_t>(reset_dendrite_block(
            s.soma, s.adapts, s.adapt_increment, s.burst.data() + b, s.v.data() + b, s.u.data() + b,
            s.history.data() + b, s.g_adapt.data() + b, s.spiked.data() + b, count));
    } else if (s.adapts) {
        reset_adapting_block(s.soma, s.adapt_increment, s.v.data() + b, s.u.data() + b,
                             s.g_adapt.data() + b, s.spiked.data() + b, count);
    } else {
        reset_block(s.soma, s.v.data() + b, s.u.data() + b, s.spiked.data() + b, count);
    }
    uint32_t idx[kSimdBlock];
    const int64_t m = select_flagged(static_cast<uint32_t>(b), s.spiked.data() + b, count, idx);
    ids->assign(idx, idx + m);
    for (auto& pj : projs_) {
        if (!pj.plastic) continue;
        const auto& st = pj.stdp;
        const bool triplet = st.rule == model::StdpRule::triplet;
        if (pj.source == p) {
            trace_block(st.rule, pj.x.data() + b, s.spiked.data() + b, st.decay_plus, count);
            if (triplet) decay_block(pj.r2.data() + b, count, st.decay_x);
        }
        if (pj.target == p) {
            trace_block(st.rule, pj.y.data() + b, s.spiked.data() + b, st.decay_minus, count);
            if (triplet) decay_block(pj.o2.data() + b, count, st.decay_y);
        }
    }
    return calcium;
}

// One parallel loop over the blocks of every population; then, per population, the blocks'
// spikes in order (ids ascending), counted and recorded.
void CpuEngine::detect_spikes(int64_t step) {
    const int64_t items = static_cast<int64_t>(blocks_.size());
    block_ids_.resize(blocks_.size());
    block_calcium_.resize(blocks_.size());
    for_blocks([&](int64_t w) {
        const Block& k = blocks_[w];
        block_calcium_[w] = detect_cells(k.pop, k.begin, k.count, &block_ids_[w]);
    });
    for (auto& s : pops_) s.spike_ids.clear();
    for (int64_t w = 0; w < items; ++w) {
        auto& s = pops_[blocks_[w].pop];
        s.spike_ids.insert(s.spike_ids.end(), block_ids_[w].begin(), block_ids_[w].end());
        s.calcium_spikes += block_calcium_[w];
    }
    for (auto& s : pops_) {
        s.spike_count += s.spike_ids.size();
        if (cfg_.recording.spikes) {
            s.record.steps.insert(s.record.steps.end(), s.spike_ids.size(), step);
            s.record.ids.insert(s.record.ids.end(), s.spike_ids.begin(), s.spike_ids.end());
        }
    }
}

// Phase 2a. Each spiking source walks its CSR row: fixed-point weight into the ring slot of the
// arrival step (integer adds, atomic where several threads share the ring: the sum is the same
// in any order), then pre-side depression of that synapse (the row has one writer: the thread
// of its item). The work is cut into items: a projection with few spikes is one item, a busy
// one items of four spikes.
void CpuEngine::plan_propagation() {
    constexpr int64_t kSpikesPerItem = 4;
    prop_items_.clear();
    for (uint32_t j = 0; j < projs_.size(); ++j) {
        const auto ns = static_cast<int64_t>(pops_[projs_[j].source].spike_ids.size());
        if (ns == 0) continue;
        if (ns < 64 || !team_) {
            prop_items_.push_back(PropagationItem{j, 0, ns, false});
            continue;
        }
        for (int64_t q = 0; q < ns; q += kSpikesPerItem)
            prop_items_.push_back(PropagationItem{j, q, std::min(ns, q + kSpikesPerItem), true});
    }
    prop_events_.assign(prop_items_.size(), 0);
}

void CpuEngine::propagate_item(int64_t i, int64_t step) {
    const PropagationItem& it = prop_items_[static_cast<size_t>(i)];
    auto& pj = projs_[it.proj];
    auto& net = net_.projections[it.proj];
    const auto& spikes = pops_[pj.source].spike_ids;
    const uint64_t n_tgt = net.n_tgt;
    model::RingCell* ring = pj.ring.data();
    const float per_ns = pj.fixed_per_ns;
    const bool plastic = pj.plastic;
    const bool triplet = plastic && pj.stdp.rule == model::StdpRule::triplet;
    // Arrival slot = (step + delay) % slots, with the division done once per item.
    const uint32_t slot0 = static_cast<uint32_t>(static_cast<uint64_t>(step) % pj.slots);
    const uint32_t slots = pj.slots;
    auto cell_of = [&](uint64_t syn) {
        uint32_t slot = slot0 + net.delay[syn];
        if (slot >= slots) slot -= slots;
        return ring + static_cast<uint64_t>(slot) * n_tgt + net.target[syn];
    };
    // The ring cells of a row are scattered over the slots of its delays: each is prefetched a
    // few synapses ahead.
    constexpr uint64_t kAhead = 8;
    auto walk = [&](auto add) {
        uint64_t events = 0;
        for (int64_t q = it.q0; q < it.q1; ++q) {
            const uint32_t s = spikes[q];
            const uint64_t b = net.row_ptr[s], e = net.row_ptr[s + 1];
            const float r2 = triplet ? pj.r2[s] : 0.0f;
            for (uint64_t syn = b; syn < std::min(e, b + kAhead); ++syn)
                __builtin_prefetch(cell_of(syn), 1);
            for (uint64_t syn = b; syn < e; ++syn) {
                if (syn + kAhead < e) __builtin_prefetch(cell_of(syn + kAhead), 1);
                add(*cell_of(syn), model::to_fixed(net.weight[syn], per_ns));
                if (plastic)
                    net.weight[syn] =
                        model::depress(pj.stdp, net.weight[syn], pj.y[net.target[syn]], r2);
            }
            events += e - b;
        }
        return events;
    };
    uint64_t& events = prop_events_[static_cast<size_t>(i)];
    if (it.atomic) {
        events = walk([](model::RingCell& cell, model::RingCell w) {
            std::atomic_ref<model::RingCell>(cell).fetch_add(w, std::memory_order_relaxed);
        });
    } else {
        events = walk([](model::RingCell& cell, model::RingCell w) { cell += w; });
    }
}

void CpuEngine::count_propagation_events() {
    for (uint64_t e : prop_events_) events_ += e;
}

void CpuEngine::propagate(int64_t step) {
    plan_propagation();
    if (overlap_propagation_ && fused_ && team_) {
        propagation_pending_ = true;  // deliver(step) runs the items beside its blocks
        return;
    }
    const auto items = static_cast<int64_t>(prop_items_.size());
    auto item = [&](int64_t i) { propagate_item(i, step); };
    if (team_ && items > 1) {
        team_->run(items, item);
    } else {
        for (int64_t i = 0; i < items; ++i) item(i);
    }
    count_propagation_events();
}

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
                                                static_cast<uint32_t>(i), word);
    };
    rescale(s.rem_soma, ls0, ls1, 0);
    if (s.has_dendrite) rescale(s.rem_dend, ld0, ld1, 1);
    s.drive = d;
}

// Phase 2b (and, fused, 3-5) for cells [b, b + count) of population p: this step's ring slots
// and Poisson background into the conductances. Phase 3, one Euler decay of every conductance,
// runs in the loops of phases 4 and 5 (dendrite_block, soma_block), which read the conductances
// anyway. Each phase is a loop of its own (the arithmetic ones vectorised), in the order of
// model::add_arrivals / add_background / decay_inputs per cell, so every conductance sees the
// same float operations in the same order as there.
void CpuEngine::deliver_cells(uint32_t p, int64_t b, int64_t count, int64_t step,
                              model::RingCell* const* slot) {
    auto& s = pops_[p];
    const auto& into = targets_of_[p];
    const auto bs = s.drive.background_soma;
    const auto bd = s.drive.background_dendrite;
    const bool background = bs.lambda > 0 || (s.has_dendrite && bd.lambda > 0);
    const uint32_t stream = model::stream_id(model::StreamKind::background, p);
    float* ga = s.g_ampa.data();
    float* gn = s.g_nmda.data();
    float* gnb = s.g_nmda_bg.data();
    float* gg = s.g_gaba.data();
    float* gad = s.has_dendrite ? s.g_ampa_d.data() : nullptr;
    float* gnd = s.has_dendrite ? s.g_nmda_d.data() : nullptr;
    float* ggd = s.has_dendrite ? s.g_gaba_d.data() : nullptr;
    float* rem_s = s.rem_soma.data();
    float* rem_d = s.has_dendrite ? s.rem_dend.data() : nullptr;
    for (size_t q = 0; q < into.size(); ++q) {
        const auto& pj = projs_[into[q]];
        const bool dend = pj.compartment == Compartment::dendrite;
        arrivals_block(slot[q] + b, dend ? gad + b : ga + b, dend ? gnd + b : gn + b,
                       dend ? ggd + b : gg + b, pj.f_ampa, pj.f_nmda, pj.f_gaba, pj.ns_per_fixed,
                       count);
    }
    if (background) {
        // The cells with an input spike this step (a few %; every other cell's times count
        // down in the same pass), their first draws as one vectorised Philox batch.
        uint8_t flags[kSimdBlock];
        flag_background(rem_s + b, rem_d ? rem_d + b : nullptr, count, flags);
        uint32_t idx[kSimdBlock];
        const int64_t m = select_flagged(static_cast<uint32_t>(b), flags, count, idx);
        uint32_t w0[kSimdBlock], w1[kSimdBlock];
        philox_batch(cfg_.seed, stream, static_cast<uint32_t>(step), idx, m, w0, w1);
        // Their first gaps (plog and a division each) and first draws as vectorised batches
        // too; then, one cell at a time, the rare further draws and the conductances.
        float gap_s[kSimdBlock], gap_d[kSimdBlock];
        gap_batch(w0, m, bs.lambda, gap_s);
        if (rem_d) gap_batch(w1, m, bd.lambda, gap_d);
        float rs[kSimdBlock], rd[kSimdBlock], ks[kSimdBlock], kd[kSimdBlock];
        uint8_t more[kSimdBlock];
        for (int64_t a = 0; a < m; ++a) {
            rs[a] = rem_s[idx[a]];
            rd[a] = rem_d ? rem_d[idx[a]] : model::poisson_never();
        }
        first_draw_batch(rs, rd, gap_s, rem_d ? gap_d : gap_s, m, ks, kd, more);
        for (int64_t a = 0; a < m; ++a) {
            const uint32_t i = idx[a];
            model::BackgroundDraws d{rs[a], rd[a], ks[a], kd[a]};
            if (more[a])
                model::background_more(&d, bs, bd, cfg_.seed, p, static_cast<uint32_t>(step), i);
            model::CellInputs c{ga[i], 0, gnb[i], 0, 0, 0, 0};
            if (s.has_dendrite) {
                c.gad = gad[i];
                c.gnd = gnd[i];
            }
            model::background_apply(&c, d, bs, bd, s.has_dendrite, &rem_s[i],
                                    rem_d ? &rem_d[i] : nullptr);
            ga[i] = c.ga;
            gnb[i] = c.gnb;
            if (s.has_dendrite) {
                gad[i] = c.gad;
                gnd[i] = c.gnd;
            }
        }
    }
    if (fused_) {
        if (s.has_dendrite) dendrite_cells(p, b, count, step);
        soma_cells(p, b, count);
    }
}

// One parallel loop over the blocks of every population (one fork per step, balanced across
// populations of any size).
void CpuEngine::deliver(int64_t step) {
    // This step's slot of each incoming ring (one division per projection, not per cell).
    for (uint32_t p = 0; p < pops_.size(); ++p) {
        const auto& into = targets_of_[p];
        slots_[p].resize(into.size());
        for (size_t q = 0; q < into.size(); ++q) {
            auto& pj = projs_[into[q]];
            slots_[p][q] = pj.ring.data() + (static_cast<uint64_t>(step) % pj.slots) * pops_[p].n;
        }
    }
    if (propagation_pending_) {
        // One parallel loop: the propagation items first (claimed first), then the blocks.
        propagation_pending_ = false;
        const auto n_prop = static_cast<int64_t>(prop_items_.size());
        team_->run(n_prop + static_cast<int64_t>(blocks_.size()), [&](int64_t i) {
            if (i < n_prop) {
                propagate_item(i, step);
                return;
            }
            const Block& k = blocks_[i - n_prop];
            deliver_cells(k.pop, k.begin, k.count, step, slots_[k.pop].data());
        });
        count_propagation_events();
        return;
    }
    for_blocks([&](int64_t w) {
        const Block& k = blocks_[w];
        deliver_cells(k.pop, k.begin, k.count, step, slots_[k.pop].data());
    });
}

// Phase 4: BAP window, calcium dendrite, plateau -> burst-mode choice for the next reset.
// Phase 3 for the dendritic conductances (written back), then phase 4's arithmetic, for `count`
// consecutive cells (vectorised by the compiler); `plateau` flags the cells at or above the
// calcium threshold (model::plateau_burst's first test).
L5_CPU_LOOP void dendrite_block(const model::DendriteConstants k, const model::ReceptorConstants rc,
                                float* __restrict ga, float* __restrict gn, float* __restrict gg,
                                const float* __restrict bap, const float* __restrict iext,
                                float* __restrict v_d, float* __restrict u_d,
                                uint8_t* __restrict plateau, int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
        const model::DendriteConductances g{model::decay(ga[i], rc.decay_ampa),
                                            model::decay(gn[i], rc.decay_nmda),
                                            model::decay(gg[i], rc.decay_gaba)};
        ga[i] = g.ampa;
        gn[i] = g.nmda;
        gg[i] = g.gaba;
        float v = v_d[i], u = u_d[i];
        model::dendrite_step(k, rc, g, bap[i], iext[i], &v, &u);
        v_d[i] = v;
        u_d[i] = u;
        plateau[i] = v >= k.theta_ca ? 1 : 0;
    }
}

// Phase 4 for cells [b, b + count) of pyramidal population p: the per-cell composition of
// model::dendrite_phase, split into three passes so that the arithmetic (pass 2) runs as SIMD:
// the Philox draws, needed only while a BAP window is open or a plateau is on (rare), stay in
// their own passes. Counter-based draws make drawing the same (step, cell) counter twice give the
// same words, so the results are bit-identical to dendrite_phase (the CUDA kernel's form).
void CpuEngine::dendrite_cells(uint32_t p, int64_t b, int64_t count, int64_t step) {
    auto& s = pops_[p];
    const bool stochastic = s.coupling == model::Coupling::stochastic;
    const uint32_t stream = model::stream_id(model::StreamKind::coupling, p);
    const uint32_t st = static_cast<uint32_t>(step);
    const uint64_t seed = cfg_.seed;
    const model::DendriteConstants k = s.dend;
    const uint32_t* history = s.history.data();
    const float* gamma = s.gamma.data();
    float bap[kSimdBlock];  // this step's BAP current of cell b + j (scratch)
    float* v_d = s.v_d.data();
    // The few cells that need a draw (an open BAP window; then a plateau) are gathered first and
    // their draws made as one vectorised Philox batch.
    uint32_t idx[kSimdBlock];
    uint32_t w0[kSimdBlock], w1[kSimdBlock];
    uint8_t flags[kSimdBlock];
    flag_bap_window(k, history + b, count, flags);
    int64_t m = select_flagged(static_cast<uint32_t>(b), flags, count, idx);
    if (stochastic) philox_batch(seed, stream, st, idx, m, w0, w1);
    std::fill(bap, bap + count, 0.0f);
    for (int64_t a = 0; a < m; ++a) {
        const uint32_t i = idx[a];
        bap[i - b] = model::bap_current(k, s.coupling, history[i], gamma[i],
                                        stochastic ? model::u01(w0[a]) : 0.0f);
    }
    dendrite_block(k, rc_, s.g_ampa_d.data() + b, s.g_nmda_d.data() + b, s.g_gaba_d.data() + b, bap,
                   s.i_ext_d.data() + b, v_d + b, s.u_d.data() + b, flags, count);
    m = select_flagged(static_cast<uint32_t>(b), flags, count, idx);
    if (stochastic) philox_batch(seed, stream, st, idx, m, w0, w1);
    std::fill(s.burst.data() + b, s.burst.data() + b + count, uint8_t{0});
    for (int64_t a = 0; a < m; ++a) {
        const uint32_t i = idx[a];
        s.burst[i] = model::plateau_burst(k, s.coupling, v_d[i], gamma[i],
                                          stochastic ? model::u01(w1[a]) : 0.0f);
    }
}

// Phase 5 for cells [b, b + count) of population p: the linearly implicit soma step.
void CpuEngine::soma_cells(uint32_t p, int64_t b, int64_t count) {
    auto& s = pops_[p];
    soma_block(s.soma, rc_, s.adapt_E, s.adapt_decay, s.g_ampa.data() + b, s.g_nmda.data() + b,
               s.g_nmda_bg.data() + b, s.g_gaba.data() + b, s.g_adapt.data() + b,
               s.i_ext.data() + b, s.v.data() + b, s.u.data() + b, count);
}

// Phases 4 and 5 run inside deliver() (per block of cells, while its data is in cache) unless
// profiling asks for every phase on its own; per cell the order is the same.
void CpuEngine::integrate_dendrites(int64_t step) {
    if (fused_) return;
    for_blocks([&](int64_t w) {
        const Block& k = blocks_[w];
        if (pops_[k.pop].has_dendrite) dendrite_cells(k.pop, k.begin, k.count, step);
    });
}

void CpuEngine::integrate_somata(int64_t) {
    if (fused_) return;
    for_blocks([&](int64_t w) {
        const Block& k = blocks_[w];
        soma_cells(k.pop, k.begin, k.count);
    });
}

// Phase 6: potentiation at postsynaptic spikes through the reverse index (each synapse has one
// writer: its target's thread); then the triplet rule's slow traces jump.
void CpuEngine::plasticity(int64_t) {
    for (uint32_t j = 0; j < projs_.size(); ++j) {
        auto& pj = projs_[j];
        if (!pj.plastic) continue;
        auto& net = net_.projections[j];
        const auto& post = pops_[pj.target].spike_ids;
        const int64_t ns = static_cast<int64_t>(post.size());
        const uint32_t K = net.in_degree;
        const bool triplet = pj.stdp.rule == model::StdpRule::triplet;
        for_chunks(ns, [&](int64_t q0, int64_t q1) {
            for (int64_t q = q0; q < q1; ++q) {
                const uint32_t t = post[q];
                const float o2 = triplet ? pj.o2[t] : 0.0f;
                for (uint32_t k = 0; k < K; ++k) {
                    const uint64_t r = static_cast<uint64_t>(t) * K + k;
                    const uint32_t syn = net.rev[r];
                    const uint32_t src = net.rev_src[r];  // = source_of(pj.source_rule, t, k)
                    net.weight[syn] = model::potentiate(pj.stdp, net.weight[syn], pj.x[src], o2);
                }
            }
        });
        if (triplet) {
            for (const uint32_t s : pops_[pj.source].spike_ids) pj.r2[s] = pj.r2[s] + 1.0f;
            for (const uint32_t t : post) pj.o2[t] = pj.o2[t] + 1.0f;
        }
    }
}

// The float array of a population called `var` (checkpoint names, l5sim/state_vars.hpp), or
// null.
const std::vector<float>* float_var(const PopulationState& s, const std::string& var) {
    const VarInfo* r = find_var(var);
    return r ? s.floats(r->var) : nullptr;
}

bool CpuEngine::find_nonfinite(uint32_t pop, std::string* var, uint32_t* cell) const {
    const auto& s = pops_[pop];
    for (const VarInfo& r : kVarTable) {
        if (!r.health) continue;
        const char* name = r.name;
        const std::vector<float>* a = s.floats(r.var);
        if (!a) continue;
        for (size_t i = 0; i < a->size(); ++i) {
            if (!std::isfinite((*a)[i])) {
                *var = name;
                *cell = static_cast<uint32_t>(i);
                return true;
            }
        }
    }
    return false;
}

void CpuEngine::read_state(uint32_t pop, const std::string& var, const std::vector<uint32_t>& cells,
                           float* out) const {
    const auto& s = pops_[pop];
    const VarInfo* r = find_probe_var(var);
    if (r && r->var == Var::burst) {
        for (size_t k = 0; k < cells.size(); ++k)
            out[k] = s.burst.empty() ? 0.0f : s.burst[cells[k]];
        return;
    }
    const std::vector<float>* src = r ? s.floats(r->var) : nullptr;
    if (!src || src->empty()) throw Error("no state variable '" + var + "' in this population");
    for (size_t k = 0; k < cells.size(); ++k) out[k] = (*src)[cells[k]];
}

const void* CpuEngine::locate(const StateBlock& b) const {
    const void* ptr = nullptr;
    uint64_t have = 0;
    auto vec = [&](const auto& v) {
        ptr = v.data();
        have = v.size() * sizeof(v[0]);
    };
    auto scalar = [&](const uint64_t& x) {
        ptr = &x;
        have = sizeof x;
    };
    if (b.kind == StateBlock::Kind::population) {
        const auto& s = pops_[b.index];
        const std::string& v = b.var;
        if (const auto* f = float_var(s, v))
            vec(*f);
        else if (v == "history")
            vec(s.history);
        else if (v == "burst")
            vec(s.burst);
        else if (v == "spikes")
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

}  // namespace

}  // namespace l5sim::cpu

namespace l5sim {
std::unique_ptr<Engine> make_cpu_engine(const Config& cfg, Network net) {
    return std::make_unique<cpu::CpuEngine>(cfg, std::move(net));
}
}  // namespace l5sim
