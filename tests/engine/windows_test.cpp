// Schedule windows and injections against fixed expectations (configs/README.md: a window is open
// in steps [round(start_ms / dt), round(stop_ms / dt)); a pulse train is on where (step - start)
// mod period < width): the exact first and last step each knob takes its value, and how many,
// for every knob kind, set and add, windows on and off the step grid. First through Controls
// with an engine that only records what is pushed to it; then through both engines, reading the
// probe-able knobs (gamma, i_ext, i_ext_d) every step, also across a checkpoint inside a window.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "l5sim/checkpoint.hpp"
#include "run/controls.hpp"
#include "test_util.hpp"

using namespace l5sim;

namespace {

// An engine that only keeps the knobs pushed to it.
class KnobEngine final : public Engine {
  public:
    std::map<uint32_t, PopulationDrive> drive;
    std::map<uint32_t, std::vector<float>> gamma, soma, dend;
    std::map<uint32_t, std::pair<double, double>> projection;  // gain, eta

    std::string name() const override { return "knobs"; }
    void detect_spikes(int64_t) override {}
    void propagate(int64_t) override {}
    void deliver(int64_t) override {}
    void integrate_dendrites(int64_t) override {}
    void integrate_somata(int64_t) override {}
    void plasticity(int64_t) override {}
    void take_spikes(uint32_t, SpikeRecord*) override {}
    uint64_t spike_count(uint32_t) const override { return 0; }
    uint64_t calcium_spikes(uint32_t) const override { return 0; }
    uint64_t synaptic_events() const override { return 0; }
    void set_drive(uint32_t p, const PopulationDrive& d, int64_t) override { drive[p] = d; }
    void set_gamma(uint32_t p, const std::vector<float>& g) override { gamma[p] = g; }
    void set_current(uint32_t p, Compartment c, const std::vector<float>& pA) override {
        (c == Compartment::soma ? soma : dend)[p] = pA;
    }
    void set_projection(uint32_t j, double gain, double eta) override {
        projection[j] = {gain, eta};
    }
    void read_state(uint32_t, const std::string&, const std::vector<uint32_t>&,
                    float*) const override {}
    void read_weights(uint32_t, uint64_t, uint64_t, float*) const override {}
    void read_synapses(uint32_t, uint64_t, uint64_t, uint32_t*, uint32_t*) const override {}
    uint64_t synapse_count(uint32_t) const override { return 0; }
    bool find_nonfinite(uint32_t, std::string*, uint32_t*) const override { return false; }
    uint64_t connectivity_bytes() const override { return 0; }
    int ring_fixed_exponent(uint32_t) const override { return 0; }
    void read_block(const StateBlock&, int64_t, void*) const override {}
    void write_block(const StateBlock&, int64_t, const void*) override {}
};

// dt 0.1 ms. Windows on the grid (1.0-2.0 ms: steps 10-19) and off it (1.04 ms rounds to step
// 10, 2.06 ms to 21: steps 10-20; 3.96 ms to 40, 4.44 ms to 44: steps 40-43).
const char* kConfig = R"(
simulation: {dt_ms: 0.1, duration_ms: 8}
populations:
  PYR: {type: pyramidal, n: 3, coupling: {gamma: 0.5},
        background: {soma: {rate_hz: 100}, dendrite: {rate_hz: 40}}}
  PV: {type: pv, n: 2, background: {soma: {rate_hz: 300}}}
projections:
  PYR_PV: {source: PYR, target: PV, receptors: {ampa: 1}, gain: 2, stdp: {eta: 1.5}}
injections:
  - {name: always, population: PV, kind: constant, amplitude_pA: 5}
  - {name: step, population: PYR, cells: [1], kind: step, amplitude_pA: 30, start_ms: 1.04,
     stop_ms: 2.06}
  - {name: pulses, population: PYR, compartment: dendrite, kind: pulse_train, amplitude_pA: 7,
     start_ms: 0.5, stop_ms: 6.0, period_ms: 2.0, width_ms: 0.3}
schedule:
  - {knob: PYR.gamma, op: set, value: 0.9, start_ms: 1.0, stop_ms: 2.0, cells: [0, 2]}
  - {knob: PYR.gamma, op: add, value: -0.25, start_ms: 3.96, stop_ms: 4.44}
  - {knob: PYR.background.soma.rate_hz, op: set, value: 1000, start_ms: 1.04, stop_ms: 2.06}
  - {knob: PV.background.soma.rate_hz, op: add, value: 200, start_ms: 3.96, stop_ms: 4.44}
  - {knob: PYR.background.dendrite.rate_hz, op: set, value: 0, start_ms: 6.0}
  - {knob: projections.PYR_PV.gain, op: add, value: 1, start_ms: 1.0, stop_ms: 2.0}
  - {knob: projections.PYR_PV.eta, op: set, value: 0, start_ms: 3.96, stop_ms: 4.44}
  - {knob: injections.step.amplitude_pA, op: add, value: 10, start_ms: 1.5, stop_ms: 1.8}
)";

