// CUDA entry points of fuzzykey.ops: the same operations as ../ops/ops.hpp and
// ../ops/hamming.hpp, on device pointers, enqueued on `stream` (a cudaStream_t
// passed as an integer; 0 = the legacy default stream). Builds without CUDA get
// stubs that throw std::runtime_error.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fuzzykey {

void cuda_pack_bits(const uint8_t* bits, size_t rows, size_t n, uint64_t* out, uintptr_t stream);
void cuda_unpack_bits(const uint64_t* words, size_t rows, size_t n, uint8_t* out, uintptr_t stream);
template <class T>
void cuda_threshold_pack(const T* y, size_t rows, size_t n, const T* thresholds, uint64_t* out,
                         uintptr_t stream);
void cuda_hamming(const uint64_t* queries, size_t Q, const uint64_t* gallery, size_t G, size_t words,
                  int32_t* out, uintptr_t stream);
template <class T>
void cuda_sample_sphere(const T* centers, const T* radii, size_t N, size_t d, size_t S,
                        uint64_t seed, T* z, T* u, uintptr_t stream);

}  // namespace fuzzykey
