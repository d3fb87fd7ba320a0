// CPU implementations of the element-wise ops (pack, unpack, threshold + pack,
// sphere sampling); the per-element math is in bits.hpp and philox.hpp, shared
// with the CUDA kernels.
#include "ops.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <atomic>

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

namespace {

// Whether a value is finite: v - v is 0 for finite v, NaN for NaN and +-inf.
template <class T>
inline bool finite_value(T v) {
  return v - v == T(0);
}

#if defined(__SSE2__)
// 64 comparisons y > t at once with SSE2 (part of every x86-64 processor):
// the same comparison as threshold_word, four (float) or two (double) per
// instruction, the masks collected with movemask. `bad` collects lanes whose
// y is not finite (y - y != 0).
inline uint64_t threshold_word64(const float* y, const float* t, unsigned& bad) {
  uint64_t x = 0;
  const __m128 zero = _mm_setzero_ps();
  for (int k = 0; k < 64; k += 4) {
    const __m128 v = _mm_loadu_ps(y + k);
    const __m128 c = _mm_cmpgt_ps(v, t ? _mm_loadu_ps(t + k) : zero);
    x |= static_cast<uint64_t>(_mm_movemask_ps(c)) << k;
    bad |= static_cast<unsigned>(_mm_movemask_ps(_mm_cmpeq_ps(_mm_sub_ps(v, v), zero))) ^ 0xfu;
  }
  return x;
}
inline uint64_t threshold_word64(const double* y, const double* t, unsigned& bad) {
  uint64_t x = 0;
  const __m128d zero = _mm_setzero_pd();
  for (int k = 0; k < 64; k += 2) {
    const __m128d v = _mm_loadu_pd(y + k);
    const __m128d c = _mm_cmpgt_pd(v, t ? _mm_loadu_pd(t + k) : zero);
    x |= static_cast<uint64_t>(_mm_movemask_pd(c)) << k;
    bad |= static_cast<unsigned>(_mm_movemask_pd(_mm_cmpeq_pd(_mm_sub_pd(v, v), zero))) ^ 0x3u;
  }
  return x;
}
#else
template <class T>
inline uint64_t threshold_word64(const T* y, const T* t, unsigned& bad) {
  for (int k = 0; k < 64; ++k) bad |= !finite_value(y[k]);
  return threshold_word(y, t, 64, 0);
}
#endif

}  // namespace

template <class T>
bool threshold_pack_cpu(const T* y, size_t rows, size_t n, const T* thresholds, uint64_t* out,
                        int threads) {
  const size_t W = words_for_bits(n), full = n / 64;
  std::atomic<bool> finite{true};
  // Memory-bound: a second thread only pays off on large blocks.
  const size_t min_rows = std::max<size_t>(1024, (size_t(1) << 23) / std::max<size_t>(n, 1));
  parallel_rows(rows, threads, min_rows, [&](size_t begin, size_t end) {
    unsigned bad = 0;
    for (size_t r = begin; r < end; ++r) {
      const T* row = y + r * n;
      for (size_t w = 0; w < full; ++w) {
        out[r * W + w] = threshold_word64(row + 64 * w, thresholds ? thresholds + 64 * w : nullptr, bad);
      }
      if (full < W) {
        out[r * W + full] = threshold_word(row, thresholds, n, full);
        for (size_t j = 64 * full; j < n; ++j) bad |= !finite_value(row[j]);
      }
    }
    if (bad) finite.store(false);
  });
  return finite.load();
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

template bool threshold_pack_cpu<float>(const float*, size_t, size_t, const float*, uint64_t*, int);
template bool threshold_pack_cpu<double>(const double*, size_t, size_t, const double*, uint64_t*, int);
template void sample_sphere_cpu<float>(const float*, const float*, size_t, size_t, size_t, uint64_t,
                                       float*, float*, int);
template void sample_sphere_cpu<double>(const double*, const double*, size_t, size_t, size_t,
                                        uint64_t, double*, double*, int);

}  // namespace fuzzykey
