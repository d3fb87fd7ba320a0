// Binary narrow-sense BCH codes over GF(2^m), 5 <= m <= 16, possibly shortened.
//
// A word of length n is the polynomial w(x) = sum_i w_i x^i (index i holds the
// coefficient of x^i). The full code has length N = 2^m - 1 and generator
//   g(x) = lcm(M_1(x), ..., M_2t(x)),
// M_i the minimal polynomial of alpha^i, built from the cyclotomic cosets of 2
// modulo N. k = N - deg g. A code shortened to n <= N keeps the words whose
// coefficients n..N-1 are zero, so its dimension is k - (N - n).
//
// Encoding is systematic: c(x) = x^(n-k) u(x) + (x^(n-k) u(x) mod g(x)), i.e.
// parity in c[0, n-k) and the message u in c[n-k, n).
//
// Decoding: r = w mod g (8 bits per table lookup; r = 0 means a codeword),
// syndromes S_j = r(alpha^j) for the cyclotomic coset leaders j <= 2t (the others
// by squaring), binary Berlekamp-Massey for the error locator Lambda (degree L),
// Chien search over the n positions. The decoder reports a
// failure (returns -1) whenever L > t or Lambda does not have exactly L distinct
// roots among the n positions; when it returns a correction, the result is a
// codeword within distance L <= t of the input (see DESIGN notes in bch.cpp).
//
// Errors and erasures (decode_erasures*): a received word plus a mask of f
// erased positions whose values are unknown. Two trials (erased bits all 0, then
// all 1) with the decoder above; among the codewords they give, the one closest
// to the word on the non-erased positions wins (a tie between two different
// codewords is a failure). Every pattern of e errors on non-erased positions
// and f erasures with 2e + f <= 2t is corrected (proof in bch.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "gf2m.hpp"

namespace fuzzykey {

// deg g for t = 0..t_max of the full-length code over GF(2^m): entry t is the
// degree of lcm(M_1, ..., M_2t). Entries stop at the largest t with deg g < N.
std::vector<uint32_t> bch_generator_degrees(int m);

class BchCode {
 public:
  // Default memory budget for the bitsliced decoding tables of one code.
  static constexpr size_t kDefaultTableBudget = size_t(48) << 20;

  // Throws std::invalid_argument if m is outside 5..16, t < 1, n outside
  // [1, 2^m - 1], or the (shortened) code would have dimension < 1. Codes whose
  // bitsliced tables need more than table_budget bytes decode on the scalar
  // paths (table_budget = 0 forces them; tests compare both).
  BchCode(int m, int t, int n, size_t table_budget = kDefaultTableBudget);

  int m() const { return field_.m(); }
  int t() const { return t_; }
  int n() const { return n_; }
  int k() const { return k_; }
  int full_length() const { return static_cast<int>(field_.order()); }
  const GF2m& field() const { return field_; }
  // Coefficients of g, bit i of word i/64 = coefficient of x^i; deg g = n - k.
  const std::vector<uint64_t>& generator() const { return gen_; }
  // Whether decoding uses the bitsliced kernels (builds their tables if needed).
  bool bitsliced() const {
    ensure_tables();
    return bitsliced_;
  }

  // Bytes of lookup tables this code holds once it has decoded: the encoding
  // (LFSR) table, plus the bitsliced tables when they fit the budget, counted
  // whether or not they are built yet (they are built on the first decode).
  size_t table_bytes() const;

  // msg: k bytes 0/1; out: n bytes 0/1.
  void encode(const uint8_t* msg, uint8_t* out) const;
  // word: n bytes 0/1; out: n bytes, the corrected codeword (or a copy of word
  // on failure). Returns the number of corrected errors, or -1 on failure.
  int decode(const uint8_t* word, uint8_t* out) const;

  // Row-batched versions over `rows` contiguous rows, on up to `threads`
  // threads (0 = all hardware threads). n_errors gets one entry per row.
  void encode_batch(const uint8_t* msgs, uint8_t* out, size_t rows, int threads) const;
  void decode_batch(const uint8_t* words, uint8_t* out, int32_t* n_errors, size_t rows,
                    int threads) const;

  // Errors-and-erasures decoding. erasures: n bytes 0/1 per word, 1 = erased
  // (the word's value there is ignored). out: the codeword, or a copy of word
  // on failure. Returns the number of NON-erased positions where out differs
  // from word (erased positions are not counted), or -1 on failure. A word
  // without erasures is decoded exactly as decode() does.
  int decode_erasures(const uint8_t* word, const uint8_t* erasures, uint8_t* out) const;
  void decode_erasures_batch(const uint8_t* words, const uint8_t* erasures, uint8_t* out,
                             int32_t* n_errors, size_t rows, int threads) const;

