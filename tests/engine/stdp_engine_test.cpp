// STDP through the engine (MODEL.md section 8), on the CPU and the CUDA engine: a pre cell and a
// post cell joined by one plastic synapse, each made to spike at chosen times by current pulses.
// The final weight is compared with an event-driven computation in double from the recorded spike
// times (exponential windows evaluated directly, not traces stepped in float).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "l5sim/network.hpp"
#include "test_util.hpp"

using namespace l5sim;

namespace {

struct Pairing {
    std::string rule = "pair_all", bounds = "hard";
    std::vector<double> pre_ms, post_ms;  // pulse onsets
};

std::string pulses(const std::string& pop, const std::vector<double>& at) {
    std::string y;
    for (double t : at)
        y += "  - {population: " + pop +
             ", kind: step, amplitude_pA: 6000, start_ms: " + std::to_string(t) +
             ", stop_ms: " + std::to_string(t + 1) + "}\n";
    return y;
}

// Two single-cell populations (no background, gamma = 0), PRE -> POST plastic with a weak
// synapse (0.08 nS AMPA: it cannot make POST fire). A 1 ms pulse of 6000 pA gives one spike.
std::string two_cells(const Pairing& p) {
    const char* cell =
        "{type: pyramidal, n: 1, coupling: {gamma: 0}, "
        "background: {soma: {rate_hz: 0}, dendrite: {rate_hz: 0}}}";
    return std::string("simulation: {duration_ms: 150}\n") + "populations:\n  PRE: " + cell +
           "\n  POST: " + cell +
           "\nprojections:\n"
           "  SYN:\n"
           "    source: PRE\n"
           "    target: POST\n"
           "    receptors: {ampa: 1}\n"
           "    connectivity: {A: 0.1, sigma: 0.5}\n"
           "    stdp: {rule: " +
           p.rule + ", bounds: " + p.bounds + "}\n" + "injections:\n" + pulses("PRE", p.pre_ms) +
           pulses("POST", p.post_ms);
}

struct Outcome {
    double w0, w_max, w;
    std::vector<int64_t> pre, post;
};

// w0 and w_max from the host-built network (the CUDA engine builds the same one on the device).
Outcome run(Simulation::Backend backend, const Pairing& p) {
    const Config cfg = test::config_from(two_cells(p));
    const Network net = build_network(cfg);
    Outcome o;
    o.w0 = net.projections[0].weight.at(0);
    o.w_max = net.projections[0].w_max;
    Simulation sim(cfg, backend);
    sim.run();
    o.w = sim.current_weights(0).at(0);
    o.pre = sim.spikes()[0].steps;
    o.post = sim.spikes()[1].steps;
    return o;
}

// MODEL.md section 8 with the defaults: tau+ = tau- = 20 ms, A+ = 0.005 w_max, A- = 1.05 A+;
// triplet: A3+ = 0.0062 w_max, tau_y = 125 ms, A3- = 0. Event-driven: at a pre spike,
// w -= A- sum_post exp(-(t - t_post)/tau-); at a post spike, w += (A+ + A3+ o2) x with
// x = sum_pre exp(-(t - t_pre)/tau+) and o2 = sum over earlier post spikes exp(-dt/tau_y).
// Nearest-neighbour keeps only the latest spike in each sum (o2 is not used there).
double predict(const Outcome& o, const Pairing& p) {
    const double dt = 0.1, tau_p = 20, tau_m = 20, tau_y = 125;
    const double a_plus = 0.005 * o.w_max, a_minus = 1.05 * a_plus, a3_plus = 0.0062 * o.w_max;
    const bool nearest = p.rule == "nearest", triplet = p.rule == "triplet";
    const bool soft = p.bounds == "soft";
    std::vector<std::pair<int64_t, int>> events;  // (step, 0 = pre, 1 = post)
    for (int64_t s : o.pre) events.push_back({s, 0});
    for (int64_t s : o.post) events.push_back({s, 1});
    std::sort(events.begin(), events.end());
    double w = o.w0;
    auto window = [&](const std::vector<int64_t>& spikes, int64_t t, double tau, bool strict) {
        double sum = 0;
        for (auto it = spikes.rbegin(); it != spikes.rend(); ++it) {
            if (*it > t || (strict && *it == t)) continue;
            sum += std::exp(-(t - *it) * dt / tau);
            if (nearest) break;
        }
        return sum;
    };
    for (const auto& [t, kind] : events) {
        if (kind == 0) {
            double dw = a_minus * window(o.post, t, tau_m, false);
            if (soft) dw *= w / o.w_max;
            w = std::clamp(w - dw, 0.0, o.w_max);
        } else {
            double amp = a_plus;
            if (triplet) amp += a3_plus * window(o.post, t, tau_y, true);
            double dw = amp * window(o.pre, t, tau_p, false);
            if (soft) dw *= (o.w_max - w) / o.w_max;
            w = std::clamp(w + dw, 0.0, o.w_max);
        }
    }
    return w;
}

void check(Simulation::Backend backend, const Pairing& p, size_t n_pre, size_t n_post, int sign) {
    const Outcome o = run(backend, p);
    ASSERT_EQ(o.pre.size(), n_pre) << "each pulse must give exactly one spike";
    ASSERT_EQ(o.post.size(), n_post) << "each pulse must give exactly one spike";
    // w_max = 2 x the initial weight A / (sigma sqrt(2 pi)) of the one-cell ring (distance 0).
    EXPECT_NEAR(o.w0, 0.1 / (0.5 * std::sqrt(2 * M_PI)), 1e-8);
    EXPECT_NEAR(o.w_max, 2 * o.w0, 1e-8);
    const double expected = predict(o, p);
    const double dw = expected - o.w0;
    EXPECT_EQ(dw > 0 ? 1 : -1, sign);
    // Float rounding: ~1e-7 per trace step over up to a few hundred steps, plus w's own ulp.
    EXPECT_NEAR(o.w - o.w0, dw, 5e-5 * std::abs(dw) + 2e-8)
        << p.rule << "/" << p.bounds << " w0 " << o.w0 << " w " << o.w << " expected " << expected;
}

class StdpEngine : public test::EngineTest {};
L5_ENGINE_TEST_SUITE(StdpEngine);

}  // namespace

