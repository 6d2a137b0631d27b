// Replicas packed into one simulation (l5sim/packed.hpp): the lockstep driver, written once
// over EngineGroup, and the CPU engine's group.
#include "l5sim/packed.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "cpu/spin_team.hpp"
#include "l5sim/error.hpp"
#include "l5sim/network.hpp"

namespace l5sim {

namespace {

// CPU members stepped on a thread team (host/cpu/spin_team.hpp), one member per thread at a time;
// each member is single-threaded (its config has threads = 1), so it runs no loops of its own
// in parallel.
class CpuGroup final : public EngineGroup {
  public:
    CpuGroup(std::vector<Engine*> members, int threads)
        : members_(std::move(members)),
          team_(static_cast<int>(
              std::clamp<int64_t>(std::min<int64_t>(threads, static_cast<int64_t>(members_.size())),
                                  1, omp_get_num_procs()))) {
        window_ = members_.empty() ? 1 : members_.front()->max_window();
        for (const Engine* e : members_) window_ = std::min(window_, e->max_window());
    }
    int64_t max_window() const override { return window_; }
    void run_window(int64_t step, int64_t count) override {
        team_.run(static_cast<int64_t>(members_.size()),
                  [&](int64_t r) { members_[r]->run_window(step, count); });
    }

  private:
    std::vector<Engine*> members_;
    cpu::SpinTeam team_;
    int64_t window_ = 1;
};

}  // namespace

EnginePack make_cpu_pack(const std::vector<Config>& cfgs, int threads) {
    EnginePack pack;
    std::vector<Engine*> members;
    for (const Config& cfg : cfgs) {
        pack.engines.push_back(make_cpu_engine(cfg, build_network(cfg)));
        members.push_back(pack.engines.back().get());
    }
    pack.group = std::make_unique<CpuGroup>(std::move(members), threads);
    return pack;
}

void run_packed(const std::vector<Simulation*>& sims, EngineGroup& group,
                const std::function<void(int64_t, int64_t)>& progress, size_t* failed) {
    if (sims.empty()) return;
    const int64_t total = sims.front()->config().steps();
    int64_t step = sims.front()->step();
    for (const Simulation* s : sims)
        if (s->config().steps() != total || s->step() != step)
            throw Error(
                "run_packed: the replicas of a pack must run the same steps from the same "
                "step");
    size_t at = 0;  // the member being driven (for *failed)
    try {
        for (at = 0; at < sims.size(); ++at) sims[at]->start_run();
        const auto t0 = std::chrono::steady_clock::now();
        while (step < total) {
            int64_t k = group.max_window();
            for (at = 0; at < sims.size(); ++at) k = std::min(k, sims[at]->begin_window(total, 0));
            k = std::max<int64_t>(k, 1);
            at = SIZE_MAX;
            group.run_window(step, k);
            for (at = 0; at < sims.size(); ++at) sims[at]->end_window(k);
            if (progress && (step + k) / 200 != step / 200) progress(step + k, total);
            step += k;
        }
        group.synchronize();
        const double wall =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        for (at = 0; at < sims.size(); ++at) sims[at]->finish_run(wall);
    } catch (...) {
        if (failed) *failed = at;
        throw;
    }
}

}  // namespace l5sim
