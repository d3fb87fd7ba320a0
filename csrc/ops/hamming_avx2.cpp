// Hamming kernel with AVX2 (CMake compiles this file alone with -mavx2 -mpopcnt;
// ../dispatch.cpp runs it only when the processor has both). Popcount of
// 256-bit vectors by nibble lookup with vpshufb (Mula, Kurz, Lemire, "Faster
// population counts using AVX2 instructions", 2018); per-row sums by vpsadbw.
// Rows of 256 and 512 bits go four at a time, their four sums packed into
// 16-bit fields of one vector so that a single horizontal reduction serves them
// all; rows shorter than 256 bits use scalar POPCNT.
#include <immintrin.h>

#include "hamming_impl.hpp"

namespace fuzzykey {
namespace {

struct HammingAvx2 {
  static int popcount(uint64_t x) { return __builtin_popcountll(x); }
  static void rows(const uint64_t* q, const uint64_t* g, size_t words, size_t begin, size_t end,
                   int32_t* out);
};

inline __m256i load(const uint64_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// Per-byte population counts (0..8) of the 32 bytes of x.
inline __m256i byte_counts(__m256i x) {
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,  //
                                       0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i nib = _mm256_set1_epi8(0x0f);
  const __m256i lo = _mm256_and_si256(x, nib);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), nib);
  return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
}

// Four qword sums per row (vpsadbw) for rows 0..3, packed as 16-bit fields,
// reduced over the 4 lanes and written as 4 int32.
inline void store4(__m256i s0, __m256i s1, __m256i s2, __m256i s3, int32_t* out) {
  const __m256i p = _mm256_or_si256(_mm256_or_si256(s0, _mm256_slli_epi64(s1, 16)),
                                    _mm256_or_si256(_mm256_slli_epi64(s2, 32), _mm256_slli_epi64(s3, 48)));
  __m128i x = _mm_add_epi64(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
  x = _mm_add_epi64(x, _mm_unpackhi_epi64(x, x));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_cvtepu16_epi32(x));
}

// Rows of K * 4 words (K = 1, 2), four rows per step.
template <int K>
void block_rows(const uint64_t* q, const uint64_t* g, size_t begin, size_t end, int32_t* out) {
  constexpr size_t W = 4 * K;
  const __m256i zero = _mm256_setzero_si256();
  __m256i qv[K];
  for (int k = 0; k < K; ++k) qv[k] = load(q + 4 * k);
  auto sums = [&](const uint64_t* r) {
    __m256i c = byte_counts(_mm256_xor_si256(load(r), qv[0]));
    for (int k = 1; k < K; ++k) c = _mm256_add_epi8(c, byte_counts(_mm256_xor_si256(load(r + 4 * k), qv[k])));
    return _mm256_sad_epu8(c, zero);
  };
  size_t j = begin;
  for (; j + 4 <= end; j += 4) {
    const uint64_t* r = g + j * W;
    store4(sums(r), sums(r + W), sums(r + 2 * W), sums(r + 3 * W), out + j);
  }
  hamming_impl::scalar_rows<HammingAvx2, W>(q, g, W, j, end, out);
}

// Any row length >= 4 words: vector steps of 4 words, then POPCNT on the rest.
void long_rows(const uint64_t* q, const uint64_t* g, size_t words, size_t begin, size_t end,
               int32_t* out) {
  const __m256i zero = _mm256_setzero_si256();
  const size_t full = words & ~size_t(3);
  for (size_t j = begin; j < end; ++j) {
    const uint64_t* r = g + j * words;
    __m256i acc = zero;
    size_t w = 0;
    while (w < full) {  // byte counts summed over at most 31 steps (<= 248) before vpsadbw
      const size_t stop = full - w > 31 * 4 ? w + 31 * 4 : full;
      __m256i c = zero;
      for (; w < stop; w += 4) c = _mm256_add_epi8(c, byte_counts(_mm256_xor_si256(load(r + w), load(q + w))));
      acc = _mm256_add_epi64(acc, _mm256_sad_epu8(c, zero));
    }
    __m128i x = _mm_add_epi64(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    x = _mm_add_epi64(x, _mm_unpackhi_epi64(x, x));
    int64_t d = _mm_cvtsi128_si64(x);
    for (; w < words; ++w) d += __builtin_popcountll(q[w] ^ r[w]);
    out[j] = static_cast<int32_t>(d);
  }
}

void HammingAvx2::rows(const uint64_t* q, const uint64_t* g, size_t words, size_t begin, size_t end,
                       int32_t* out) {
  if (words == 4) {
    block_rows<1>(q, g, begin, end, out);
  } else if (words == 8) {
    block_rows<2>(q, g, begin, end, out);
  } else if (words < 4) {
    hamming_impl::scalar_rows<HammingAvx2, 0>(q, g, words, begin, end, out);
  } else {
    long_rows(q, g, words, begin, end, out);
  }
}

}  // namespace

void hamming_range_avx2(const uint64_t* q, size_t Q, const uint64_t* g, size_t begin, size_t end,
                        size_t words, int32_t* out, size_t stride) {
  hamming_impl::scan<HammingAvx2>(q, Q, g, begin, end, words, out, stride);
}

}  // namespace fuzzykey
