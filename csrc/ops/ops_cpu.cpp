// CPU implementations of the element-wise ops (pack, unpack, threshold + pack,
// sphere sampling); the per-element math is in bits.hpp and philox.hpp, shared
// with the CUDA kernels.
#include "ops.hpp"

#include "../parallel.hpp"
#include "bits.hpp"
#include "philox.hpp"

namespace fuzzykey {

void pack_bits_cpu(const uint8_t* bits, size_t rows, size_t n, uint64_t* out, int threads) {
  const size_t W = words_for_bits(n);
  parallel_rows(rows, threads, 1024, [&](size_t begin, size_t end) {
    for (size_t r = begin; r < end; ++r) {
      for (size_t w = 0; w < W; ++w) out[r * W + w] = pack_word(bits + r * n, n, w);
    }
  });
}

void unpack_bits_cpu(const uint64_t* words, size_t rows, size_t n, uint8_t* out, int threads) {
  const size_t W = words_for_bits(n);
  parallel_rows(rows, threads, 1024, [&](size_t begin, size_t end) {
    for (size_t r = begin; r < end; ++r) {
      for (size_t j = 0; j < n; ++j) out[r * n + j] = unpack_bit(words + r * W, j);
    }
  });
}

template <class T>
void threshold_pack_cpu(const T* y, size_t rows, size_t n, const T* thresholds, uint64_t* out,
                        int threads) {
  const size_t W = words_for_bits(n);
  parallel_rows(rows, threads, 1024, [&](size_t begin, size_t end) {
    for (size_t r = begin; r < end; ++r) {
      for (size_t w = 0; w < W; ++w) out[r * W + w] = threshold_word(y + r * n, thresholds, n, w);
    }
  });
}

template <class T>
void sample_sphere_cpu(const T* centers, const T* radii, size_t N, size_t d, size_t S, uint64_t seed,
                       T* z, T* u, int threads) {
  parallel_rows(N * S, threads, 64, [&](size_t begin, size_t end) {
    for (size_t k = begin; k < end; ++k) {
      const size_t i = k / S, s = k % S;
      sphere_sample(centers + i * d, radii[i], d, seed, i, s, z + k * d, u + k * d);
    }
  });
}

template void threshold_pack_cpu<float>(const float*, size_t, size_t, const float*, uint64_t*, int);
template void threshold_pack_cpu<double>(const double*, size_t, size_t, const double*, uint64_t*, int);
template void sample_sphere_cpu<float>(const float*, const float*, size_t, size_t, size_t, uint64_t,
                                       float*, float*, int);
template void sample_sphere_cpu<double>(const double*, const double*, size_t, size_t, size_t,
                                        uint64_t, double*, double*, int);

}  // namespace fuzzykey
