// Network building (MODEL.md section 7) through l5sim::build_network on parsed configs: the dense
// ring against the Gaussian formula computed here in double, and the sparse torus sheet's
// in-degree, id ranges, distance distribution and delays.
#include "l5sim/network.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "l5sim/model/connectivity.hpp"
#include "test_util.hpp"

using namespace l5sim;

namespace {

const char* kRing = R"(
simulation: {duration_ms: 10}
populations:
  PYR: {type: pyramidal, n: 200}
  PV: {type: pv, n: 50}
projections:
  PYR_PYR:
    source: PYR
    target: PYR
    receptors: {ampa: 1.75, nmda: 0.35}
    connectivity: {rule: dense, A: 3.5, sigma: 0.5}
    stdp: {}
  PYR_PV:
    source: PYR
    target: PV
    receptors: {ampa: 1, nmda: 1}
    connectivity: {A: 1, sigma: 2}
  PV_PYR:
    source: PV
    target: PYR
    receptors: {gaba_a: 1}
    connectivity: {A: 5, sigma: 2}
    delay: {ms: 1.5}
  PYR_PYR_NOAUT:
    source: PYR
    target: PYR
    receptors: {ampa: 1}
    connectivity: {A: 2, sigma: 0.3, autapses: false}
)";

// Chord distance between angle 2 pi i / n_i and 2 pi j / n_j on the unit circle, as the length
// of the difference of the two points (a different route from the library's 2 |sin(da/2)|).
double chord(uint32_t i, uint32_t n_i, uint32_t j, uint32_t n_j) {
    const double a = 2 * std::numbers::pi * i / n_i, b = 2 * std::numbers::pi * j / n_j;
    return std::hypot(std::cos(a) - std::cos(b), std::sin(a) - std::sin(b));
}

double dense_weight(double A, double sigma, double d) {
    return A * std::exp(-d * d / (2 * sigma * sigma)) / (sigma * std::sqrt(2 * std::numbers::pi));
}

struct Expect {
    uint32_t proj;
    double A, sigma;
    bool self_allowed;
    uint32_t delay_steps;
};

}  // namespace

TEST(RingNetwork, DenseWeightsEqualGaussianFormula) {
    const Config cfg = test::config_from(kRing);
    const Network net = build_network(cfg);
    ASSERT_EQ(net.projections.size(), 4u);
    const Expect cases[] = {
        {0, 3.5, 0.5, true, 0}, {1, 1, 2, true, 0}, {2, 5, 2, true, 15}, {3, 2, 0.3, false, 0}};
    for (const Expect& e : cases) {
        const auto& p = cfg.projections[e.proj];
        const auto& c = net.projections[e.proj];
        const uint32_t ns = cfg.populations[p.source].n, nt = cfg.populations[p.target].n;
        ASSERT_EQ(c.n_src, ns);
        ASSERT_EQ(c.n_tgt, nt);
        ASSERT_EQ(c.row_ptr.size(), ns + 1u);
        const bool same = p.source == p.target;
        const uint32_t K = ns - (same && !e.self_allowed ? 1 : 0);
        EXPECT_EQ(c.in_degree, K) << p.name;
        ASSERT_EQ(c.size(), uint64_t(K) * nt) << p.name;
        std::vector<int> seen(size_t(ns) * nt, 0);
        for (uint32_t s = 0; s < ns; ++s) {
            for (uint64_t syn = c.row_ptr[s]; syn < c.row_ptr[s + 1]; ++syn) {
                const uint32_t t = c.target[syn];
                ASSERT_LT(t, nt);
                ++seen[size_t(s) * nt + t];
                const double expected = dense_weight(e.A, e.sigma, chord(t, nt, s, ns));
                ASSERT_NEAR(c.weight[syn], expected, 2e-7 * expected + 1e-30)
                    << p.name << " " << s << " -> " << t;
                ASSERT_EQ(c.delay[syn], e.delay_steps);
            }
        }
        // Dense: every pair exactly once, except the autapse when autapses are off.
        for (uint32_t s = 0; s < ns; ++s)
            for (uint32_t t = 0; t < nt; ++t)
                ASSERT_EQ(seen[size_t(s) * nt + t], (same && s == t && !e.self_allowed) ? 0 : 1)
                    << p.name << " " << s << " -> " << t;
        EXPECT_EQ(c.max_delay_steps, e.delay_steps);
    }
    // Spot values by hand: neighbours on a ring of 200 are 2 sin(pi/200) apart; the autapse of
    // PYR_PYR (dense: kept by default, as in the reference implementation) has d = 0, so
    // w = A / (sigma sqrt(2 pi)) = 3.5 / (0.5 * 2.5066...).
    const auto& aut = net.projections[0];
    bool found = false;
    for (uint64_t syn = aut.row_ptr[7]; syn < aut.row_ptr[8]; ++syn) {
        if (aut.target[syn] != 7) continue;
        found = true;
        EXPECT_NEAR(aut.weight[syn], 3.5 / (0.5 * std::sqrt(2 * std::numbers::pi)), 1e-6);
    }
    EXPECT_TRUE(found);
    EXPECT_TRUE(cfg.projections[0].autapses);
    EXPECT_FALSE(cfg.projections[3].autapses);
    const double d1 = 2 * std::sin(std::numbers::pi / 200);
    const auto& rec = net.projections[0];
    for (uint64_t syn = rec.row_ptr[0]; syn < rec.row_ptr[1]; ++syn)
        if (rec.target[syn] == 1) {
            EXPECT_NEAR(rec.weight[syn], dense_weight(3.5, 0.5, d1), 1e-6);
        }
}

