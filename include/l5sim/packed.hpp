#pragma once
/// Replicas packed into one simulation (DESIGN.md section 5): the engines of many independent
/// replicas stepped together, window by window, as one block-diagonal network. On the CUDA
/// engine every stage of a step is one kernel launch for all replicas (the members' populations
/// and projections are the blocks of the launch), so a sweep of hundreds of small circuits
/// fills the GPU instead of paying a graph launch per replica per step. Each replica keeps its
/// own state, seed, knobs, probes and records: its outputs are byte-identical to a plain run of
/// its config.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "l5sim/config.hpp"
#include "l5sim/engine.hpp"
#include "l5sim/simulation.hpp"

namespace l5sim {

/// Engines stepped together: one call advances every member through the same steps.
class EngineGroup {
  public:
    virtual ~EngineGroup() = default;
    /// The most steps one run_window may take (every member reports the same max_window).
    virtual int64_t max_window() const = 0;
    /// Every member through steps [step, step + count); each member's knobs were pushed to it
    /// before (by its Simulation), its records are read after.
    virtual void run_window(int64_t step, int64_t count) = 0;
    /// Wait until the work issued so far is done.
    virtual void synchronize() {}
};

/// A group and its members (one engine per config, in order). The engines refer to their
/// configs, which must outlive them; a member may outlive its group but is not stepped then.
struct EnginePack {
    std::unique_ptr<EngineGroup> group;
    std::vector<std::unique_ptr<Engine>> engines;
};

/// CPU engines stepped together, `threads` members at a time (each member on one thread).
EnginePack make_cpu_pack(const std::vector<Config>& cfgs, int threads);
/// CUDA engines sharing one stream, their kernels fused: one launch per stage of a step (or
/// window) for all members. Error when the members do not fit the device's free memory.
EnginePack make_cuda_pack(const std::vector<Config>& cfgs);
/// Device bytes one more member of a CUDA pack needs (estimate, before anything is allocated).
uint64_t cuda_member_bytes(const Config& cfg);
/// Free device memory now (bytes); 0 without CUDA.
uint64_t cuda_free_bytes();

/// Run simulations made over a pack's engines (same number of steps, same first step) to the
/// end, in lockstep: each window is as long as every member allows. `progress(step, steps)` is
/// called every few hundred steps. When a member throws (a health check, say), `*failed` is set
/// to its index (SIZE_MAX: the group's own step failed) and the exception passes on.
void run_packed(const std::vector<Simulation*>& sims, EngineGroup& group,
                const std::function<void(int64_t, int64_t)>& progress = {},
                size_t* failed = nullptr);

}  // namespace l5sim
