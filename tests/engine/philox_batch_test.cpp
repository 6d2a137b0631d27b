// The CPU engine's batched Philox (host/philox_batch.hpp) against model::philox, counter by
// counter: batch lengths around the eight lanes of the AVX2 path, arbitrary cell ids, seeds with
// both key words set, and every stream kind.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "l5sim/model/rng.hpp"
#include "philox_batch.hpp"

namespace l5sim {
namespace {

TEST(PhiloxBatch, EqualsModelPhiloxWordForWord) {
    std::mt19937_64 rng(7);
    for (int64_t m : {0, 1, 7, 8, 9, 15, 16, 17, 64, 100, 1023}) {
        for (int trial = 0; trial < 4; ++trial) {
            const uint64_t seed = rng();
            const uint32_t stream = model::stream_id(
                static_cast<model::StreamKind>(1 + trial % 4), static_cast<uint32_t>(rng()));
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

}  // namespace
}  // namespace l5sim
