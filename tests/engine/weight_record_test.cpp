// Weight snapshots record an evenly spaced sample spanning the whole projection (not its first
// rows), and the recorded values are the engine's weights at those synapses.
#include <gtest/gtest.h>

#include "l5sim/simulation.hpp"
#include "test_util.hpp"

using namespace l5sim;

namespace {

class WeightRecordEngine : public test::EngineTest {};
L5_ENGINE_TEST_SUITE(WeightRecordEngine);

const char* kNet = R"(
simulation: {duration_ms: 50.1}  # 501 steps: the last one (500) takes a snapshot
populations:
  PYR: {type: pyramidal, n: 101, background: {soma: {rate_hz: 3000}}}
projections:
  PYR_PYR: {source: PYR, target: PYR, receptors: {ampa: 1.75, nmda: 0.35},
            connectivity: {A: 3.5, sigma: 0.5, autapses: false}, stdp: {}}
recording:
  weights: [{projection: PYR_PYR, every_ms: 10, max_synapses: 1000}]
)";

}  // namespace

TEST_P(WeightRecordEngine, SampleSpansTheProjection) {
    Simulation sim(test::config_from(kNet), backend());
    sim.run();
    const uint64_t total = 101 * 100;  // dense, autapses off
    const auto& rec = sim.weights()[0];
    EXPECT_EQ(rec.stride, 11u);  // ceil(10100 / 1000)
    EXPECT_EQ(rec.count, 919u);  // ceil(10100 / 11) <= 1000
    EXPECT_LE(rec.count, 1000u);
    EXPECT_GT((rec.count - 1) * rec.stride, total - rec.stride - 1);  // reaches the last rows
    ASSERT_EQ(rec.steps.size(), 6u);                                  // steps 0, 100, ..., 500
    ASSERT_EQ(rec.values.size(), rec.steps.size() * rec.count);
    const auto w = sim.current_weights(0);
    ASSERT_EQ(w.size(), total);
    for (uint64_t k = 0; k < rec.count; ++k)  // the last snapshot is taken after the last step
        ASSERT_EQ(rec.values[(rec.steps.size() - 1) * rec.count + k], w[k * rec.stride]) << k;
    std::vector<uint32_t> src(rec.count), tgt(rec.count);
    sim.engine().read_synapses(0, rec.stride, rec.count, src.data(), tgt.data());
    EXPECT_EQ(src.front(), 0u);
    EXPECT_EQ(src.back(), 100u);  // the last source cell is sampled too
    for (uint64_t k = 0; k < rec.count; ++k) ASSERT_NE(src[k], tgt[k]);  // no autapses
}
