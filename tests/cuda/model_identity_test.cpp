// The determinism contract at its root: the shared L5_HD functions give the same bits on the
// device (nvcc --fmad=false) as on the host (g++ -ffp-contract=off). Skips without a device;
// fails under L5SIM_REQUIRE_GPU=1.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "l5sim/cell_types.hpp"
#include "l5sim/devices.hpp"
#include "l5sim/model/isolated_cell.hpp"
#include "model_check.hpp"
#include "test_util.hpp"

using namespace l5sim;

namespace {

uint32_t bits(float f) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
}

model::IsolatedCellSetup pyr_setup(model::Coupling coupling, float gamma, double dend_rate_hz) {
    const double dt = 0.1;
    model::IsolatedCellSetup s{};
    s.soma = model::make_izh_constants(cell_type("pyramidal").soma, dt);
    s.dend = model::make_dendrite_constants(cell_type("pyramidal").dendrite, dt);
    s.rc = {{static_cast<float>(1 - dt / 6), static_cast<float>(1 - dt / 100),
             static_cast<float>(1 - dt / 6), static_cast<float>(1 - dt / 150)},
            {0.0f, 0.0f, -75.0f, -90.0f},
            85.0f};
    const double ls = 600 * dt * 1e-3, ld = dend_rate_hz * dt * 1e-3;
    s.bg_soma = {static_cast<float>(ls), 1.0f};
    s.bg_dend = {static_cast<float>(ld), 1.0f};
    s.coupling = coupling;
    s.gamma = gamma;
    s.adapt_increment = 0.065f;
    s.adapt_decay = static_cast<float>(1 - dt / 2000);
    s.adapt_E = -80.0f;
    s.i_dend_pA = 400.0f;
    s.seed = 12345;
    return s;
}

}  // namespace

TEST(GpuModelIdentity, PortableMathBitIdentical) {
    L5_REQUIRE_DEVICE();
    std::vector<float> x;
    for (float v = -90.0f; v < 90.0f; v += 0.0173f) x.push_back(v);
    const auto d = cuda::device_math(x);
    for (size_t i = 0; i < x.size(); ++i) {
        ASSERT_EQ(bits(d.exp[i]), bits(model::pexp(x[i]))) << "pexp " << x[i];
        ASSERT_EQ(bits(d.log[i]), bits(model::plog(std::fabs(x[i]) + 1e-30f))) << "plog " << x[i];
        float s, c;
        model::psincos_2pi(x[i], &s, &c);
        ASSERT_EQ(bits(d.sin[i]), bits(s)) << "sin " << x[i];
        ASSERT_EQ(bits(d.cos[i]), bits(c)) << "cos " << x[i];
        ASSERT_EQ(bits(d.sigmoid[i]), bits(model::psigmoid(x[i]))) << "sigmoid " << x[i];
        ASSERT_EQ(bits(d.nmda_gate[i]), bits(model::nmda_gate(x[i]))) << "nmda_gate " << x[i];
        const uint32_t fx = model::to_fixed(x[i], 16777216.0f);
        ASSERT_EQ(d.fixed[i], fx) << "to_fixed " << x[i];
        ASSERT_EQ(bits(d.unfixed[i]),
                  bits(model::from_fixed(fx * cuda::kFixedScramble, 1.0f / 1048576.0f)))
            << "from_fixed " << x[i];
    }
}

TEST(GpuModelIdentity, PhiloxWordsIdentical) {
    L5_REQUIRE_DEVICE();
    const uint32_t n_ids = 1000, count = 200000;
    const auto d = cuda::device_philox(0xDEADBEEFCAFEull, 77, n_ids, count);
    for (uint32_t i = 0; i < count; ++i) {
        const auto h = model::philox(0xDEADBEEFCAFEull, 77, i / n_ids, i % n_ids);
        for (int w = 0; w < 4; ++w) ASSERT_EQ(d[4 * i + w], h.v[w]) << "draw " << i;
    }
}

// 256 isolated PYR cells (soma + dendrite + BAP + plateau switch + Poisson background) for 1 s:
// every spike (and its burst-mode flag) on every step, and the final state, bit for bit.
TEST(GpuModelIdentity, IsolatedPyramidalCellsBitIdentical) {
    L5_REQUIRE_DEVICE();
    for (auto coupling : {model::Coupling::stochastic, model::Coupling::scaled}) {
        const auto setup = pyr_setup(coupling, 0.7f, 400);
        std::vector<float> currents;
        for (int i = 0; i < 256; ++i) currents.push_back(-100.0f + 3.0f * i);
        const uint32_t steps = 10000;
        std::vector<uint8_t> codes;
        std::vector<model::IsolatedCellState> fin;
        cuda::device_isolated_cells(setup, currents, steps, &codes, &fin);
        uint64_t spikes = 0, bursts = 0;
        for (uint32_t i = 0; i < currents.size(); ++i) {
            auto s = setup;
            s.i_soma_pA = currents[i];
            model::IsolatedCellState c = model::isolated_cell_start(s, s.soma.v_r, s.dend.E_Ld, i);
            for (uint32_t t = 0; t < steps; ++t) {
                const int code = model::isolated_cell_step(s, &c, i, t);
                ASSERT_EQ(code, codes[uint64_t(i) * steps + t]) << "cell " << i << " step " << t;
                spikes += code != 0;
                bursts += code == 2;
            }
            EXPECT_EQ(bits(c.v), bits(fin[i].v));
            EXPECT_EQ(bits(c.u), bits(fin[i].u));
            EXPECT_EQ(bits(c.v_d), bits(fin[i].v_d));
            EXPECT_EQ(bits(c.u_d), bits(fin[i].u_d));
            EXPECT_EQ(bits(c.g_adapt), bits(fin[i].g_adapt));
            EXPECT_EQ(bits(c.g_nmda_d), bits(fin[i].g_nmda_d));
            EXPECT_EQ(bits(c.rem_soma), bits(fin[i].rem_soma));
            EXPECT_EQ(bits(c.rem_dend), bits(fin[i].rem_dend));
        }
        // The comparison is only meaningful if the cells did fire, and burst.
        EXPECT_GT(spikes, 1000u);
        EXPECT_GT(bursts, 10u);
    }
}

TEST(GpuModelIdentity, SheetConnectivityDrawsIdentical) {
    L5_REQUIRE_DEVICE();
    model::SheetDraw p{};
    p.seed = 99;
    p.stream = model::stream_id(model::StreamKind::connect, 3);
    p.n_src = 40000;
    p.side_src = 200;
    p.n_tgt = 5000;
    p.side_tgt = 71;  // 71^2 = 5041 >= 5000: the last row is partly empty
    p.sigma = 0.05f;
    p.jitter = 1.0f;
    p.pos_stream_src = model::stream_id(model::StreamKind::positions, 0);
    p.pos_stream_tgt = model::stream_id(model::StreamKind::positions, 1);
    p.same_population = false;
    p.autapses = false;
    p.delay_min_steps = 10;
    p.steps_per_unit = 100.0f;
    p.delay_max_steps = 255;
    const uint32_t K = 100;
    std::vector<uint32_t> src, delay;
    cuda::device_sheet_draws(p, K, &src, &delay);
    for (uint32_t t = 0; t < p.n_tgt; ++t) {
        for (uint32_t k = 0; k < K; ++k) {
            uint32_t s, d;
            model::sheet_draw_source(p, t, k, &s, &d);
            ASSERT_EQ(src[uint64_t(t) * K + k], s) << "target " << t << " k " << k;
            ASSERT_EQ(delay[uint64_t(t) * K + k], d) << "target " << t << " k " << k;
        }
    }
}