// Steps of [0, 80) at which `on(step)` holds, as (first, last, count); first = -1 if none.
struct Span {
    int64_t first = -1, last = -1, count = 0;
};
template <class F>
Span span(F on) {
    Span s;
    for (int64_t n = 0; n < 80; ++n) {
        if (!on(n)) continue;
        if (s.first < 0) s.first = n;
        s.last = n;
        ++s.count;
    }
    return s;
}
void expect_span(const Span& s, int64_t first, int64_t last, int64_t count, const char* what) {
    EXPECT_EQ(s.first, first) << what;
    EXPECT_EQ(s.last, last) << what;
    EXPECT_EQ(s.count, count) << what;
}

struct KnobTrace {
    std::vector<std::vector<float>> gamma, soma, dend, pv_soma;
    std::vector<float> pyr_rate, pyr_dend_rate, pv_rate;
    std::vector<double> gain, eta;
};

KnobTrace trace_knobs(const Config& cfg) {
    KnobEngine e;
    Controls controls(cfg, e);
    KnobTrace t;
    for (int64_t n = 0; n < 80; ++n) {
        controls.apply(n);
        t.gamma.push_back(e.gamma[0]);
        t.soma.push_back(e.soma[0]);
        t.dend.push_back(e.dend[0]);
        t.pv_soma.push_back(e.soma[1]);
        t.pyr_rate.push_back(e.drive[0].background_soma.lambda);
        t.pyr_dend_rate.push_back(e.drive[0].background_dendrite.lambda);
        t.pv_rate.push_back(e.drive[1].background_soma.lambda);
        t.gain.push_back(e.projection[0].first);
        t.eta.push_back(e.projection[0].second);
    }
    return t;
}

}  // namespace

TEST(Windows, EveryKnobKindOpensAndClosesOnTheDocumentedSteps) {
    const Config cfg = test::config_from(kConfig);
    const KnobTrace t = trace_knobs(cfg);
    // gamma set 0.9 in [10, 20) for cells 0 and 2 only; add -0.25 in [40, 44) for all.
    expect_span(span([&](int64_t n) { return t.gamma[n][0] == 0.9f; }), 10, 19, 10, "gamma set");
    expect_span(span([&](int64_t n) { return t.gamma[n][2] == 0.9f; }), 10, 19, 10, "gamma cell 2");
    expect_span(span([&](int64_t n) { return t.gamma[n][1] != 0.5f && n < 30; }), -1, -1, 0,
                "gamma of a cell the window leaves out");
    expect_span(span([&](int64_t n) { return t.gamma[n][1] == 0.25f; }), 40, 43, 4, "gamma add");
    // Background rates (lambda = rate x dt): set 1000 Hz in [10, 21), add 200 Hz in [40, 44),
    // dendrite set 0 from step 60 to the end.
    expect_span(span([&](int64_t n) { return t.pyr_rate[n] == 0.1f; }), 10, 20, 11, "rate set");
    expect_span(span([&](int64_t n) { return t.pv_rate[n] == 0.05f; }), 40, 43, 4, "rate add");
    expect_span(span([&](int64_t n) { return t.pyr_dend_rate[n] == 0.0f; }), 60, 79, 20,
                "rate set to the end");
    // Projection gain add 1 in [10, 20); eta set 0 in [40, 44).
    expect_span(span([&](int64_t n) { return t.gain[n] == 3.0; }), 10, 19, 10, "gain add");
    expect_span(span([&](int64_t n) { return t.eta[n] == 0.0; }), 40, 43, 4, "eta set");
    // Injections: constant on every step; step injection into cell 1 in [10, 21), its amplitude
    // raised by 10 in [15, 18); a pulse train from step 5, 3 steps every 20, until step 60.
    expect_span(span([&](int64_t n) { return t.pv_soma[n][0] == 5.0f; }), 0, 79, 80, "constant");
    expect_span(span([&](int64_t n) { return t.soma[n][1] != 0.0f; }), 10, 20, 11, "step");
    expect_span(span([&](int64_t n) { return t.soma[n][0] != 0.0f || t.soma[n][2] != 0.0f; }), -1,
                -1, 0, "step: cells it leaves out");
    expect_span(span([&](int64_t n) { return t.soma[n][1] == 40.0f; }), 15, 17, 3, "amplitude add");
    expect_span(span([&](int64_t n) { return t.dend[n][0] == 7.0f; }), 5, 47, 9, "pulse train");
    for (int64_t n : {5, 6, 7, 25, 26, 27, 45, 46, 47}) EXPECT_EQ(t.dend[n][2], 7.0f) << n;
    for (int64_t n : {4, 8, 24, 28, 65}) EXPECT_EQ(t.dend[n][2], 0.0f) << n;
}

