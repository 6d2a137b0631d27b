// The 32-bit fixed point of the delay rings (include/l5sim/model/synapse.hpp, DESIGN.md section
// 2): weights enter at 2^e units per nS, truncated toward zero; sums wrap in uint32 and come out
// right while the true sum fits in 31 bits; ring_fixed_exponent picks the finest e (at most 24)
// at which a cell's largest possible one-step input fits.
#include "l5sim/model/synapse.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "l5sim/error.hpp"
#include "l5sim/network.hpp"

using namespace l5sim;
using model::RingCell;

TEST(FixedPoint, TruncatesTowardZeroAtTheScale) {
    // 0.3f (0.300000011920928955078125 nS) at 2^20 units per nS: 314572.8125 units -> 314572.
    EXPECT_EQ(model::to_fixed(0.3f, std::ldexp(1.0f, 20)), 314572u);
    EXPECT_EQ(model::from_fixed(314572u, std::ldexp(1.0f, -20)), 314572.0f / 1048576.0f);
    const float per_ns = std::ldexp(1.0f, 24), ns_per = std::ldexp(1.0f, -24);
    // Exact powers of two pass unchanged; a negative weight is two's complement.
    EXPECT_EQ(model::to_fixed(0.5f, per_ns), 1u << 23);
    EXPECT_EQ(model::to_fixed(-0.5f, per_ns), static_cast<RingCell>(-(1 << 23)));
    EXPECT_EQ(model::from_fixed(model::to_fixed(-0.5f, per_ns), ns_per), -0.5f);
    // Below one unit: nothing.
    EXPECT_EQ(model::to_fixed(0.9f * ns_per, per_ns), 0u);
}

TEST(FixedPoint, WrappedSumsAreExactWhileTheTrueSumFits) {
    const float per_ns = std::ldexp(1.0f, 24), ns_per = std::ldexp(1.0f, -24);
    // -0.5 + 0.75 passes through a wrap (0 - 2^23 as uint32) and lands on +0.25 exactly.
    RingCell acc = 0;
    acc += model::to_fixed(-0.5f, per_ns);
    acc += model::to_fixed(0.75f, per_ns);
    EXPECT_EQ(model::from_fixed(acc, ns_per), 0.25f);
    // 127 inputs of 1 nS at 2^24: 127 * 2^24 < 2^31, exact.
    acc = 0;
    for (int k = 0; k < 127; ++k) acc += model::to_fixed(1.0f, per_ns);
    EXPECT_EQ(model::from_fixed(acc, ns_per), 127.0f);
    // 128 of them reach 2^31: the sum wraps to -2^31 (why the exponent must leave room).
    acc += model::to_fixed(1.0f, per_ns);
    EXPECT_EQ(model::from_fixed(acc, ns_per), -128.0f);
}

TEST(FixedPoint, ExponentIsTheFinestScaleAtWhichAStepsMostInputFits) {
    // in_degree * w_peak * 2^e <= 2^31 - 1, e <= 24.
    EXPECT_EQ(ring_fixed_exponent("p", 100, 0.5f), 24);   // 50 nS
    EXPECT_EQ(ring_fixed_exponent("p", 127, 1.0f), 24);   // 127 * 2^24 = 2^31 - 2^24
    EXPECT_EQ(ring_fixed_exponent("p", 128, 1.0f), 23);   // 128 * 2^24 = 2^31: one too many
    EXPECT_EQ(ring_fixed_exponent("p", 1000, 5.0f), 18);  // 5000 * 2^18 = 1.31e9; 2^19: 2.6e9
    EXPECT_EQ(ring_fixed_exponent("p", 7, 0.0f), 24);     // no weight: the finest
    EXPECT_EQ(ring_fixed_exponent("p", 1, 2147483647.0f / 2), 0);  // 2^30 nS fits at 1 unit
}

TEST(FixedPoint, ExponentRefusesInputBeyondTheRing) {
    try {
        ring_fixed_exponent("PV_PYR", 4000000000u, 1.0f);
        ADD_FAILURE() << "4e9 nS in one step accepted";
    } catch (const ConfigError& e) {  // a config error: exit 2
        const std::string m = e.what();
        EXPECT_NE(m.find("PV_PYR"), std::string::npos) << m;
        EXPECT_NE(m.find("reduce K or the weights"), std::string::npos) << m;
    }
}
