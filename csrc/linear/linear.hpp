// Binary linear [n, k] codes given by the columns of their generator matrix:
// encoding, and exact maximum-likelihood (ML) decoding of soft inputs by the
// fast Walsh-Hadamard transform.
//
// Messages are integers a = sum_i m_i 2^i (message bit i = bit i of a) and
// column j of the generator G is g_j = sum_i G[i, j] 2^i, so codeword bit j is
// parity(a AND g_j). With LLRs L_j = log P(bit j = 0) / P(bit j = 1), the ML
// message maximises
//   S(a) = sum_j L_j (-1)^parity(a AND g_j) = sum_b V[b] (-1)^popcount(a AND b),
//   V[b] = sum_{j : g_j = b} L_j,
// the Walsh-Hadamard transform of V (fwht.hpp): all 2^k scores in O(k 2^k)
// after an O(n) scatter. The decoder returns the a of the largest float32
// score, the smallest such a on a tie, and the margin best - runner-up (0 on a
// tie).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fwht.hpp"

namespace fuzzykey {

class LinearDecoder {
 public:
  // Memory for the workspaces of one batch, one per thread of
  // fwht_workspace_floats(k) floats (2^k scores, plus 256 KiB past k = 12):
  // batches run on at most max(1, kWorkspaceBudget / workspace bytes) threads
  // (k = 24: 64.25 MiB each, 15 threads; k = 22: 63 threads).
  static constexpr size_t kWorkspaceBudget = size_t(1) << 30;

  // columns[j] = g_j < 2^k, 1 <= k <= kFwhtMaxBits, n = columns.size() >= 1.
  // Throws std::invalid_argument otherwise. (The rank of G is the caller's
  // business: the decoder is exact for any G, and a rank-deficient one merely
  // makes messages with equal codewords tie.)
  LinearDecoder(std::vector<uint32_t> columns, int k);

  int k() const { return k_; }
  size_t n() const { return columns_.size(); }
  const std::vector<uint32_t>& columns() const { return columns_; }

  // Threads a batch of `rows` decodes runs on when asked for `threads`
  // (<= 0: all hardware threads): capped by the rows and the workspace budget.
  int decode_threads(size_t rows, int threads) const;

  // msgs: rows x k bytes (0/1) -> out: rows x n bytes 0/1.
  void encode_batch(const uint8_t* msgs, uint8_t* out, size_t rows, int threads) const;
  // llrs: rows x n finite float32 whose absolute values sum to less than
  // 2^126 per row (no score can overflow); -> messages: rows x k bytes 0/1,
  // margins: rows floats >= 0.
  void ml_decode_batch(const float* llrs, uint8_t* messages, float* margins, size_t rows,
                       int threads) const;
  // The same for one row, with a caller's workspace of fwht_workspace_floats(k) floats.
  Top2 ml_decode_one(const float* llr, float* work) const;

  LinearPlan plan() const {
    return LinearPlan{k_, targets_.data(), sources_.data(), group_start_.data()};
  }

 private:
  int k_;
  std::vector<uint32_t> columns_;
  std::vector<uint32_t> targets_, sources_, group_start_;  // the scatter, group by group
};

}  // namespace fuzzykey
