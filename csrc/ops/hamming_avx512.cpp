// Hamming kernel with AVX-512 VPOPCNTDQ (CMake compiles this file alone with
// -mavx512f -mavx512vpopcntdq; ../dispatch.cpp runs it only when the
// processor has AVX512F and AVX512_VPOPCNTDQ). vpopcntq counts each 64-bit lane;
// rows go eight at a time, and the eight per-row lane counts are packed as
// 16-bit fields into two vectors so that one short shuffle tree reduces all
// eight rows at once. Only AVX512F (+ AVX2 / SSE) instructions besides vpopcntq.
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own
// _mm512_undefined_*() placeholders (GCC PR 105593); nothing here is uninitialised.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "hamming_impl.hpp"

namespace fuzzykey {
namespace {

struct HammingAvx512 {
  static void rows(const uint64_t* q, const uint64_t* g, size_t words, size_t begin, size_t end,
                   int32_t* out);
};

inline __m512i load(const uint64_t* p) { return _mm512_loadu_si512(p); }
inline __m512i pop(__m512i x) { return _mm512_popcnt_epi64(x); }

// (a | b << 16 | c << 32 | d << 48) per lane; every input lane is < 2^16.
inline __m512i pack4(__m512i a, __m512i b, __m512i c, __m512i d) {
  return _mm512_or_si512(_mm512_or_si512(a, _mm512_slli_epi64(b, 16)),
                         _mm512_or_si512(_mm512_slli_epi64(c, 32), _mm512_slli_epi64(d, 48)));
}

// cR: the lane counts of row R (R = 0..7), whose 8 lanes must sum to at most
// 65535 (16-bit fields). Writes the 8 row sums as int32.
inline void store8(__m512i c0, __m512i c1, __m512i c2, __m512i c3, __m512i c4, __m512i c5, __m512i c6,
                   __m512i c7, int32_t* out) {
  const __m512i p0 = pack4(c0, c1, c2, c3), p1 = pack4(c4, c5, c6, c7);
  // [p0.0 + p0.2, p0.1 + p0.3, p1.0 + p1.2, p1.1 + p1.3] (128-bit chunks)
  __m512i s = _mm512_add_epi64(_mm512_shuffle_i64x2(p0, p1, _MM_SHUFFLE(1, 0, 1, 0)),
                               _mm512_shuffle_i64x2(p0, p1, _MM_SHUFFLE(3, 2, 3, 2)));
  s = _mm512_add_epi64(s, _mm512_shuffle_i64x2(s, s, _MM_SHUFFLE(2, 3, 0, 1)));
  s = _mm512_add_epi64(s, _mm512_shuffle_epi32(s, _MM_PERM_BADC));  // qword 0: p0 total, 4: p1 total
  const __m128i w = _mm_unpacklo_epi64(_mm512_castsi512_si128(s), _mm512_extracti32x4_epi32(s, 2));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_cvtepu16_epi32(w));
}

// One row of any length, masked loads for the last (partial) vector.
inline int32_t one_row(const uint64_t* q, const uint64_t* r, size_t words) {
  __m512i acc = _mm512_setzero_si512();
  size_t w = 0;
  for (; w + 8 <= words; w += 8) acc = _mm512_add_epi64(acc, pop(_mm512_xor_si512(load(r + w), load(q + w))));
  if (w < words) {
    const __mmask8 m = static_cast<__mmask8>((1u << (words - w)) - 1);
    acc = _mm512_add_epi64(acc, pop(_mm512_xor_si512(_mm512_maskz_loadu_epi64(m, r + w),
                                                     _mm512_maskz_loadu_epi64(m, q + w))));
  }
  return static_cast<int32_t>(_mm512_reduce_add_epi64(acc));
}

void tail_rows(const uint64_t* q, const uint64_t* g, size_t words, size_t begin, size_t end, int32_t* out) {
  for (size_t j = begin; j < end; ++j) out[j] = one_row(q, g + j * words, words);
}

// 512-bit rows: one vector per row.
void rows_w8(const uint64_t* q, const uint64_t* g, size_t begin, size_t end, int32_t* out) {
  const __m512i qv = load(q);
  size_t j = begin;
  for (; j + 8 <= end; j += 8) {
    const uint64_t* r = g + j * 8;
    auto c = [&](int i) { return pop(_mm512_xor_si512(load(r + 8 * i), qv)); };
    store8(c(0), c(1), c(2), c(3), c(4), c(5), c(6), c(7), out + j);
  }
  tail_rows(q, g, 8, j, end, out);
}

// 256-bit rows: two rows per vector (lanes 0-3 and 4-7), eight rows in four
// vectors. Packing the four vectors gives lanes 0-3 = rows 0, 2, 4, 6 and
// lanes 4-7 = rows 1, 3, 5, 7; interleaving the two sums restores the order.
void rows_w4(const uint64_t* q, const uint64_t* g, size_t begin, size_t end, int32_t* out) {
  const __m512i qv = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q)));
  size_t j = begin;
  for (; j + 8 <= end; j += 8) {
    const uint64_t* r = g + j * 4;
    auto c = [&](int i) { return pop(_mm512_xor_si512(load(r + 8 * i), qv)); };
    const __m512i p = pack4(c(0), c(1), c(2), c(3));
    __m512i s = _mm512_add_epi64(p, _mm512_shuffle_i64x2(p, p, _MM_SHUFFLE(2, 3, 0, 1)));
    s = _mm512_add_epi64(s, _mm512_shuffle_epi32(s, _MM_PERM_BADC));  // qword 0: rows 0,2,4,6; 4: 1,3,5,7
    const __m128i w = _mm_unpacklo_epi16(_mm512_castsi512_si128(s), _mm512_extracti32x4_epi32(s, 2));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + j), _mm256_cvtepu16_epi32(w));
  }
  tail_rows(q, g, 4, j, end, out);
}

