// CPU entry points of fuzzykey.ops (the CUDA ones are in ../cuda/ops_cuda.hpp,
// same arguments, device pointers). Arrays are C-contiguous; packed rows follow
// bits.hpp. threads <= 0 means all cores.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fuzzykey {

// rows x n bytes (0 / nonzero) -> rows x ceil(n/64) words.
void pack_bits_cpu(const uint8_t* bits, size_t rows, size_t n, uint64_t* out, int threads);
// rows x ceil(n/64) words -> rows x n bytes 0/1.
void unpack_bits_cpu(const uint64_t* words, size_t rows, size_t n, uint8_t* out, int threads);
// rows x n values y -> packed bits (y > thresholds), thresholds: n values or null.
// Returns whether every y was finite (NaN or inf in x or the projection shows up
// in y = x @ P, so this check replaces separate passes over the inputs).
template <class T>
bool threshold_pack_cpu(const T* y, size_t rows, size_t n, const T* thresholds, uint64_t* out,
                        int threads);
// z[i, s, :] = centers[i] + radii[i] * u[i, s, :], u uniform on the unit sphere
// (a normalized Gaussian drawn with Philox4x32-10 keyed by seed, counter
// (i, s, block)); writes both z and u, each N x S x d.
template <class T>
void sample_sphere_cpu(const T* centers, const T* radii, size_t N, size_t d, size_t S, uint64_t seed,
                       T* z, T* u, int threads);

}  // namespace fuzzykey