TEST(RingNetwork, PlasticReverseIndexAndWeightBound) {
    const Config cfg = test::config_from(kRing);
    const Network net = build_network(cfg);
    const auto& c = net.projections[0];
    const uint32_t K = c.in_degree, nt = c.n_tgt;
    ASSERT_EQ(c.rev.size(), uint64_t(K) * nt);
    std::vector<int> hit(c.size(), 0);
    for (uint32_t t = 0; t < nt; ++t) {
        for (uint32_t k = 0; k < K; ++k) {
            const uint32_t syn = c.rev[uint64_t(t) * K + k];
            ASSERT_LT(syn, c.size());
            EXPECT_EQ(c.target[syn], t);
            ++hit[syn];
        }
    }
    for (int h : hit) ASSERT_EQ(h, 1);  // a permutation
    // w_max = 2 x the largest initial weight (MODEL.md section 8 default); the largest weight of
    // a 200-ring with autapses is the autapse's (d = 0).
    const double w_top = dense_weight(3.5, 0.5, 0.0);
    EXPECT_NEAR(c.w_init_max, w_top, 1e-6);
    EXPECT_NEAR(c.w_max, 2 * w_top, 2e-6);
    EXPECT_TRUE(net.projections[1].rev.empty());  // not plastic
}

namespace {

const char* kSheet = R"(
simulation: {duration_ms: 10, dt_ms: 0.1}
network: {layout: sheet, positions: POSITIONS}
populations:
  PYR: {type: pyramidal, n: 10000}
  PV: {type: pv, n: 2500}
projections:
  PYR_PYR:
    source: PYR
    target: PYR
    receptors: {ampa: 1}
    connectivity: {rule: sparse, K: 100, A: 3.5, sigma: 0.05}
    delay: {min_ms: 1, speed_per_ms: 0.1}
    stdp: {}
  PV_PYR:
    source: PV
    target: PYR
    receptors: {gaba_a: 1}
    connectivity: {rule: sparse, K: 40, A: 5, sigma: 0.08, dense_equivalent_sigma: 2}
    delay: {min_ms: 0.5, speed_per_ms: 0.05}
)";

std::string sheet_yaml(const std::string& positions) {
    std::string y = kSheet;
    y.replace(y.find("POSITIONS"), 9, positions);
    return y;
}

// Grid position of cell i of n: the centre of square (i mod side, i div side), side = ceil(sqrt n).
void grid_pos(uint32_t i, uint32_t n, double* x, double* y) {
    const auto side = static_cast<uint32_t>(std::ceil(std::sqrt(double(n)) - 1e-9));
    *x = (i % side + 0.5) / side;
    *y = (i / side + 0.5) / side;
}

double torus(double d) {
    if (d > 0.5) d -= 1;
    if (d < -0.5) d += 1;
    return d;
}

struct SheetCase {
    uint32_t proj;
    double sigma, A, eq_sigma, delay_min_ms, speed;
    bool same;
};

