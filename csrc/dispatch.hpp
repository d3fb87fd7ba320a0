// The one registry of per-instruction-set kernels.
//
// Each kernel family is compiled once per instruction set, one translation
// unit per set built alone with that set's target flags (CMakeLists.txt lists
// them and sets the flags; nothing is built with -march=native):
//   "bch"      bitsliced syndromes and Chien search   bitsliced_<isa>.cpp
//   "hamming"  Hamming distances of packed rows       ops/hamming_<isa>.cpp
//   "fwht"     Walsh-Hadamard transform, ML decoding   linear/fwht_<isa>.cpp
// dispatch.cpp asks the processor once what it supports, lists every family's
// sets best first, and runs the best set the processor supports unless
// use_kernel_isa() chose another. Every set of a family gives identical results.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bitsliced.hpp"    // ChienArgs
#include "linear/fwht.hpp"  // LinearPlan, Top2

namespace fuzzykey {

// -- the kernels in use, for the code that calls them -------------------------

struct BchKernels {
  // Bit b of the result = parity(word AND planes[b]); planes is [m][words].
  uint32_t (*syndrome)(const uint64_t* word, const uint64_t* planes, size_t words, int m);
  // Writes the roots to args.roots; returns their number, or -1 past max_roots.
  int (*chien)(int m, const ChienArgs& args);
};

struct HammingKernels {
  // Each thread's share of a batch (ops/hamming.cpp):
  //   out[i * stride + j] = popcount(q_i XOR g_j)  for i < Q, begin <= j < end,
  // with q_i = q + i * words and g_j = g + j * words.
  void (*range)(const uint64_t* q, size_t Q, const uint64_t* g, size_t begin, size_t end,
                size_t words, int32_t* out, size_t stride);
};

struct FwhtKernels {
  // In-place transform of 2^k floats (linear/fwht.hpp), 1 <= k <= kFwhtMaxBits,
  // with a workspace of fwht_workspace_floats(k) floats (any contents).
  void (*transform)(float* x, int k, float* work);
  // One maximum-likelihood decode: the scores of all 2^plan.k messages into
  // work (fwht_workspace_floats(plan.k) floats, any contents), and their top two.
  Top2 (*decode)(const float* llr, const LinearPlan& plan, float* work);
};

// One relaxed atomic load each: take them once per batch, not per element.
const BchKernels& bch_kernels();
const HammingKernels& hamming_kernels();
const FwhtKernels& fwht_kernels();

// -- the registry, by name (bindings/module.cpp) ------------------------------

// Family -> name of the set in use, for every family.
std::map<std::string, std::string> kernel_isas();
// Family -> the sets this processor supports, best first (the last is always
// "generic", which needs nothing), for every family.
std::map<std::string, std::vector<std::string>> available_kernel_isas();
// Switches one family to the named set, for every call that starts afterwards
// (tests and benchmarks). Throws std::invalid_argument, quoting the name, for an
// unknown family, a set this build does not have, or one the processor cannot
// run; the family then keeps its set.
void use_kernel_isa(const std::string& family, const std::string& isa);

}  // namespace fuzzykey
