#pragma once
/// The abstract engine: one virtual call per phase of MODEL.md section 5. The step pipeline
/// (Simulation) is written once over this interface; the CPU and CUDA engines implement it.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "l5sim/config.hpp"
#include "l5sim/model/poisson.hpp"
#include "l5sim/model/synapse.hpp"
#include "l5sim/network.hpp"
#include "l5sim/state_vars.hpp"

namespace l5sim {

/// Spikes of one population: parallel arrays, in time order (ids ascending within a step).
struct SpikeRecord {
    std::vector<int64_t> steps;
    std::vector<uint32_t> ids;
};

/// The spikes of a window of `steps` steps from step `first`, population by population: the
/// global ids that fired at step first + k are ids[p][start[p][k]] to ids[p][start[p][k + 1]],
/// ascending.
struct WindowSpikes {
    int64_t first = 0, steps = 0;
    std::vector<std::vector<uint32_t>> start, ids;  // start: steps + 1 entries per population
    /// Empty lists for `pops` populations and `count` steps from `step`.
    void reset(size_t pops, int64_t step, int64_t count) {
        first = step;
        steps = count;
        start.assign(pops, std::vector<uint32_t>(static_cast<size_t>(count) + 1, 0));
        ids.assign(pops, {});
    }
};

/// Values a schedule can change during a run (MODEL.md section 9), pushed only on change.
struct PopulationDrive {
    model::PoissonConstants background_soma{};
    model::PoissonConstants background_dendrite{};
};

/// One array of the state that carries over from one step to the next (checkpoints). The list
/// (state_layout) depends on the config alone, so both engines read and write the same blocks
/// and a checkpoint of one engine resumes on the other.
struct StateBlock {
    enum class Kind : uint8_t { population, projection, global };
    std::string name;  // "PYR/v", "PYR_PYR/weight", "events"
    Kind kind = Kind::global;
    uint32_t index = 0;  // population or projection number
    std::string var;     // "v", "ring", "spikes", ...
    uint32_t elem_bytes = 4;
    uint64_t count = 0;
    uint64_t bytes() const { return elem_bytes * count; }
};

/// Every state block of a network, in checkpoint order. Rings are stored rotated: entry
/// [d][t] is the input arriving d steps after the checkpoint's step (d < max_ring_slots), so
/// the layout does not depend on an engine's ring size.
std::vector<StateBlock> state_layout(const Config& cfg);

/// The initial value of `var` for every cell of population `pop` (populations.<name>.init:
/// constants, or per-cell draws of model::initial_value). Both engines start from these.
std::vector<float> initial_values(const Config& cfg, uint32_t pop, model::InitVar var);
/// The starting value of every cell of population `pop` for float variable `r`
/// (VarInfo::start: its init entry, 0, poisson_never or the population's gamma).
std::vector<float> initial_floats(const Config& cfg, uint32_t pop, const VarInfo& r);

/// Ring buffer [slot][target] (slot = arrival step % slots) to the rotated checkpoint form
/// [d][target] (arrival step = step + d, d < out_slots; zero where d >= slots), and back. The
/// inverse throws Error if an entry the engine's ring cannot hold is non-zero.
void ring_to_rotated(const model::RingCell* ring, uint64_t slots, uint64_t n_tgt, int64_t step,
                     model::RingCell* out, uint64_t out_slots);
void ring_from_rotated(const model::RingCell* in, uint64_t in_slots, uint64_t n_tgt, int64_t step,
                       model::RingCell* ring, uint64_t slots, const std::string& name);

/// Wall time per phase (profiling), seconds.
struct PhaseTimes {
    double controls = 0, detect = 0, propagate = 0, deliver = 0, dendrites = 0, somata = 0,
           plasticity = 0, record = 0;
};

class Engine {
  public:
    virtual ~Engine() = default;
    virtual std::string name() const = 0;

    // Phases of one step, in this order (MODEL.md section 5).
    virtual void detect_spikes(int64_t step) = 0;        // 1: spike, reset, history, traces
    virtual void propagate(int64_t step) = 0;            // 2a: spikes -> delay rings, pre STDP
    virtual void deliver(int64_t step) = 0;              // 2b, 3: rings + background -> g, decay
    virtual void integrate_dendrites(int64_t step) = 0;  // 4: BAP, calcium, plateau -> c, d
    virtual void integrate_somata(int64_t step) = 0;     // 5
    virtual void plasticity(int64_t step) = 0;           // 6: post-side STDP
    /// The most steps one run_window call may take: a window no longer than the shortest delay
    /// (no spike can reach any cell inside it; DESIGN.md section 4), at most 32. 1: this
    /// engine steps one step at a time.
    virtual int64_t max_window() const { return 1; }
    /// Steps [step, step + count), count <= max_window(), with results bit-identical to
    /// `count` single steps. The caller keeps knob changes, probes and records out of the
    /// window (they happen before its first step or after its last).
    virtual void run_window(int64_t step, int64_t count) {
        for (int64_t n = step; n < step + count; ++n) {
            detect_spikes(n);
            propagate(n);
            deliver(n);
            integrate_dendrites(n);
            integrate_somata(n);
            plasticity(n);
        }
    }
    /// True when, with profiling on, this engine times the stages of its windows itself
    /// (synchronising between them); take_window_phases then adds them to `t`: the per-cell
    /// kernel (phases 1-5) to deliver, the window's propagation to propagate, its post-side
    /// STDP and trace update to plasticity. Otherwise profiling steps singly.
    virtual bool times_windows() const { return false; }
    virtual void take_window_phases(PhaseTimes*) {}
    /// Wait until the work issued so far is done (phase profiling; a no-op on the CPU).
    virtual void synchronize() {}
    /// Profiling on: every phase call does its own work (an engine may otherwise batch a step).
    virtual void set_profiling(bool) {}

