// Hamming kernel with the scalar POPCNT instruction (CMake compiles this file
// alone with -mpopcnt; ../dispatch.cpp runs it only when the processor
// has POPCNT).
#include "hamming_impl.hpp"

namespace fuzzykey {
namespace {

struct HammingPopcnt {
  static int popcount(uint64_t x) { return __builtin_popcountll(x); }
  static void rows(const uint64_t* q, const uint64_t* g, size_t words, size_t begin, size_t end,
                   int32_t* out) {
    hamming_impl::scalar_rows_any<HammingPopcnt>(q, g, words, begin, end, out);
  }
};

}  // namespace

void hamming_range_popcnt(const uint64_t* q, size_t Q, const uint64_t* g, size_t begin, size_t end,
                          size_t words, int32_t* out, size_t stride) {
  hamming_impl::scan<HammingPopcnt>(q, Q, g, begin, end, words, out, stride);
}

}  // namespace fuzzykey
