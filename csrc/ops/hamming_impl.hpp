// Shared template bodies of the Hamming kernels (see hamming.hpp). Included
// only by the per-instruction-set translation units hamming_<isa>.cpp, each of
// which instantiates them with a tag type of its own, declared in an anonymous
// namespace: every instantiation then has internal linkage, so the linker can
// never keep a copy compiled with one TU's target flags for another TU.
// Nothing from the standard library is used here (no inline std:: code may be
// compiled with special target flags).
#pragma once

#include <cstddef>
#include <cstdint>

namespace fuzzykey {
namespace hamming_impl {

// Gallery tile scanned against every query before moving on (several queries
// only): small enough to stay in L1 while the queries go by.
constexpr size_t kTileBytes = 16 * 1024;

// The body of every set's per-range kernel, hamming_range_<isa> (see
// HammingKernels in ../dispatch.hpp). Isa::rows(q, g, words, begin, end, out)
// writes out[j] = popcount(q XOR g_j) for begin <= j < end (one query): the only
// ISA-specific part.
template <class Isa>
void scan(const uint64_t* q, size_t Q, const uint64_t* g, size_t begin, size_t end, size_t words,
          int32_t* out, size_t stride) {
  if (words == 0) {
    for (size_t i = 0; i < Q; ++i) {
      for (size_t j = begin; j < end; ++j) out[i * stride + j] = 0;
    }
    return;
  }
  if (Q == 1) {
    Isa::rows(q, g, words, begin, end, out);
    return;
  }
  size_t tile = kTileBytes / (8 * words);
  tile = tile < 8 ? 8 : tile & ~size_t(7);
  for (size_t t0 = begin; t0 < end; t0 += tile) {
    const size_t t1 = end - t0 < tile ? end : t0 + tile;
    for (size_t i = 0; i < Q; ++i) Isa::rows(q + i * words, g, words, t0, t1, out + i * stride);
  }
}

// One query against rows [begin, end) with a scalar popcount, Isa::popcount
// (uint64_t -> int). W = 0: the row length is `words`, known only at run time;
// W > 0: rows of exactly W words (the loop over the words unrolls).
template <class Isa, size_t W>
void scalar_rows(const uint64_t* q, const uint64_t* g, size_t words, size_t begin, size_t end,
                 int32_t* out) {
  const size_t n = W ? W : words;
  const uint64_t* r = g + begin * n;
  for (size_t j = begin; j < end; ++j, r += n) {
    int32_t d = 0;
    for (size_t w = 0; w < n; ++w) d += Isa::popcount(q[w] ^ r[w]);
    out[j] = d;
  }
}

// scalar_rows with the common row lengths (256 and 512 bits) specialised.
template <class Isa>
void scalar_rows_any(const uint64_t* q, const uint64_t* g, size_t words, size_t begin, size_t end,
                     int32_t* out) {
  switch (words) {
    case 4:
      scalar_rows<Isa, 4>(q, g, words, begin, end, out);
      break;
    case 8:
      scalar_rows<Isa, 8>(q, g, words, begin, end, out);
      break;
    default:
      scalar_rows<Isa, 0>(q, g, words, begin, end, out);
  }
}

}  // namespace hamming_impl
}  // namespace fuzzykey