    /// Move the spikes recorded since the last call into `out` (appended, time order). Engines
    /// record every spike when `record` was true at construction, and count them always.
    virtual void take_spikes(uint32_t pop, SpikeRecord* out) = 0;
    /// Spikes fired so far.
    virtual uint64_t spike_count(uint32_t pop) const = 0;
    /// Spikes fired in burst mode (calcium-triggered) so far.
    virtual uint64_t calcium_spikes(uint32_t pop) const = 0;
    /// Synaptic events delivered so far (spike x outgoing synapses).
    virtual uint64_t synaptic_events() const = 0;

    // Knobs (host values, pushed when a schedule window opens or closes).
    /// Background rates and weights from `step` on. A rate change rescales each source's time to
    /// its next input spike (model::poisson_rate_change); the first call starts the sources.
    virtual void set_drive(uint32_t pop, const PopulationDrive& d, int64_t step) = 0;
    virtual void set_gamma(uint32_t pop, const std::vector<float>& gamma) = 0;
    virtual void set_current(uint32_t pop, Compartment c, const std::vector<float>& pA) = 0;
    virtual void set_projection(uint32_t proj, double gain, double eta) = 0;

    /// Copy one state variable (a probe name of configs/README.md) of the given cells.
    virtual void read_state(uint32_t pop, const std::string& var,
                            const std::vector<uint32_t>& cells, float* out) const = 0;
    /// Current weights of synapses 0, stride, 2 stride, ... (`count` of them, CSR order).
    virtual void read_weights(uint32_t proj, uint64_t stride, uint64_t count, float* out) const = 0;
    /// Source and target ids of the same synapses.
    virtual void read_synapses(uint32_t proj, uint64_t stride, uint64_t count, uint32_t* src,
                               uint32_t* tgt) const = 0;
    virtual uint64_t synapse_count(uint32_t proj) const = 0;
    /// The first health-checked variable (VarInfo::health, l5sim/state_vars.hpp) in which
    /// population `pop` holds a NaN or an infinity, and the lowest such cell; false when all are
    /// finite.
    virtual bool find_nonfinite(uint32_t pop, std::string* var, uint32_t* cell) const = 0;
    /// Bytes of connectivity held (CSR, weights, delays, reverse index), all projections.
    virtual uint64_t connectivity_bytes() const = 0;
    /// The fixed-point exponent of projection `proj`'s delay ring (2^e units per nS;
    /// ring_fixed_exponent).
    virtual int ring_fixed_exponent(uint32_t proj) const = 0;
    /// Device memory this engine holds (0 for the CPU engine).
    virtual uint64_t device_bytes() const { return 0; }
    /// summary.json's `mpi` section (a JSON object) of an engine spread over MPI ranks; empty
    /// for one process. Collective like every read of such an engine.
    virtual std::string mpi_summary() const { return ""; }
    /// The cells of population `pop` this engine holds when it holds only some (a rank of a
    /// distributed run: ascending global ids), else null (every cell). Knobs (set_gamma,
    /// set_current) then take values for these cells only, in this order.
    virtual const std::vector<uint32_t>* local_cells(uint32_t) const { return nullptr; }

    /// Distributed runs (docs/SCALING.md; an engine over a rank's cells, make_cpu_engine with
    /// LocalCells) step a window of at most max_window() steps in two halves around the
    /// exchange of its spikes between the ranks. window_cells: the cells' part of each step
    /// (phases 1 and 2b-5; only phase 1 when a delay is zero: the window is then one step), the
    /// spikes recorded and counted.
    virtual void window_cells(int64_t step, int64_t count);
    /// This engine's spikes of the last window_cells (global ids).
    virtual const WindowSpikes& window_spikes() const;
    /// The synapses' part of each step of that window, in step order: presynaptic traces,
    /// propagation with pre-side depression, post-side STDP (and, when a delay is zero, phases
    /// 2b-5 after the propagation). `all` holds the window's spikes of every source cell this
    /// engine's synapses need (subscribed_sources) and of its own cells; any others are ignored.
    virtual void window_synapses(const WindowSpikes& all);

