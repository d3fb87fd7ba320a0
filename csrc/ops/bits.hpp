// Bit layout of every packed string: bit j lives in 64-bit word j / 64 at bit
// position j % 64 (least significant first); a row of n bits takes
// ceil(n / 64) words and the bits past n are zero.
#pragma once

#include <cstddef>
#include <cstdint>

#include "device.hpp"

namespace fuzzykey {

FUZZYKEY_HD size_t words_for_bits(size_t n) { return (n + 63) / 64; }

FUZZYKEY_HD int popcount64(uint64_t x) {
#if defined(__CUDA_ARCH__)
  return __popcll(x);
#else
  return __builtin_popcountll(x);
#endif
}

// Word `w` of a row of n 0/1 bytes: bit i = bits[64 w + i] (any nonzero byte is 1).
FUZZYKEY_HD uint64_t pack_word(const uint8_t* bits, size_t n, size_t w) {
  const size_t begin = 64 * w, count = n - begin < 64 ? n - begin : 64;
  uint64_t x = 0;
  for (size_t i = 0; i < count; ++i) x |= static_cast<uint64_t>(bits[begin + i] != 0) << i;
  return x;
}

// Word `w` of the row y thresholded: bit i = (y[64 w + i] > t[64 w + i]), with
// t = 0 when thresholds is null. Comparing is exact: y - t > 0 iff y > t.
template <class T>
FUZZYKEY_HD uint64_t threshold_word(const T* y, const T* thresholds, size_t n, size_t w) {
  const size_t begin = 64 * w, count = n - begin < 64 ? n - begin : 64;
  uint64_t x = 0;
  for (size_t i = 0; i < count; ++i) {
    const T t = thresholds ? thresholds[begin + i] : T(0);
    x |= static_cast<uint64_t>(y[begin + i] > t) << i;
  }
  return x;
}

// Bit j of a packed row.
FUZZYKEY_HD uint8_t unpack_bit(const uint64_t* words, size_t j) {
  return static_cast<uint8_t>((words[j >> 6] >> (j & 63)) & 1u);
}

// Hamming distance between two packed rows of `words` words.
FUZZYKEY_HD int32_t hamming_words(const uint64_t* a, const uint64_t* b, size_t words) {
  int32_t d = 0;
  for (size_t w = 0; w < words; ++w) d += popcount64(a[w] ^ b[w]);
  return d;
}

}  // namespace fuzzykey
