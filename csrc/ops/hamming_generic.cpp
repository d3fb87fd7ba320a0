// Portable Hamming kernel: built with no special target flags, so it runs on
// any processor. On x86-64 without -mpopcnt, __builtin_popcountll is a slow
// library call, so the count is done in the register (SWAR): per-byte counts of
// up to 31 words are summed before one final horizontal fold.
#include "hamming_impl.hpp"

namespace fuzzykey {
namespace {

#if defined(__POPCNT__) || defined(__aarch64__) || defined(__powerpc64__) || defined(__riscv_zbb)
constexpr bool kFastBuiltin = true;
#else
constexpr bool kFastBuiltin = false;
#endif

// Per-byte population counts of x (each byte 0..8).
inline uint64_t byte_counts(uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  return (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
}

// Sum of the 8 bytes of acc (each byte <= 255).
inline int32_t fold_bytes(uint64_t acc) {
  acc = (acc & 0x00ff00ff00ff00ffull) + ((acc >> 8) & 0x00ff00ff00ff00ffull);
  return static_cast<int32_t>((acc * 0x0001000100010001ull) >> 48);
}

template <size_t W>
void swar_rows(const uint64_t* q, const uint64_t* g, size_t words, size_t begin, size_t end,
               int32_t* out) {
  const size_t n = W ? W : words;
  const uint64_t* r = g + begin * n;
  for (size_t j = begin; j < end; ++j, r += n) {
    int32_t d = 0;
    uint64_t acc = 0;
    for (size_t w = 0; w < n; ++w) {
      acc += byte_counts(q[w] ^ r[w]);
      if (w % 31 == 30) {  // bytes reach at most 31 * 8 = 248
        d += fold_bytes(acc);
        acc = 0;
      }
    }
    out[j] = d + fold_bytes(acc);
  }
}

struct HammingGeneric {
  static int popcount(uint64_t x) { return __builtin_popcountll(x); }
  static void rows(const uint64_t* q, const uint64_t* g, size_t words, size_t begin, size_t end,
                   int32_t* out) {
    if (kFastBuiltin) {
      hamming_impl::scalar_rows_any<HammingGeneric>(q, g, words, begin, end, out);
      return;
    }
    switch (words) {
      case 4:
        swar_rows<4>(q, g, words, begin, end, out);
        break;
      case 8:
        swar_rows<8>(q, g, words, begin, end, out);
        break;
      default:
        swar_rows<0>(q, g, words, begin, end, out);
    }
  }
};

}  // namespace

void hamming_range_generic(const uint64_t* q, size_t Q, const uint64_t* g, size_t begin, size_t end,
                           size_t words, int32_t* out, size_t stride) {
  hamming_impl::scan<HammingGeneric>(q, Q, g, begin, end, words, out, stride);
}

}  // namespace fuzzykey