    /// Copy a state block (of state_layout) out of / into the engine, between steps; `step` is
    /// the next step to run (the ring rotation). Spikes must have been taken first.
    virtual void read_block(const StateBlock& b, int64_t step, void* dst) const = 0;
    virtual void write_block(const StateBlock& b, int64_t step, const void* src) = 0;
    /// write_block from a source read in order, piece by piece (a checkpoint file):
    /// `read(dst, bytes)` gives the block's next `bytes` bytes. The default reads the whole
    /// block first; an engine holding a share of the network (a rank) keeps only its share and
    /// reads the rest through a bounded buffer.
    using BlockSource = std::function<void(void*, uint64_t)>;
    virtual void write_block_from(const StateBlock& b, int64_t step, const BlockSource& read);
    /// read_block into a sink that takes the block's bytes in order, piece by piece (a
    /// checkpoint file): `write(src, bytes)`. The default reads the whole block first; the
    /// engines hand their large blocks over from where they hold them (the CPU engine's memory,
    /// the device in pieces), and a rank of a distributed run (whose rank 0 alone writes) sends
    /// rank 0 the block in bounded pieces, so that no process holds a whole block twice.
    using BlockSink = std::function<void(const void*, uint64_t)>;
    virtual void read_block_to(const StateBlock& b, int64_t step, const BlockSink& write) const;
};

/// Throws an Error unless `all` is a well-formed WindowSpikes of the window [first, first +
/// steps) of cfg's populations (every id a cell of its population): what window_synapses takes.
void check_window_spikes(const Config& cfg, const WindowSpikes& all, int64_t first, int64_t steps);
/// The window length asked for in the environment (L5SIM_WINDOW = 1..32), or 0 when unset:
/// the CUDA engine's windows are at most that long (1: step by step); the CPU engine, which
/// steps singly by default, then runs windows of the generic run_window (tests of the window
/// bookkeeping). Throws Error for any other value.
int64_t requested_window();
/// The longest window a network allows: its shortest delay in steps (32 at most; 32 without
/// projections). `min_delays` holds each projection's shortest delay.
int64_t window_bound(const std::vector<uint32_t>& min_delays);

/// The CPU reference engine (OpenMP). Takes ownership of the network.
/// A rank's share of a network (l5sim/partition.hpp): the global ids of the cells it owns, per
/// population, ascending (cells_of). Empty: every cell, one process.
struct LocalCells {
    std::vector<std::vector<uint32_t>> gid;
    /// Per population, the source cells whose CSR rows and presynaptic traces this engine holds
    /// (ascending global ids: its own cells and those it subscribes to); every part from the
    /// population has these rows (set_source_rows). Only spikes of these cells propagate.
    std::vector<std::vector<uint32_t>> sources;
    /// The window every rank steps (the whole network's shortest delay, window_bound; the
    /// ranks agree on it); 0: from this engine's own delays.
    int64_t window = 0;
};

/// Throws an Error unless `ids` (a rank's `what` of population `pop`: "cells" or "sources") are
/// ascending global ids below the population's size.
void check_local_ids(const Config& cfg, uint32_t pop, const std::vector<uint32_t>& ids,
                     const char* what);
/// The values of a rank's cells `gid` among per-cell values of a whole population of `n`
/// (knobs); values of another length (already the rank's) as they are.
std::vector<float> values_of_cells(const std::vector<uint32_t>& gid, uint32_t n,
                                   const std::vector<float>& all);

/// The CPU engine over `net` (build_network), or over a rank's cells: `local` lists them and
/// `net` holds their parts (build_projection_part, bounds agreed with set_global_bounds).
std::unique_ptr<Engine> make_cpu_engine(const Config& cfg, Network net, LocalCells local = {});

/// The CUDA engine (builds its network on the device), or an Error saying why it cannot run.
std::unique_ptr<Engine> make_cuda_engine(const Config& cfg);
/// The CUDA engine over a rank's cells, on the current device (cuda_use_device), as
/// make_cpu_engine's with `local`: `net` holds the rank's parts, built on the host. Every delay
/// must be at least one step (a ConfigError otherwise).
std::unique_ptr<Engine> make_cuda_engine(const Config& cfg, Network net, LocalCells local);
/// Device memory (bytes) the CUDA engine of a rank needs for these cells and parts.
uint64_t cuda_rank_bytes(const Config& cfg, const Network& net, const LocalCells& local);
/// Makes device `index` modulo the visible devices this thread's device (a rank's: its index
/// among the ranks of its node) and returns it; `pci_key` (when given) receives a number that
/// names the card itself (its PCI domain, bus and slot: ranks that see different cards under
/// the same index, with CUDA_VISIBLE_DEVICES, do not share one). An Error when no device is
/// visible.
int cuda_use_device(int index, int* pci_key = nullptr);
/// True when this build has the CUDA engine and a device is visible.
bool cuda_available(std::string* why = nullptr);

}  // namespace l5sim