// Rows of up to 8 * K words (K = 1, 2): masked loads zero the lanes past the
// row, so each row is K vectors and the eight-row reduction is that of rows_w8.
template <int K>
void rows_short(const uint64_t* q, const uint64_t* g, size_t words, size_t begin, size_t end, int32_t* out) {
  const __mmask8 last = static_cast<__mmask8>((1u << (words - 8 * (K - 1))) - 1);
  __m512i qv[K];
  for (int k = 0; k < K; ++k) qv[k] = _mm512_maskz_loadu_epi64(k + 1 == K ? last : 0xff, q + 8 * k);
  size_t j = begin;
  for (; j + 8 <= end; j += 8) {
    const uint64_t* r = g + j * words;
    auto c = [&](int i) {
      const uint64_t* row = r + i * words;
      __m512i x = pop(_mm512_xor_si512(_mm512_maskz_loadu_epi64(K == 1 ? last : 0xff, row), qv[0]));
      if (K == 2) x = _mm512_add_epi64(x, pop(_mm512_xor_si512(_mm512_maskz_loadu_epi64(last, row + 8), qv[K - 1])));
      return x;
    };
    store8(c(0), c(1), c(2), c(3), c(4), c(5), c(6), c(7), out + j);
  }
  tail_rows(q, g, words, j, end, out);
}

void HammingAvx512::rows(const uint64_t* q, const uint64_t* g, size_t words, size_t begin, size_t end,
                         int32_t* out) {
  if (words == 8) {
    rows_w8(q, g, begin, end, out);
  } else if (words == 4) {
    rows_w4(q, g, begin, end, out);
  } else if (words < 8) {
    rows_short<1>(q, g, words, begin, end, out);
  } else if (words <= 16) {
    rows_short<2>(q, g, words, begin, end, out);
  } else {
    tail_rows(q, g, words, begin, end, out);
  }
}

}  // namespace

void hamming_range_avx512(const uint64_t* q, size_t Q, const uint64_t* g, size_t begin, size_t end,
                          size_t words, int32_t* out, size_t stride) {
  hamming_impl::scan<HammingAvx512>(q, Q, g, begin, end, words, out, stride);
}

}  // namespace fuzzykey