void check_sheet(const Config& cfg, const Network& net, const SheetCase& e, bool grid) {
    const auto& p = cfg.projections[e.proj];
    const auto& c = net.projections[e.proj];
    const uint32_t ns = cfg.populations[p.source].n, nt = cfg.populations[p.target].n;
    const uint32_t K = p.K;
    ASSERT_EQ(c.in_degree, K);
    ASSERT_EQ(c.size(), uint64_t(K) * nt);
    ASSERT_EQ(c.row_ptr.size(), ns + 1u);
    ASSERT_EQ(c.row_ptr[ns], c.size());
    // Weight: the dense reference ring's total input (200 sources, sigma_eq, no autapse for a
    // recurrent projection) spread over K synapses.
    double total = 0;
    for (uint32_t j = e.same ? 1 : 0; j < 200; ++j)
        total += dense_weight(e.A, e.eq_sigma, chord(0, 200, j, 200));
    const double w = total / K;
    std::vector<uint32_t> in_degree(nt, 0);
    double sx = 0, sy = 0, sxx = 0, syy = 0;
    uint64_t within1 = 0, within2 = 0;
    const double dmin_steps = std::round(e.delay_min_ms / cfg.dt_ms);
    const uint64_t m = c.size();
    for (uint32_t s = 0; s < ns; ++s) {
        for (uint64_t syn = c.row_ptr[s]; syn < c.row_ptr[s + 1]; ++syn) {
            const uint32_t t = c.target[syn];
            ASSERT_LT(t, nt);
            ++in_degree[t];
            if (e.same) {
                ASSERT_NE(s, t) << "autapse";
            }
            ASSERT_NEAR(c.weight[syn], w, 1e-6 * w);
            double xs, ys, xt, yt;
            if (grid) {
                grid_pos(s, ns, &xs, &ys);
                grid_pos(t, nt, &xt, &yt);
            } else {
                const uint32_t ss = uint32_t(std::ceil(std::sqrt(double(ns)) - 1e-9));
                const uint32_t st = uint32_t(std::ceil(std::sqrt(double(nt)) - 1e-9));
                float fx, fy;
                model::sheet_position(cfg.seed,
                                      model::stream_id(model::StreamKind::positions, p.source), s,
                                      ss, 1.0f, &fx, &fy);
                xs = fx, ys = fy;
                model::sheet_position(cfg.seed,
                                      model::stream_id(model::StreamKind::positions, p.target), t,
                                      st, 1.0f, &fx, &fy);
                xt = fx, yt = fy;
            }
            const double dx = torus(xs - xt), dy = torus(ys - yt);
            sx += dx;
            sy += dy;
            sxx += dx * dx;
            syy += dy * dy;
            const double r = std::hypot(dx, dy);
            within1 += r <= e.sigma;
            within2 += r <= 2 * e.sigma;
            // delay = d_min + distance / speed, in whole steps, within [d_min, 255].
            const double ideal = dmin_steps + r / (e.speed * cfg.dt_ms);
            ASSERT_GE(c.delay[syn], dmin_steps);
            ASSERT_LE(c.delay[syn], 255);
            ASSERT_LE(std::abs(c.delay[syn] - ideal), 0.5 + 1e-3) << "r = " << r;
        }
    }
    for (uint32_t t = 0; t < nt; ++t) ASSERT_EQ(in_degree[t], K) << "target " << t;
    const double rms_x = std::sqrt(sxx / m), rms_y = std::sqrt(syy / m);
    EXPECT_NEAR(rms_x / e.sigma, 1.0, 0.05) << p.name;
    EXPECT_NEAR(rms_y / e.sigma, 1.0, 0.05) << p.name;
    EXPECT_NEAR(sx / m, 0.0, 0.02 * e.sigma) << p.name;
    EXPECT_NEAR(sy / m, 0.0, 0.02 * e.sigma) << p.name;
    // The shape is Gaussian, not merely of the right width: for a 2-D isotropic Gaussian
    // P(r <= a sigma) = 1 - exp(-a^2 / 2).
    EXPECT_NEAR(double(within1) / m, 1 - std::exp(-0.5), 0.03) << p.name;
    EXPECT_NEAR(double(within2) / m, 1 - std::exp(-2.0), 0.03) << p.name;
}

}  // namespace

TEST(SheetNetwork, FixedInDegreeGaussianDistancesAndDelays) {
    const Config cfg = test::config_from(sheet_yaml("grid"));
    const Network net = build_network(cfg);
    EXPECT_FALSE(cfg.projections[0].autapses);  // sparse: no autapse unless asked (the ring: yes)
    check_sheet(cfg, net, {0, 0.05, 3.5, 0.5, 1.0, 0.1, true}, true);
    check_sheet(cfg, net, {1, 0.08, 5, 2, 0.5, 0.05, false}, true);
    // The plastic projection's reverse index points at synapses of the right target.
    const auto& c = net.projections[0];
    ASSERT_EQ(c.rev.size(), c.size());
    for (uint32_t t = 0; t < c.n_tgt; t += 97)
        for (uint32_t k = 0; k < c.in_degree; ++k)
            ASSERT_EQ(c.target[c.rev[uint64_t(t) * c.in_degree + k]], t);
}

TEST(SheetNetwork, JitteredPositions) {
    const Config cfg = test::config_from(sheet_yaml("jittered"));
    const Network net = build_network(cfg);
    check_sheet(cfg, net, {0, 0.05, 3.5, 0.5, 1.0, 0.1, true}, false);
}

TEST(SheetNetwork, SameSeedSameNetworkOtherSeedOther) {
    const Config a = test::config_from(sheet_yaml("grid"));
    const Config b = test::config_from(sheet_yaml("grid"), {{"simulation.seed", "2"}});
    const Network n1 = build_network(a), n2 = build_network(a), n3 = build_network(b);
    EXPECT_EQ(n1.projections[0].target, n2.projections[0].target);
    EXPECT_EQ(n1.projections[0].delay, n2.projections[0].delay);
    EXPECT_NE(n1.projections[0].target, n3.projections[0].target);
}
