#pragma once
// The CPU reference engine: OpenMP loops over the shared model functions, one loop per phase.
// Deterministic for any thread count: per-cell work is independent, synaptic input is summed in
// 32-bit fixed point (the delay rings, docs/ARCHITECTURE.md "Fixed point") with atomic integer
// adds, and each synapse has one writer per phase.
// Declared here; defined in cpu_engine.cpp (construction, knobs, state access) and
// cpu_step.cpp (the phases' loops).
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

// Below this many items a loop runs on one thread (fork/join costs more than the work).
constexpr int64_t kParallelMin = 4096;
// Cells per block of the loops that the compiler vectorises (in functions of their own: GCC
// does not vectorise them inside OpenMP-outlined bodies).
constexpr int64_t kSimdBlock = 1024;

class CpuEngine final : public Engine {
  public:
    CpuEngine(const Config& cfg, Network net, LocalCells local)
        : cfg_(cfg), net_(std::move(net)), local_(std::move(local)) {
        rc_ = receptor_constants(cfg);
        distributed_ = !local_.gid.empty();
        if (distributed_ && (local_.gid.size() != cfg.populations.size() ||
                             local_.sources.size() != cfg.populations.size()))
            throw Error("LocalCells: one list of cells and one of sources per population");
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
        zero_delay_ = !overlap_propagation_;
        // A rank's engine steps the windows its ranks agree on; one process steps singly
        // unless L5SIM_WINDOW asks for windows (tests of the two-pass window, which must not
        // change any result).
        const int64_t asked = requested_window();
        if (distributed_) {
            window_ = local_.window > 0 ? local_.window : window_bound(min_delays);
            if (window_ > window_bound(min_delays))
                throw Error("LocalCells: a window of " + std::to_string(window_) +
                            " steps, longer than this rank's shortest delay");
        } else {
            window_ = asked > 0 ? std::min(asked, window_bound(min_delays)) : 1;
        }
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
    void window_cells(int64_t step, int64_t count) override;
    const WindowSpikes& window_spikes() const override { return win_mine_; }
    void window_synapses(const WindowSpikes& all) override;
    // One process's window: both halves, with its own spikes.
    void run_window(int64_t step, int64_t count) override {
        if (distributed_)
            throw Error("a rank's CPU engine steps by window_cells and window_synapses");
        window_cells(step, count);
        window_synapses(win_mine_);
    }

    void set_drive(uint32_t pop, const PopulationDrive& d, int64_t step) override;
    // Knobs come per cell of the whole population; a rank's engine takes its cells' values.
    void set_gamma(uint32_t pop, const std::vector<float>& g) override {
        pops_[pop].st.set(Var::gamma, mine(pop, g));
    }
    void set_current(uint32_t pop, Compartment c, const std::vector<float>& pA) override {
        pops_[pop].st.set(c == Compartment::soma ? Var::i_ext : Var::i_ext_d, mine(pop, pA));
    }
    void set_projection(uint32_t j, double gain, double eta) override {
        auto& pj = projs_[j];
        for (int r = 0; r < model::kReceptorCount; ++r)
            pj.factor[r] = static_cast<float>(pj.receptor[r] * gain);
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
            src[k] = c.source_of_row(row);
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
            if (n_tgt == 0) return;  // a rank without cells of the target population
            ring_to_rotated(pj.ring.data(), pj.slots, n_tgt, step,
                            static_cast<model::RingCell*>(dst), b.count / n_tgt);
            return;
        }
        if (b.kind == StateBlock::Kind::population && pops_[b.index].st.read_block(b, dst)) return;
        std::memcpy(dst, locate(b), b.bytes());
    }
    // State, weights, traces and counters straight from where they are, rings row by row of
    // the rotated block (row d: the slot of step + d), never a copy of a whole block.
    void read_block_to(const StateBlock& b, int64_t step, const BlockSink& write) const override {
        if (b.var == "ring") {
            const auto& pj = projs_[b.index];
            const uint64_t n = pops_[pj.target].n, rows = n ? b.count / n : 0;
            const std::vector<model::RingCell> zero(n, 0);
            for (uint64_t d = 0; d < rows; ++d)
                write(d < pj.slots ? pj.ring.data() + (uint64_t(step) + d) % pj.slots * n
                                   : zero.data(),
                      n * sizeof(model::RingCell));
            return;
        }
        const void* held = nullptr;
        if (b.kind == StateBlock::Kind::population && pops_[b.index].st.block_memory(b, &held))
            return write(held, b.bytes());
        write(locate(b), b.bytes());
    }
    void write_block(const StateBlock& b, int64_t step, const void* src) override {
        if (b.var == "ring") {
            auto& pj = projs_[b.index];
            const uint64_t n_tgt = pops_[pj.target].n;
            if (n_tgt == 0) return;  // a rank without cells of the target population
            ring_from_rotated(static_cast<const model::RingCell*>(src), b.count / n_tgt, n_tgt,
                              step, pj.ring.data(), pj.slots, b.name);
            return;
        }
        if (b.kind == StateBlock::Kind::population && pops_[b.index].st.write_block(b, src)) return;
        std::memcpy(const_cast<void*>(locate(b)), src, b.bytes());
    }

  private:
    // The host memory of a state block (not rings, not the populations' state variables, which
    // PopulationStore holds), checked against the block's size.
    const void* locate(const StateBlock& b) const;
    void init_population(uint32_t p);
    void init_projection(uint32_t j);

    const Config& cfg_;
    Network net_;
    LocalCells local_;          // a rank's cells; empty: one process
    bool distributed_ = false;  // !local_.gid.empty()
    // The spikes that propagate from population p, as rows of its projections' CSR: the
    // window's spikes of the sources a rank holds when distributed, else this engine's (the
    // row is the cell).
    const std::vector<uint32_t>& source_spikes(uint32_t p) const {
        return distributed_ ? pops_[p].all_spikes : pops_[p].spike_ids;
    }
    // The random-number keys of cells idx[0, m) of population p: their global ids.
    const uint32_t* cell_keys(uint32_t p, const uint32_t* idx, int64_t m, uint32_t* buf) const {
        const auto& gid = pops_[p].gid;
        if (!distributed_) return idx;
        for (int64_t a = 0; a < m; ++a) buf[a] = gid[idx[a]];
        return buf;
    }
    // The values of this engine's cells among per-cell values of all of population p.
    std::vector<float> mine(uint32_t p, const std::vector<float>& all) const {
        return distributed_ ? values_of_cells(pops_[p].gid, pops_[p].n_global, all) : all;
    }
    uint32_t cell_key(uint32_t p, uint32_t i) const { return distributed_ ? pops_[p].gid[i] : i; }
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
    bool zero_delay_ = false;  // some delay is 0 steps: windows of one step, cells after synapses
    // The window being stepped (window_cells, window_synapses): its spikes by local index and
    // by global id; traces_in_detect_ is false while its cells advance (the traces follow in
    // window_synapses).
    WindowSpikes win_local_, win_mine_;
    bool traces_in_detect_ = true;
    void step_traces_block(uint32_t p, int64_t b, int64_t count);
    void step_source_traces(uint32_t pop);
    void run_propagation(int64_t step);  // the planned items, now, and their events
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

}  // namespace l5sim::cpu
