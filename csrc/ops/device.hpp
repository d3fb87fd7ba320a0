// FUZZYKEY_HD marks the per-element math shared by the CPU code and the CUDA
// kernels: __host__ __device__ under nvcc, plain inline elsewhere, so the CPU
// tests cover exactly the functions the GPU runs.
#pragma once

#if defined(__CUDACC__)
#define FUZZYKEY_HD __host__ __device__ inline
#else
#define FUZZYKEY_HD inline
#endif
