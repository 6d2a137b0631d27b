#include "cpu/philox_batch.hpp"

#include "l5sim/model/rng.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace l5sim::cpu {

namespace {

// One counter at a time (model::philox itself): the tail of a batch, and CPUs without AVX2.
void philox_scalar(uint64_t seed, uint32_t stream, uint32_t step, const uint32_t* idx, int64_t m,
                   uint32_t* w0, uint32_t* w1) {
    for (int64_t a = 0; a < m; ++a) {
        const model::Draw4 r = model::philox(seed, stream, step, idx[a], 0);
        w0[a] = r.v[0];
        w1[a] = r.v[1];
    }
}

#if defined(__x86_64__)
// The high and low 32 bits of m * a for the eight lanes of a (m in every lane).
__attribute__((target("avx2"))) inline void mulhilo8(__m256i m, __m256i a, __m256i* hi,
                                                     __m256i* lo) {
    const __m256i even = _mm256_mul_epu32(a, m);                        // lanes 0, 2, 4, 6
    const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);  // lanes 1, 3, 5, 7
    *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xaa);
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xaa);
}

// Philox4x32-10 (Random123's philox4x32round and bumpkey, in its order) on eight counters
// model::philox_counter(stream, step, idx[a], 0) at once; words 0 and 1 out.
__attribute__((target("avx2"))) int64_t philox_avx2(uint64_t seed, uint32_t stream, uint32_t step,
                                                    const uint32_t* idx, int64_t m, uint32_t* w0,
                                                    uint32_t* w1) {
    const __m256i m0 = _mm256_set1_epi32(static_cast<int>(PHILOX_M4x32_0));
    const __m256i m1 = _mm256_set1_epi32(static_cast<int>(PHILOX_M4x32_1));
    int64_t a = 0;
    for (; a + 8 <= m; a += 8) {
        // The eight counters, word by word, from the one definition of their layout.
        alignas(32) uint32_t words[4][8];
        for (int lane = 0; lane < 8; ++lane) {
            const model::Counter4 ctr = model::philox_counter(stream, step, idx[a + lane], 0);
            L5_PHILOX_TRACE(ctr);
            for (int k = 0; k < 4; ++k) words[k][lane] = ctr.w[k];
        }
        __m256i c0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(words[0]));
        __m256i c1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(words[1]));
        __m256i c2 = _mm256_load_si256(reinterpret_cast<const __m256i*>(words[2]));
        __m256i c3 = _mm256_load_si256(reinterpret_cast<const __m256i*>(words[3]));
        uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
        for (int round = 0; round < 10; ++round) {
            if (round > 0) {
                k0 += PHILOX_W32_0;
                k1 += PHILOX_W32_1;
            }
            __m256i hi0, lo0, hi1, lo1;
            mulhilo8(m0, c0, &hi0, &lo0);
            mulhilo8(m1, c2, &hi1, &lo1);
            const __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1),
                                                _mm256_set1_epi32(static_cast<int>(k0)));
            const __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3),
                                                _mm256_set1_epi32(static_cast<int>(k1)));
            c0 = n0;
            c1 = lo1;
            c2 = n2;
            c3 = lo0;
        }
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(w0 + a), c0);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(w1 + a), c1);
    }
    return a;
}

const bool kHaveAvx2 = __builtin_cpu_supports("avx2");
#endif

}  // namespace

void philox_batch(uint64_t seed, uint32_t stream, uint32_t step, const uint32_t* idx, int64_t m,
                  uint32_t* w0, uint32_t* w1) {
    int64_t done = 0;
#if defined(__x86_64__)
    if (kHaveAvx2) done = philox_avx2(seed, stream, step, idx, m, w0, w1);
#endif
    philox_scalar(seed, stream, step, idx + done, m - done, w0 + done, w1 + done);
}

}  // namespace l5sim::cpu
