#pragma once
// POD views of the CUDA engine's device state, passed to kernels by value (STYLE.md, Kernels).
// Plain header: g++ can include it (no CUDA syntax).
#include <cstdint>

#include "l5sim/model/connectivity.hpp"
#include "l5sim/model/dendrite.hpp"
#include "l5sim/model/izhikevich.hpp"
#include "l5sim/model/poisson.hpp"
#include "l5sim/model/stdp.hpp"
#include "l5sim/model/synapse.hpp"

namespace l5sim::cuda {

/// One spike as recorded on the device: (step << 32) | cell id, so that sorting the keys as
/// integers puts the record in (step, id) order, the CPU engine's.
L5_HD inline unsigned long long spike_key(uint32_t step, uint32_t id) {
    return (static_cast<unsigned long long>(step) << 32) | id;
}

/// An STDP trace a population owns as the source (x, r2) or target (y, o2) of a plastic
/// projection; stepped in phase 1 by the kernel that detects the population's spikes.
struct TraceView {
    float* fast;  // x or y
    float* slow;  // r2 or o2 (triplet rule only; null otherwise)
    float decay, slow_decay;
    model::StdpRule rule;
};
inline constexpr int kMaxTraces = 4;

struct PopView {
    uint32_t n = 0;
    uint32_t index = 0;  // population number (random stream ids)
    // A rank's engine (LocalCells): the global id of each of its cells, the key of the cell's
    // random numbers; null: one process, the key is the index
    const uint32_t* gid = nullptr;
    bool has_dendrite = false;   // CellCaps (a type that does not adapt: adapt_increment 0)
    bool all_receptors = false;  // steps every receptor, not only the core ones
    model::IzhConstants soma{};
    model::DendriteConstants dend{};
    model::Coupling coupling = model::Coupling::stochastic;
    float adapt_increment = 0, adapt_decay = 1, adapt_E = -80;
    model::PoissonConstants bg_soma{}, bg_dend{};
    model::ReceptorConstants rc{};
    // soma; g: the conductance of each receptor (null past the population's receptors_of)
    float *v, *u, *g_nmda_bg, *g_adapt, *i_ext;
    float* g[model::kReceptorCount] = {};
    float* rem_soma;  // background: steps to the next input spike (model/poisson.hpp)
    // dendrite (has_dendrite only; null otherwise)
    float *v_d, *u_d, *i_ext_d, *gamma;
    float* g_d[model::kReceptorCount] = {};  // null: the population lacks the receptor
    float* rem_dend;
    uint32_t* history;
    uint8_t* burst;
    // STDP traces stepped with the spike test
    int n_traces = 0;
    TraceView traces[kMaxTraces];
    // this step: the ids of the cells that spiked, in no particular order (warp-aggregated
    // appends; every consumer is order-free, and the host sorts the record by step and id)
    uint32_t* spike_ids;
    int* spike_count;  // device scalar: spikes in spike_ids; zeroed by the step's last kernel
    // windows of steps (DESIGN.md section 4): bit j = the cell spiked at the window's step j,
    // written for every cell by the window's per-cell kernel; spike_ids then lists each cell
    // that spiked in the window once
    uint32_t* spike_mask;
    // recording and counters
    bool record_spikes = false;
    unsigned long long* record;        // spike_key entries
    unsigned long long* record_count;  // entries used in record
    unsigned long long record_capacity;
    unsigned long long* counters;  // [0] spikes, [1] calcium spikes, [2] record overflow
    const uint32_t* step;          // device scalar: the step being computed
};

/// What the step's last kernel needs of each population: spike counter, record fill level.
struct PopTail {
    int* spike_count;
    unsigned long long* record_count;
    unsigned long long* counters;
    unsigned long long record_capacity;
    uint32_t record;  // 1: the population's spikes are recorded
};

/// One incoming projection as the per-cell update sees it.
struct InputView {
    const model::RingCell* ring;  // [slot][cell], 32-bit fixed point
    model::RingCell* ring_mut;
    uint32_t slots;
    float ns_per_fixed;                   // the ring's scale, 2^-e nS per unit
    uint8_t dendrite;                     // 0: soma, 1: dendrite
    float factor[model::kReceptorCount];  // receptor factors x gain
};

inline constexpr int kMaxInputs = 8;
struct InputSet {
    int count = 0;
    InputView in[kMaxInputs];
};

/// Synapses one warp handles in propagation and post-side STDP (rows are split into chunks so
/// that a few hundred spiking cells still give the GPU thousands of warps).
inline constexpr uint32_t kChunk = 128;

struct ProjView {
    uint32_t n_src = 0, n_tgt = 0, in_degree = 0, slots = 1;
    uint32_t row_chunks = 1;  // ceil(longest CSR row / kChunk)
    const uint64_t* row_ptr;
    const uint32_t* target_delay;  // target id (24 bits) | delay steps << 24
    float* weight;
    const uint32_t* rev;
    model::RingCell* ring;
    float fixed_per_ns = 1;  // the ring's scale, 2^e units per nS
    bool plastic = false;
    model::StdpConstants stdp{};
    model::SourceRule source{};  // recomputes the source of a reverse-index entry
    // A rank's part (LocalCells): the source row of each reverse-index entry (its rows are the
    // sources it holds, not the population's cells); null: recomputed from `source`
    const uint32_t* rev_src = nullptr;
    float *x, *r2, *y, *o2;
    const uint32_t* src_mask;  // the source's / target's PopView::spike_mask (windows)
    const uint32_t* tgt_mask;
    unsigned long long* events;  // device scalar
    const uint32_t* step;        // device scalar: the step being computed
};

// Packed replicas (l5sim/packed.hpp): one launch per stage for the populations or projections
// of many members. Each is a task; task t owns the launch's blocks [first[t], first[t + 1]).

/// One population of one member, as the per-cell kernels see it.
struct PopTask {
    PopView pop;
    InputSet in;
    uint64_t seed;
};

/// One projection of one member, and the spike lists of its source and target populations.
struct ProjTask {
    ProjView proj;
    const uint32_t* pre_ids;
    const int* pre_count;
    const uint32_t* post_ids;
    const int* post_count;
};

/// The task that owns block b of a fused launch: the last t < count with first[t] <= b
/// (first[0] = 0, first ascending; a task of no blocks is never chosen).
L5_HD inline uint32_t task_of(const uint32_t* first, uint32_t count, uint32_t b) {
    uint32_t lo = 0, hi = count;
    while (hi - lo > 1) {
        const uint32_t mid = (lo + hi) >> 1;
        if (first[mid] <= b) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/// The tasks of one fused launch (device arrays): `count` tasks, first[count] = total blocks.
template <class T>
struct TaskList {
    const T* task = nullptr;
    const uint32_t* first = nullptr;
    uint32_t count = 0;
    uint32_t blocks = 0;
};

}  // namespace l5sim::cuda