  // Scratch space for one decoding thread.
  struct Workspace {
    std::vector<uint64_t> packed;    // the received word, packed
    std::vector<uint64_t> rem;       // the received word mod g
    std::vector<uint8_t> ring;       // remainder()'s register
    std::vector<uint32_t> syn;       // S_0..S_2t (S_0 unused)
    std::vector<uint32_t> log_syn;   // log S_j (sentinel for 0)
    std::vector<uint32_t> lambda;    // error locator
    std::vector<uint32_t> prev;      // BM's previous locator
    std::vector<uint32_t> tmp;
    std::vector<uint32_t> terms;     // Chien: log-domain terms
    std::vector<uint32_t> steps;
    std::vector<uint32_t> bit_lists; // bitsliced Chien: coefficient indices per bit
    std::vector<uint32_t> bit_counts;
    std::vector<uint32_t> roots;     // error positions found
    std::vector<uint64_t> erased;    // erasure mask, packed
    std::vector<uint32_t> first;     // error positions of the first erasure trial
  };
  Workspace make_workspace() const;
  // Decode an already packed word (ceil(n/64) words, bits >= n zero); the error
  // positions go to ws.roots. Returns the number of errors or -1.
  int decode_packed(const uint64_t* packed, Workspace& ws) const;

 private:
  void build_generator();
  void build_lfsr_table();
  void encode_with(const uint8_t* msg, uint8_t* out, Workspace& ws) const;
  void ensure_tables() const;
  // Words of the bitsliced tables (syndrome, Chien), 0 when they are not used.
  size_t bitsliced_words(size_t* syn_words, size_t* chien_words) const;
  // r = w mod g (parity_words_ words) for a packed n-bit word w (bits >= n
  // zero); ring: scratch of lfsr_bytes_ bytes.
  void remainder(const uint64_t* w, uint64_t* r, uint8_t* ring) const;
  void syndromes(const uint64_t* rem, Workspace& ws) const;
  int berlekamp_massey(Workspace& ws) const;
  int chien(int L, Workspace& ws) const;
  int chien_bitsliced(int L, Workspace& ws) const;
  int chien_scalar(int L, Workspace& ws) const;
  int decode_erasures_with(const uint8_t* word, const uint8_t* erasures, uint8_t* out,
                           Workspace& ws) const;

  GF2m field_;
  int t_;
  int n_;
  int k_;
  size_t words_;         // ceil(n / 64)
  size_t parity_words_;  // ceil((n - k) / 64)
  // lfsr_table_[f * lfsr_bytes_ ...] = x^pad (f(x) x^(n-k) mod g) for bytes f,
  // pad = 8 lfsr_bytes_ - (n - k): the remainder advances 8 message bits per
  // lookup (encoding, and decoding's first step, which settles error-free words).
  size_t lfsr_bytes_;  // ceil((n - k) / 8)
  std::vector<uint8_t> lfsr_table_;
  size_t table_budget_;
  std::vector<uint64_t> gen_;
  std::vector<uint64_t> gen_low_;  // g without its leading term, n-k bits
  // Syndromes are computed for the cyclotomic coset leaders among 1..2t only;
  // every other odd j <= 2t is leaders_[src] * 2^a mod N, so S_j = S_leader^(2^a).
  std::vector<uint32_t> leaders_;
  struct SyndromeSource {
    uint32_t j;       // odd, < 2t
    uint32_t leader;  // index into leaders_
    uint32_t power;   // 2^a mod N
  };
  std::vector<SyndromeSource> derived_;

  // Bitsliced tables, built on first decode when they fit the memory budget:
  // syn_planes_[((i * m) + b) * parity_words_ + w]: bit p = bit b of
  //   alpha^(leaders_[i] p), for the n - k positions of w mod g
  // chien_planes_[((c * (t+1) + (k-1)) * m + b) * kChunk + q]: for the chunk c of
  //   kChunk words, bit p of word q = bit b of alpha^(-k p)
  mutable std::once_flag tables_once_;
  mutable bool bitsliced_ = false;
  mutable std::vector<uint64_t> syn_planes_;
  mutable std::vector<uint64_t> chien_planes_;
};

}  // namespace fuzzykey
