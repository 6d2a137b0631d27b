#pragma once
// Schedules and current injections (MODEL.md section 9): evaluated every step on the host; only
// changes are pushed to the engine, so a window costs nothing while nothing opens or closes.
#include <cstdint>
#include <vector>

#include "l5sim/config.hpp"
#include "l5sim/engine.hpp"

namespace l5sim {

class Controls {
  public:
    Controls(const Config& cfg, Engine& engine);
    /// Bring the engine's knobs to their values for `step` (call before the step's phases).
    void apply(int64_t step);
    /// After apply(step): how many steps from `step` on (1 to max) keep every schedule window
    /// and injection as it is at `step`, so that no knob changes inside them.
    int64_t steady_steps(int64_t step, int64_t max) const;
    /// Resuming at `step` (> 0): the knobs as apply(step - 1) left them.
    void resume_at(int64_t step);

  private:
    bool active_schedule(const ScheduleEntry& e, int64_t step) const;
    bool active_injection(const InjectionConfig& inj, int64_t step) const;
    double knob_value(const std::string& knob, double base) const;
    void push_all(int64_t step);

    const Config& cfg_;
    Engine& engine_;
    std::vector<char> sched_on_, inj_on_;
    bool first_ = true;
};

}  // namespace l5sim