TEST_P(StdpEngine, PreBeforePostPotentiates) {
    Pairing p;
    p.pre_ms = {20};
    p.post_ms = {30};
    check(backend(), p, 1, 1, +1);
    p.post_ms = {22};
    check(backend(), p, 1, 1, +1);
}

TEST_P(StdpEngine, PostBeforePreDepresses) {
    Pairing p;
    p.pre_ms = {30};
    p.post_ms = {20};
    check(backend(), p, 1, 1, -1);
    p.pre_ms = {60};
    check(backend(), p, 1, 1, -1);
}

TEST_P(StdpEngine, PotentiationIsTheExponentialWindow) {
    // The same pairing at three intervals: dw(dt) / dw(dt') = exp(-(dt - dt') / tau+).
    std::vector<double> dws;
    std::vector<int64_t> gaps;
    for (double gap : {5.0, 15.0, 35.0}) {
        Pairing p;
        p.pre_ms = {20};
        p.post_ms = {20 + gap};
        const Outcome o = run(backend(), p);
        ASSERT_EQ(o.pre.size(), 1u);
        ASSERT_EQ(o.post.size(), 1u);
        dws.push_back(o.w - o.w0);
        gaps.push_back(o.post[0] - o.pre[0]);
        EXPECT_NEAR((o.w - o.w0) / (0.005 * o.w_max * std::exp(-gaps.back() * 0.1 / 20)), 1.0,
                    5e-5);
    }
    EXPECT_NEAR(dws[1] / dws[0], std::exp(-(gaps[1] - gaps[0]) * 0.1 / 20), 1e-4);
    EXPECT_NEAR(dws[2] / dws[0], std::exp(-(gaps[2] - gaps[0]) * 0.1 / 20), 1e-4);
}

TEST_P(StdpEngine, NearestNeighbourAndAllToAll) {
    Pairing p;
    p.pre_ms = {20, 30};
    p.post_ms = {40};
    p.rule = "pair_all";
    const Outcome all = run(backend(), p);
    p.rule = "nearest";
    const Outcome nn = run(backend(), p);
    ASSERT_EQ(all.pre.size(), 2u);
    ASSERT_EQ(nn.pre.size(), 2u);
    check(backend(), p, 2, 1, +1);
    p.rule = "pair_all";
    check(backend(), p, 2, 1, +1);
    // All-to-all also counts the earlier pre spike.
    EXPECT_GT(all.w - all.w0, (nn.w - nn.w0) * 1.3);
}

TEST_P(StdpEngine, TripletExtraTermOnlyWithPostBurst) {
    Pairing p;
    p.rule = "triplet";
    p.pre_ms = {20};
    p.post_ms = {30};
    check(backend(), p, 1, 1, +1);  // lone post spike: the pair term only (o2 = 0)
    Pairing lone = p;
    lone.rule = "pair_all";
    EXPECT_NEAR(run(backend(), p).w, run(backend(), lone).w, 1e-9);
    p.post_ms = {30, 36};  // a post burst: the second spike gets A3+ o2 more
    check(backend(), p, 1, 2, +1);
    Pairing pair = p;
    pair.rule = "pair_all";
    const Outcome tri = run(backend(), p), pr = run(backend(), pair);
    ASSERT_EQ(tri.post.size(), 2u);
    const double x2 = std::exp(-(tri.post[1] - tri.pre[0]) * 0.1 / 20);
    const double o2 = std::exp(-(tri.post[1] - tri.post[0]) * 0.1 / 125);
    EXPECT_NEAR(tri.w - pr.w, 0.0062 * tri.w_max * o2 * x2, 1e-4 * 0.0062 * tri.w_max + 2e-8);
}

TEST_P(StdpEngine, SoftBounds) {
    Pairing p;
    p.bounds = "soft";
    p.pre_ms = {20};
    p.post_ms = {30};
    check(backend(), p, 1, 1, +1);  // dw = A+ x (w_max - w0) / w_max = A+ x / 2
    p.pre_ms = {30};
    p.post_ms = {20};
    check(backend(), p, 1, 1, -1);
}
