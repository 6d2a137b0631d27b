// The CPU engine's batched Philox (host/cpu/philox_batch.hpp) against model::philox, counter by
// counter: batch lengths around the eight lanes of the AVX2 path, arbitrary cell ids, seeds with
// both key words set, and every stream kind.
#include "cpu/philox_batch.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "l5sim/model/rng.hpp"

namespace l5sim {
namespace {

TEST(PhiloxBatch, EqualsModelPhiloxWordForWord) {
    std::mt19937_64 rng(7);
    for (int64_t m : {0, 1, 7, 8, 9, 15, 16, 17, 64, 100, 1023}) {
        for (int trial = 0; trial < 4; ++trial) {
            const uint64_t seed = rng();
            const uint32_t stream = model::stream_id(static_cast<model::StreamKind>(1 + trial % 4),
                                                     static_cast<uint32_t>(rng()));
            const auto step = static_cast<uint32_t>(rng());
            std::vector<uint32_t> idx(static_cast<size_t>(m));
            for (auto& i : idx) i = static_cast<uint32_t>(rng());
            std::vector<uint32_t> w0(idx.size() + 1, 0xdeadbeefu), w1(idx.size() + 1, 0xdeadbeefu);
            cpu::philox_batch(seed, stream, step, idx.data(), m, w0.data(), w1.data());
            for (int64_t a = 0; a < m; ++a) {
                const model::Draw4 r = model::philox(seed, stream, step, idx[a], 0);
                ASSERT_EQ(w0[a], r.v[0]) << "m " << m << " a " << a;
                ASSERT_EQ(w1[a], r.v[1]) << "m " << m << " a " << a;
            }
            EXPECT_EQ(w0[m], 0xdeadbeefu) << "wrote past the batch, m " << m;
            EXPECT_EQ(w1[m], 0xdeadbeefu) << "wrote past the batch, m " << m;
        }
    }
}

// A known answer, so that both paths being wrong the same way (a shared mistake) fails too:
// Random123's own known-answer vector for Philox4x32-10 (kat_vectors: counter and key zero).
TEST(PhiloxBatch, KnownAnswerOfRandom123) {
    const uint32_t idx[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
    uint32_t w0[9], w1[9];
    cpu::philox_batch(0, 0, 0, idx, 9, w0, w1);
    for (int a = 0; a < 9; ++a) {
        EXPECT_EQ(w0[a], 0x6627e8d5u);
        EXPECT_EQ(w1[a], 0xe169c58du);
    }
}

// The counter layout, pinned by Random123's known answer for four distinct counter words (its
// kat_vectors: ctr 243f6a88 85a308d3 13198a2e 03707344, key a4093822 299f31d0): model::philox
// (seed, stream, step, id, sub) must put (id, step, stream, sub) in words 0-3, as
// model::philox_counter says; any two swapped change every word. The batch builds its counters
// with the same philox_counter and equals model::philox (above), so it cannot drift from it.
TEST(PhiloxBatch, CounterLayoutPinnedByAKnownAnswer) {
    const uint64_t seed = 0x299f31d0a4093822ull;  // key words a4093822, 299f31d0
    const model::Draw4 r = model::philox(seed, 0x13198a2eu, 0x85a308d3u, 0x243f6a88u, 0x03707344u);
    EXPECT_EQ(r.v[0], 0xd16cfe09u);
    EXPECT_EQ(r.v[1], 0x94fdccebu);
    EXPECT_EQ(r.v[2], 0x5001e420u);
    EXPECT_EQ(r.v[3], 0x24126ea1u);
    const model::Counter4 c = model::philox_counter(1, 2, 3, 4);
    EXPECT_EQ(c.w[0], 3u);  // id
    EXPECT_EQ(c.w[1], 2u);  // step
    EXPECT_EQ(c.w[2], 1u);  // stream
    EXPECT_EQ(c.w[3], 4u);  // sub
}

}  // namespace
}  // namespace l5sim
