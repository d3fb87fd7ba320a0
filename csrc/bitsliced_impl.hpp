// Template bodies of the bitsliced kernels (see bitsliced.hpp). Included only by
// the per-instruction-set translation units; `Isa` keeps their instantiations
// distinct so the linker never mixes code built with different target flags.
#pragma once

#include <cstdint>
#include <utility>

#include "bitsliced.hpp"

namespace fuzzykey {
namespace bitsliced_impl {

// Conway polynomials as in gf2m.hpp, usable at compile time.
constexpr uint32_t conway(int m) {
  constexpr uint32_t table[] = {0x25,  0x5b,   0x83,   0x11d,  0x211,  0x46f,
                                0x805, 0x10eb, 0x201b, 0x40a9, 0x8035, 0x1002d};
  return table[m - 5];
}

template <class Isa, int M>
uint32_t syndrome(const uint64_t* word, const uint64_t* planes, size_t words) {
  uint64_t acc[M] = {};
  for (size_t w = 0; w < words; ++w) {
    const uint64_t x = word[w];
    for (int b = 0; b < M; ++b) acc[b] ^= x & planes[b * words + w];
  }
  uint32_t s = 0;
  for (int b = 0; b < M; ++b) s |= static_cast<uint32_t>(__builtin_popcountll(acc[b]) & 1) << b;
  return s;
}

// Four words (256 positions) as one GCC/Clang vector: R stays in registers
// (one AVX2 register per plane, two SSE2 registers on the baseline target).
typedef uint64_t Block __attribute__((vector_size(8 * kChunkWords)));
typedef Block UnalignedBlock __attribute__((aligned(8)));

template <class Isa, int M>
int chien(const ChienArgs& a) {
  constexpr uint32_t poly = conway(M);
  constexpr size_t C = kChunkWords;
  const size_t chunks = (a.words + C - 1) / C;
  size_t found = 0;
  for (size_t c = 0; c < chunks; ++c) {
    Block R[M] = {};
    const uint64_t* base = a.planes + c * a.t * M * C;
    for (int b = M - 1; b >= 0; --b) {
      if (b != M - 1) {  // R *= alpha: shift the planes, feed the top one back
        const Block top = R[M - 1];
#pragma GCC unroll 16
        for (int j = M - 1; j > 0; --j) R[j] = ((poly >> j) & 1u) ? (R[j - 1] ^ top) : R[j - 1];
        R[0] = top;
      }
      const uint32_t* list = a.bit_lists + static_cast<size_t>(b) * a.list_stride;
      const uint32_t count = a.bit_counts[b];
      for (uint32_t i = 0; i < count; ++i) {
        const UnalignedBlock* v =
            reinterpret_cast<const UnalignedBlock*>(base + static_cast<size_t>(list[i]) * M * C);
#pragma GCC unroll 16
        for (int j = 0; j < M; ++j) R[j] ^= v[j];
      }
    }
    for (size_t q = 0; q < C; ++q) {
      const size_t w = c * C + q;
      if (w >= a.words) break;
      uint64_t nz = ~R[0][q];  // Lambda_0 = 1
      for (int j = 1; j < M; ++j) nz |= R[j][q];
      uint64_t z = ~nz;
      if (w == a.words - 1 && (a.n & 63)) z &= (uint64_t(1) << (a.n & 63)) - 1;
      while (z) {  // no early exit on too many roots (timing): count them all
        if (found < a.max_roots) a.roots[found] = static_cast<uint32_t>(64 * w + __builtin_ctzll(z));
        ++found;
        z &= z - 1;
      }
    }
  }
  return found > a.max_roots ? -1 : static_cast<int>(found);
}

using SyndromeFn = uint32_t (*)(const uint64_t*, const uint64_t*, size_t);
using ChienFn = int (*)(const ChienArgs&);

// One instantiation per m = 5..16, indexed by m - 5. Plain arrays, not
// std::array: nothing inline from the standard library may be compiled here
// with special target flags (the linker could keep that copy for everyone).
template <class Isa, class Seq>
struct Tables;
template <class Isa, size_t... I>
struct Tables<Isa, std::index_sequence<I...>> {
  static constexpr SyndromeFn syndrome_fns[] = {&syndrome<Isa, static_cast<int>(I) + 5>...};
  static constexpr ChienFn chien_fns[] = {&chien<Isa, static_cast<int>(I) + 5>...};
};

template <class Isa>
struct Kernels {
  using T = Tables<Isa, std::make_index_sequence<12>>;
  static uint32_t syndrome(const uint64_t* word, const uint64_t* planes, size_t words, int m) {
    return T::syndrome_fns[m - 5](word, planes, words);
  }
  static int chien(int m, const ChienArgs& a) { return T::chien_fns[m - 5](a); }
};

}  // namespace bitsliced_impl
}  // namespace fuzzykey
