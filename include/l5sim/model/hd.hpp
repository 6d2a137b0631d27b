#pragma once
/// L5_HD marks the shared model math: __host__ __device__ under nvcc, plain inline for g++.
#if defined(__CUDACC__)
#define L5_HD __host__ __device__
#else
#define L5_HD
#endif

/// Fully unrolls the loop that follows (over receptors, compartments: short constant bounds), so
/// that arrays indexed by its counter stay in registers and table tests fold.
#if defined(__CUDACC__)
#define L5_UNROLL _Pragma("unroll")
#else
#define L5_UNROLL _Pragma("GCC unroll 8")
#endif
