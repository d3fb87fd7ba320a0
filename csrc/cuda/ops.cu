// CUDA kernels of fuzzykey.ops. Each thread does what one loop iteration of the
// CPU code does, with the same __host__ __device__ functions (../ops/bits.hpp,
// ../ops/philox.hpp), so CPU tests cover the per-element math. Launches are
// plain 1-D or 2-D grids; errors from the launch are raised as exceptions.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "../ops/bits.hpp"
#include "../ops/philox.hpp"
#include "ops_cuda.hpp"

namespace fuzzykey {
namespace {

constexpr unsigned kThreads = 256;

cudaStream_t as_stream(uintptr_t s) { return reinterpret_cast<cudaStream_t>(s); }

unsigned blocks_for(size_t items) {
  const size_t b = (items + kThreads - 1) / kThreads;
  if (b > 0x7fffffffu) throw std::invalid_argument("too many elements for one CUDA launch");
  return static_cast<unsigned>(b == 0 ? 1 : b);
}

void check_launch(const char* what) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) {
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
  }
}

// One thread per output word.
__global__ void pack_kernel(const uint8_t* bits, size_t rows, size_t n, uint64_t* out) {
  const size_t W = words_for_bits(n);
  const size_t k = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (k >= rows * W) return;
  const size_t r = k / W, w = k % W;
  out[k] = pack_word(bits + r * n, n, w);
}

// One thread per output bit.
__global__ void unpack_kernel(const uint64_t* words, size_t rows, size_t n, uint8_t* out) {
  const size_t k = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (k >= rows * n) return;
  const size_t r = k / n, j = k % n;
  out[k] = unpack_bit(words + r * words_for_bits(n), j);
}

template <class T>
__global__ void threshold_kernel(const T* y, size_t rows, size_t n, const T* thresholds, uint64_t* out) {
  const size_t W = words_for_bits(n);
  const size_t k = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (k >= rows * W) return;
  const size_t r = k / W, w = k % W;
  out[k] = threshold_word(y + r * n, thresholds, n, w);
}

// One thread per (query, gallery row) pair; x runs over the gallery so that a
// warp reads neighbouring gallery rows.
__global__ void hamming_kernel(const uint64_t* q, size_t Q, const uint64_t* g, size_t G, size_t words,
                               int32_t* out) {
  const size_t j = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  const size_t i = blockIdx.y;
  if (j >= G || i >= Q) return;
  out[i * G + j] = hamming_words(q + i * words, g + j * words, words);
}

// One thread per (row, sample).
template <class T>
__global__ void sphere_kernel(const T* centers, const T* radii, size_t N, size_t d, size_t S,
                              uint64_t seed, T* z, T* u) {
  const size_t k = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (k >= N * S) return;
  const size_t i = k / S, s = k % S;
  sphere_sample(centers + i * d, radii[i], d, seed, i, s, z + k * d, u + k * d);
}

}  // namespace

void cuda_pack_bits(const uint8_t* bits, size_t rows, size_t n, uint64_t* out, uintptr_t stream) {
  const size_t items = rows * words_for_bits(n);
  if (!items) return;
  pack_kernel<<<blocks_for(items), kThreads, 0, as_stream(stream)>>>(bits, rows, n, out);
  check_launch("pack_bits");
}

void cuda_unpack_bits(const uint64_t* words, size_t rows, size_t n, uint8_t* out, uintptr_t stream) {
  const size_t items = rows * n;
  if (!items) return;
  unpack_kernel<<<blocks_for(items), kThreads, 0, as_stream(stream)>>>(words, rows, n, out);
  check_launch("unpack_bits");
}

template <class T>
void cuda_threshold_pack(const T* y, size_t rows, size_t n, const T* thresholds, uint64_t* out,
                         uintptr_t stream) {
  const size_t items = rows * words_for_bits(n);
  if (!items) return;
  threshold_kernel<T><<<blocks_for(items), kThreads, 0, as_stream(stream)>>>(y, rows, n, thresholds, out);
  check_launch("binarize");
}

void cuda_hamming(const uint64_t* queries, size_t Q, const uint64_t* gallery, size_t G, size_t words,
                  int32_t* out, uintptr_t stream) {
  if (!Q || !G) return;
  if (Q > 65535) throw std::invalid_argument("cuda hamming: at most 65535 queries per call");
  const dim3 grid(blocks_for(G), static_cast<unsigned>(Q));
  hamming_kernel<<<grid, kThreads, 0, as_stream(stream)>>>(queries, Q, gallery, G, words, out);
  check_launch("hamming");
}

template <class T>
void cuda_sample_sphere(const T* centers, const T* radii, size_t N, size_t d, size_t S,
                        uint64_t seed, T* z, T* u, uintptr_t stream) {
  const size_t items = N * S;
  if (!items) return;
  sphere_kernel<T><<<blocks_for(items), kThreads, 0, as_stream(stream)>>>(centers, radii, N, d, S, seed, z, u);
  check_launch("sample_sphere");
}

template void cuda_threshold_pack<float>(const float*, size_t, size_t, const float*, uint64_t*, uintptr_t);
template void cuda_threshold_pack<double>(const double*, size_t, size_t, const double*, uint64_t*,
                                          uintptr_t);
template void cuda_sample_sphere<float>(const float*, const float*, size_t, size_t, size_t, uint64_t,
                                        float*, float*, uintptr_t);
template void cuda_sample_sphere<double>(const double*, const double*, size_t, size_t, size_t, uint64_t,
                                         double*, double*, uintptr_t);

}  // namespace fuzzykey
