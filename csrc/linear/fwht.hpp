// The "fwht" kernel family: the fast Walsh-Hadamard transform behind
// maximum-likelihood decoding of binary linear codes (linear.hpp).
//
// For a vector x of N = 2^k floats the transform is
//   X[a] = sum_b x[b] (-1)^popcount(a AND b),
// computed in k stages; stage t replaces every pair (x[i], x[i + 2^t]) whose
// index i has bit t clear by the butterfly (x[i] + x[i + 2^t], x[i] - x[i + 2^t]).
// Every implementation (each CPU set fwht_<isa>.cpp through fwht_impl.hpp, and
// the CUDA kernels of ../cuda/linear.cu) applies the stages in the order
// t = 0, 1, ..., k-1 to every element, with plain float32 additions and
// subtractions (no fused multiply-add, no reassociation), so all of them give
// bit-identical results however they group the work: the value after stage t
// at index i is one fixed function of the values after stage t-1.
//
// Schedule on the CPU, in three levels: stages [0, 12) run block by block on
// 2^12 floats in L1 (each block first set up in place: zeroed, then its LLRs
// added; a block, group or superblock without LLRs is only zeroed, as every
// stage would leave it); stages [12, 16) run in place on each superblock of 2^16 floats (256
// KiB, still in L2 from the blocks); stages [16, k) run on column chunks of at
// most kFwhtChunkFloats floats, each gathered into a contiguous buffer by its
// first pass (rows 2^16 floats apart would compete for a few cache sets, and
// a row contributes a run of 1 KiB or more). Within a level, passes of three
// stages at a time keep eight vectors in registers. The last pass of the last
// level also folds the scores into a running top two (best, runner-up), so
// the scores are never read again except to find the index of the best.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fuzzykey {

// Stages done per block of 2^kFwhtBlockBits floats (16 KiB: half an L1).
constexpr int kFwhtBlockBits = 12;
// The scatter is planned by groups of 2^kFwhtGroupBits floats (64: the reach of
// the first pass of a block, which an empty group lets the kernels skip).
constexpr int kFwhtGroupBits = 6;
// Stages done per superblock of 2^kFwhtSuperBits floats (256 KiB: half an L2).
constexpr int kFwhtSuperBits = 16;
// Floats per gathered column chunk of the high stages (256 KiB).
constexpr size_t kFwhtChunkFloats = size_t(1) << 16;
// Largest message length: 2^24 scores, 64 MiB of float32.
constexpr int kFwhtMaxBits = 24;

// Floats of workspace a decode (or transform) of 2^k scores needs: the scores,
// and past them a buffer for one column chunk of the high stages.
constexpr size_t fwht_workspace_floats(int k) {
  return (size_t(1) << k) + (k > kFwhtSuperBits ? kFwhtChunkFloats : 0);
}

// The best score, its index, and the runner-up score (second largest of the
// multiset of scores: equal to best on a tie). Index kNoIndex: no score yet.
struct Top2 {
  float best;
  float second;
  uint32_t index;
};

constexpr uint32_t kNoIndex = 0xffffffffu;

// What one maximum-likelihood decode needs besides the LLRs. The scatter
// V[g_j] += L_j goes group by group: entry e (group_start[q] <= e <
// group_start[q + 1] for group q = target >> kFwhtGroupBits) adds
// llr[sources[e]] to V[targets[e]]; within a target, entries keep ascending j,
// so every implementation adds in the same order.
struct LinearPlan {
  int k;                          // message bits, 1..kFwhtMaxBits
  const uint32_t* targets;        // g_j, grouped
  const uint32_t* sources;        // j of each entry
  const uint32_t* group_start;    // 2^(k - min(k, kFwhtGroupBits)) + 1 offsets
};

}  // namespace fuzzykey
