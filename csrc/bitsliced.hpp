// Bitsliced kernels of the BCH decoder: syndromes and Chien search evaluated on
// 64 positions per machine word. The field element at position p is split into
// m bit planes; plane b holds bit b of the element of every position.
//
// Chien search: Lambda(alpha^-p) = 1 + sum_k Lambda_k alpha^(-kp). Writing
// Lambda_k = sum_b lambda_kb alpha^b, the sum is
//   1 + sum_b alpha^b (XOR of the planes V_k = [alpha^(-kp)]_p over k with lambda_kb = 1),
// evaluated by Horner in b (multiplying a bitsliced vector by alpha is a shift of
// its planes plus the primitive polynomial's feedback). Positions p with all m
// planes zero are the roots.
//
// The implementations are templates over an instruction-set tag, compiled once
// per tag in their own translation unit (bitsliced_<isa>.cpp, which exports
// syndrome_<isa> and chien_<isa>); dispatch.cpp picks one at run time from what
// the processor supports, and bch_kernels() (dispatch.hpp) hands it out.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fuzzykey {

constexpr size_t kChunkWords = 4;  // 256 positions per Chien block

struct ChienArgs {
  const uint64_t* planes;       // [chunk][k-1][plane][kChunkWords]
  size_t t;                     // planes hold k = 1..t
  size_t words;                 // ceil(n / 64)
  size_t n;                     // positions
  const uint32_t* bit_lists;    // bit_lists[b * list_stride + i]: k-1 of the i-th Lambda_k with bit b
  size_t list_stride;
  const uint32_t* bit_counts;   // entries per bit
  uint32_t* roots;              // positions found, ascending (room for max_roots)
  size_t max_roots;             // more roots than this: return -1
};

}  // namespace fuzzykey