namespace {

class WindowsOnEngines : public test::EngineTest {};
L5_ENGINE_TEST_SUITE(WindowsOnEngines);

// kConfig's injections and gamma windows, read through probes of every step. A probe sample
// after step n shows the knobs of step n.
struct ProbeSpans {
    Span gamma0, gamma1_add, step1, step1_raised, pulses;
};

ProbeSpans probe_spans(const ProbeRecord& pyr) {
    // Frame n: [variable][cell] with variables gamma, i_ext, i_ext_d and cells 0, 1, 2.
    auto at = [&](int64_t n, int var, int cell) { return pyr.values[(n * 3 + var) * 3 + cell]; };
    ProbeSpans s;
    s.gamma0 = span([&](int64_t n) { return at(n, 0, 0) == 0.9f; });
    s.gamma1_add = span([&](int64_t n) { return at(n, 0, 1) == 0.25f; });
    s.step1 = span([&](int64_t n) { return at(n, 1, 1) != 0.0f; });
    s.step1_raised = span([&](int64_t n) { return at(n, 1, 1) == 40.0f; });
    s.pulses = span([&](int64_t n) { return at(n, 2, 0) == 7.0f; });
    return s;
}

void expect_documented(const ProbeSpans& s) {
    expect_span(s.gamma0, 10, 19, 10, "gamma set");
    expect_span(s.gamma1_add, 40, 43, 4, "gamma add");
    expect_span(s.step1, 10, 20, 11, "step injection");
    expect_span(s.step1_raised, 15, 17, 3, "amplitude add");
    expect_span(s.pulses, 5, 47, 9, "pulse train");
}

std::string probed() {
    return std::string(kConfig) +
           "recording:\n  probes: [{population: PYR, cells: [0, 1, 2], "
           "variables: [gamma, i_ext, i_ext_d], every_steps: 1}]\n";
}

}  // namespace

TEST_P(WindowsOnEngines, ProbedKnobsFollowTheDocumentedSteps) {
    Simulation sim(test::config_from(probed()), backend());
    sim.run();
    ASSERT_EQ(sim.probes()[0].steps.size(), 80u);
    expect_documented(probe_spans(sim.probes()[0]));
}

TEST_P(WindowsOnEngines, ACheckpointInsideTheWindowsChangesNothing) {
    // Stopped at step 16: inside the gamma window [10, 20), the step injection [10, 21) and its
    // raised amplitude [15, 18); resumed in a new simulation.
    const Config cfg = test::config_from(probed());
    const auto file = std::filesystem::temp_directory_path() /
                      ("l5sim_windows_" + std::to_string(::getpid()) + ".l5ck");
    {
        Simulation a(cfg, backend());
        a.advance(16);
        write_checkpoint(file, a);
    }
    Simulation b(cfg, backend());
    restore_checkpoint(file, read_checkpoint_info(file), b);
    b.run();
    std::filesystem::remove(file);
    ASSERT_EQ(b.probes()[0].steps.size(), 80u);
    expect_documented(probe_spans(b.probes()[0]));
}
