// Every Philox counter a realistic run draws, collected through the trace hook of
// l5sim_core_trace (model::philox_trace) and checked against what the keys mean, without the
// code that makes them: no two cells and no two draws of one cell share a counter. The rules:
// - background (stream kind 1): each (population, step, cell, j) drawn exactly once, its step
//   word a step of the run, its cell word a cell of the population, and the draws j of a cell in a
//   step numbered 0, 1, 2, ... without a gap (a cell draws again only while an input is due); the
//   fresh draw of a rate change (sub kFreshSub) at most twice, once per source (word 0 soma,
//   word 1 dendrite);
// - coupling (kind 2): sub 0, at most twice per (step, cell) (the CPU engine's two passes draw the
//   same counter for word 0 then word 1: the same draw, not two);
// - init (kind 5): each (population, variable, cell) exactly once, the variable word < kInitVars.
// A mistake in a key (the extra draws' (step, id, j) written as (step, j, id); a counter layout
// that drops a word) makes two draws share a counter or breaks a rule above.
// Positions and connectivity (kinds 3, 4) are recomputed by design (a target's position for
// each of its sources), so they are not counted here; tests/model covers their keys.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "l5sim/config.hpp"
#include "l5sim/model/initial.hpp"
#include "l5sim/model/poisson.hpp"
#include "l5sim/model/rng.hpp"
#include "l5sim/simulation.hpp"

using namespace l5sim;

namespace {

std::mutex g_mutex;
std::vector<model::Counter4> g_counters;

void collect(const model::Counter4& c) {
    const uint32_t kind = c.w[2] >> 16;
    if (kind != 1 && kind != 2 && kind != 5) return;
    std::lock_guard<std::mutex> lock(g_mutex);
    g_counters.push_back(c);
}

struct Key {
    uint32_t kind, pop, step, id, sub;
    auto tie() const { return std::tie(kind, pop, step, id, sub); }
    bool operator<(const Key& o) const { return tie() < o.tie(); }
    bool operator==(const Key& o) const { return tie() == o.tie(); }
};

// Run `cfg` on the CPU engine with the hook on; the counters drawn, as keys, sorted.
std::vector<Key> traced_run(const Config& cfg) {
    g_counters.clear();
    model::philox_trace = &collect;
    {
        Simulation sim(cfg, Simulation::Backend::cpu);
        sim.run();
    }
    model::philox_trace = nullptr;
    std::vector<Key> keys;
    keys.reserve(g_counters.size());
    for (const auto& c : g_counters)
        keys.push_back({c.w[2] >> 16, c.w[2] & 0xffffu, c.w[1], c.w[0], c.w[3]});
    std::sort(keys.begin(), keys.end());
    return keys;
}

struct Tally {
    uint64_t background = 0, fresh = 0, coupling = 0, init = 0;
};

// Check the rules of the file comment (the first 20 breaches reported, then their count);
// returns how many distinct counters of each kind.
Tally check(const Config& cfg, const std::vector<Key>& keys) {
    const uint32_t steps = static_cast<uint32_t>(cfg.steps());
    Tally t;
    uint64_t breaches = 0;
    std::string where;
    auto require = [&](bool ok, const std::string& rule) {
        if (ok) return;
        if (++breaches <= 20) ADD_FAILURE() << where << ": " << rule;
    };
    for (size_t a = 0; a < keys.size();) {
        size_t b = a;
        while (b < keys.size() && keys[b] == keys[a]) ++b;
        const Key& k = keys[a];
        const uint64_t times = b - a;
        where = "kind " + std::to_string(k.kind) + " pop " + std::to_string(k.pop) + " step " +
                std::to_string(k.step) + " id " + std::to_string(k.id) + " sub " +
                std::to_string(k.sub) + " drawn " + std::to_string(times) + " times";
        a = b;
        if (k.pop >= cfg.populations.size()) {
            require(false, "no such population");
            continue;
        }
        require(k.id < cfg.populations[k.pop].n, "no such cell");
        if (k.kind == 5) {
            ++t.init;
            require(times == 1, "an initial-state draw made more than once");
            require(k.step < static_cast<uint32_t>(model::kInitVars), "no such variable");
            require(k.sub == 0, "sub is not 0");
            continue;
        }
        require(k.step < steps, "step past the run");
        if (k.kind == 2) {
            ++t.coupling;
            require(times <= 2, "a coupling counter drawn more than twice");
            require(k.sub == 0, "sub is not 0");
        } else if (k.sub == model::kFreshSub) {
            ++t.fresh;
            require(times <= 2, "a fresh draw made more than once per source");
        } else {
            ++t.background;
            require(times == 1, "a background counter drawn more than once");
            // Draw j > 0 of a cell in a step only after its draw j - 1.
            if (k.sub > 0) {
                const Key prev{k.kind, k.pop, k.step, k.id, k.sub - 1};
                require(std::binary_search(keys.begin(), keys.end(), prev),
                        "no draw " + std::to_string(k.sub - 1) + " of the cell in that step");
            }
        }
    }
    EXPECT_EQ(breaches, 0u) << "counters breaking the rules (the first 20 above)";
    return t;
}

}  // namespace

// The quickstart (ring, stochastic coupling, an initial-state spread, a schedule), 300 ms.
TEST(PhiloxCounters, QuickstartDrawsEachCounterOnce) {
    Config cfg = load_config(L5SIM_SOURCE_DIR "/configs/quickstart.yaml",
                             {{"simulation.duration_ms", "300"}});
    const auto keys = traced_run(cfg);
    const Tally t = check(cfg, keys);
    // Every kind is exercised: 300 cells x 3000 steps at 0.05-0.07 inputs per step and source,
    // BAP windows and plateaus of 200 PYR, the spread of each cell's variables.
    EXPECT_GT(t.background, 50000u);
    EXPECT_GT(t.coupling, 1000u);
    EXPECT_GT(t.init, 300u);
}

// Unconnected cells at 20 kHz background (2 inputs per step on average): most steps need
// several draws per cell, so the extra draws (j >= 1) are the bulk; a rate change mid-run draws
// the fresh counters.
TEST(PhiloxCounters, ExtraBackgroundDrawsEachCounterOnce) {
    const Config cfg = parse_config(R"(
simulation: {dt_ms: 0.1, duration_ms: 200, seed: 3}
populations:
  PYR: {type: pyramidal, n: 64, background: {soma: {rate_hz: 20000, weight: 1},
                                             dendrite: {rate_hz: 5000, weight: 1}}}
  PV: {type: pv, n: 40, background: {soma: {rate_hz: 10000, weight: 1}}}
schedule:
  - {knob: PYR.background.soma.rate_hz, op: set, value: 15000, start_ms: 100}
  - {knob: PYR.background.dendrite.rate_hz, op: set, value: 8000, start_ms: 100}
recording: {spikes: false}
)",
                                    "test.yaml");
    const auto keys = traced_run(cfg);
    const Tally t = check(cfg, keys);
    uint64_t extra = 0;
    for (const auto& k : keys)
        if (k.kind == 1 && k.sub != model::kFreshSub && k.sub > 0) ++extra;
    // 104 cells x 2000 steps with at least one input in most steps; each with ~1-2 more.
    EXPECT_GT(t.background, 150000u);
    EXPECT_GT(extra, 100000u);
    // The rate change at 100 ms: a fresh draw for each PYR cell whose source changes.
    EXPECT_GE(t.fresh, 64u);
}
