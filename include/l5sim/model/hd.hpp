#pragma once
/// L5_HD marks the shared model math: __host__ __device__ under nvcc, plain inline for g++.
#if defined(__CUDACC__)
#define L5_HD __host__ __device__
#else
#define L5_HD
#endif
