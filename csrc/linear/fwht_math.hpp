// Per-element math of maximum-likelihood decoding shared by the CPU kernels
// (fwht_impl.hpp, linear.cpp) and the CUDA kernels (../cuda/linear.cu): the
// butterfly of the Walsh-Hadamard transform and the merge of two "top two"
// candidates with the tie rule. FUZZYKEY_HD is __host__ __device__ under nvcc,
// so the CPU tests cover exactly the functions the GPU runs.
//
// The functions sit in an anonymous namespace: every translation unit gets its
// own copy, so a copy compiled with one CPU set's target flags (fwht_avx.cpp)
// can never be the one the linker keeps for code that runs on any processor.
#pragma once

#include <cmath>
#include <cstdint>

#include "../ops/device.hpp"
#include "fwht.hpp"

namespace fuzzykey {
namespace {

// One butterfly of stage t: (x, y) = (x[i], x[i + 2^t]) -> (x + y, x - y).
FUZZYKEY_HD void butterfly(float& x, float& y) {
  const float s = x + y, d = x - y;
  x = s;
  y = d;
}

// Whether score v at index i wins over score w at index j: the larger score,
// and on equal scores the smaller index (the smallest message as an integer).
FUZZYKEY_HD bool top2_wins(float v, uint32_t i, float w, uint32_t j) { return v > w || (v == w && i < j); }

FUZZYKEY_HD float top2_max(float a, float b) { return a > b ? a : b; }

// No score seen yet.
FUZZYKEY_HD Top2 top2_empty() { return Top2{-INFINITY, -INFINITY, kNoIndex}; }

// The top two of the union of the scores a and b summarise: the winner of the
// two bests, and as runner-up the larger of the winner's runner-up and the
// loser's best. Associative and commutative, so any reduction tree gives the
// same result.
FUZZYKEY_HD Top2 top2_merge(const Top2& a, const Top2& b) {
  if (top2_wins(a.best, a.index, b.best, b.index)) return Top2{a.best, top2_max(a.second, b.best), a.index};
  return Top2{b.best, top2_max(b.second, a.best), b.index};
}

// a with one more score, v at index i.
FUZZYKEY_HD Top2 top2_push(const Top2& a, float v, uint32_t i) {
  return top2_merge(a, Top2{v, -INFINITY, i});
}

// best - runner-up, >= 0; +0 on a tie (never -0).
FUZZYKEY_HD float top2_margin(const Top2& a) {
  const float d = a.best - a.second;
  return d > 0.0f ? d : 0.0f;
}

}  // namespace
}  // namespace fuzzykey
