#include "run/controls.hpp"

#include <algorithm>
#include <cmath>

namespace l5sim {

Controls::Controls(const Config& cfg, Engine& engine)
    : cfg_(cfg),
      engine_(engine),
      sched_on_(cfg.schedule.size(), 0),
      inj_on_(cfg.injections.size(), 0) {}

bool Controls::active_schedule(const ScheduleEntry& e, int64_t step) const {
    const int64_t a = cfg_.to_steps(e.start_ms);
    const int64_t b = e.stop_ms < 0 ? INT64_MAX : cfg_.to_steps(e.stop_ms);
    return step >= a && step < b;
}

bool Controls::active_injection(const InjectionConfig& inj, int64_t step) const {
    if (inj.kind == InjectionConfig::Kind::constant) return true;
    const int64_t a = cfg_.to_steps(inj.start_ms);
    const int64_t b = inj.stop_ms < 0 ? INT64_MAX : cfg_.to_steps(inj.stop_ms);
    if (step < a || step >= b) return false;
    if (inj.kind == InjectionConfig::Kind::step) return true;
    const int64_t period = std::max<int64_t>(1, cfg_.to_steps(inj.period_ms));
    const int64_t width = std::max<int64_t>(1, cfg_.to_steps(inj.width_ms));
    return (step - a) % period < width;
}

// Base value with every open window applied in config order (set replaces, add adds).
double Controls::knob_value(const std::string& knob, double base) const {
    double v = base;
    for (size_t i = 0; i < cfg_.schedule.size(); ++i) {
        const auto& e = cfg_.schedule[i];
        if (!sched_on_[i] || e.knob != knob) continue;
        v = e.op == ScheduleEntry::Op::set ? e.value : v + e.value;
    }
    return v;
}

static model::PoissonConstants poisson(double rate_hz, double weight, double dt_ms) {
    const double lambda = std::max(0.0, rate_hz) * dt_ms * 1e-3;
    return model::PoissonConstants{static_cast<float>(lambda), static_cast<float>(weight)};
}

void Controls::push_all(int64_t step) {
    for (uint32_t p = 0; p < cfg_.populations.size(); ++p) {
        const auto& pop = cfg_.populations[p];
        // Values for the cells the engine holds (a rank's: its cells only, never a vector over
        // the whole population), and the place of a listed cell among them (-1: not held).
        const std::vector<uint32_t>* held = engine_.local_cells(p);
        const uint32_t n = held ? static_cast<uint32_t>(held->size()) : pop.n;
        auto place = [&](uint32_t c) -> int64_t {
            if (!held) return c;
            const auto it = std::lower_bound(held->begin(), held->end(), c);
            return it != held->end() && *it == c ? it - held->begin() : -1;
        };
        PopulationDrive d;
        d.background_soma =
            poisson(knob_value(pop.name + ".background.soma.rate_hz", pop.background_soma.rate_hz),
                    pop.background_soma.weight, cfg_.dt_ms);
        if (pop.caps.has_dendrite) {
            d.background_dendrite = poisson(knob_value(pop.name + ".background.dendrite.rate_hz",
                                                       pop.background_dendrite.rate_hz),
                                            pop.background_dendrite.weight, cfg_.dt_ms);
            std::vector<float> gamma(n, static_cast<float>(pop.gamma));
            const std::string knob = pop.name + ".gamma";
            for (size_t i = 0; i < cfg_.schedule.size(); ++i) {
                const auto& e = cfg_.schedule[i];
                if (!sched_on_[i] || e.knob != knob) continue;
                auto apply = [&](uint32_t c) {
                    const double g = e.op == ScheduleEntry::Op::set ? e.value : gamma[c] + e.value;
                    gamma[c] = static_cast<float>(std::clamp(g, 0.0, 1.0));
                };
                if (e.cells.empty()) {
                    for (uint32_t c = 0; c < n; ++c) apply(c);
                } else {
                    for (uint32_t c : e.cells)
                        if (const int64_t k = place(c); k >= 0) apply(static_cast<uint32_t>(k));
                }
            }
            engine_.set_gamma(p, gamma);
        }
        engine_.set_drive(p, d, step);
        std::vector<float> soma(n, 0.0f), dend;
        if (pop.caps.has_dendrite) dend.assign(n, 0.0f);
        for (size_t k = 0; k < cfg_.injections.size(); ++k) {
            const auto& inj = cfg_.injections[k];
            if (!inj_on_[k] || inj.population != p) continue;
            const float amp = static_cast<float>(
                knob_value("injections." + inj.name + ".amplitude_pA", inj.amplitude_pA));
            auto& target = inj.compartment == Compartment::soma ? soma : dend;
            if (inj.cells.empty()) {
                for (auto& x : target) x = x + amp;
            } else {
                for (uint32_t c : inj.cells)
                    if (const int64_t k = place(c); k >= 0) target[k] = target[k] + amp;
            }
        }
        engine_.set_current(p, Compartment::soma, soma);
        if (pop.caps.has_dendrite) engine_.set_current(p, Compartment::dendrite, dend);
    }
    for (uint32_t j = 0; j < cfg_.projections.size(); ++j) {
        const auto& pr = cfg_.projections[j];
        const double gain = std::max(0.0, knob_value("projections." + pr.name + ".gain", pr.gain));
        const double eta =
            pr.stdp ? std::max(0.0, knob_value("projections." + pr.name + ".eta", pr.stdp->eta))
                    : 0;
        engine_.set_projection(j, gain, eta);
    }
}

void Controls::apply(int64_t step) {
    bool changed = first_;
    first_ = false;
    for (size_t i = 0; i < cfg_.schedule.size(); ++i) {
        const char on = active_schedule(cfg_.schedule[i], step);
        changed = changed || on != sched_on_[i];
        sched_on_[i] = on;
    }
    for (size_t k = 0; k < cfg_.injections.size(); ++k) {
        const char on = active_injection(cfg_.injections[k], step);
        changed = changed || on != inj_on_[k];
        inj_on_[k] = on;
    }
    if (changed) push_all(step);
}

int64_t Controls::steady_steps(int64_t step, int64_t max) const {
    for (int64_t k = 1; k < max; ++k) {
        for (size_t i = 0; i < cfg_.schedule.size(); ++i)
            if (active_schedule(cfg_.schedule[i], step + k) != static_cast<bool>(sched_on_[i]))
                return k;
        for (size_t i = 0; i < cfg_.injections.size(); ++i)
            if (active_injection(cfg_.injections[i], step + k) != static_cast<bool>(inj_on_[i]))
                return k;
    }
    return std::max<int64_t>(1, max);
}

void Controls::resume_at(int64_t step) {
    if (step <= 0) return;
    apply(step - 1);
}

}  // namespace l5sim
