// Arithmetic in GF(2^m), 5 <= m <= 16, through log/antilog tables.
//
// Elements are integers whose bit i is the coefficient of alpha^i in the
// polynomial basis, alpha a root of the field's primitive polynomial. The
// primitive polynomials are the Conway polynomials (galois.GF(2**m)'s default),
// so generator polynomials can be cross-checked against galois bit for bit.
//
// Hot loops multiply in the log domain without branches on zero: log(0) is the
// sentinel 2N (N = 2^m - 1) and `expz` is 0 at every index >= 2N, so
// expz[logz[a] + logz[b]] == a*b for all a, b (the sum of two real logs is < 2N,
// any sum involving the sentinel is >= 2N).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace fuzzykey {

constexpr int kMinM = 5;
constexpr int kMaxM = 16;

// Conway polynomial of GF(2^m) for m = 5..16, bit i = coefficient of x^i.
// m itself, after checking it lies in [kMinM, kMaxM] (before anything shifts by it).
inline int checked_m(int m) {
  if (m < kMinM || m > kMaxM) {
    throw std::invalid_argument("m must be between 5 and 16, got " + std::to_string(m));
  }
  return m;
}

inline uint32_t primitive_poly(int m) {
  static const uint32_t table[] = {0x25,  0x5b,   0x83,   0x11d,  0x211,  0x46f,
                                   0x805, 0x10eb, 0x201b, 0x40a9, 0x8035, 0x1002d};
  return table[checked_m(m) - kMinM];
}

class GF2m {
 public:
  explicit GF2m(int m) : m_(checked_m(m)), n_((1u << m_) - 1), poly_(primitive_poly(m_)) {
    expz_.assign(4 * static_cast<size_t>(n_) + 1, 0);
    logz_.assign(static_cast<size_t>(n_) + 1, 0);
    uint32_t x = 1;
    for (uint32_t i = 0; i < n_; ++i) {
      expz_[i] = static_cast<uint16_t>(x);
      expz_[i + n_] = static_cast<uint16_t>(x);
      logz_[x] = i;
      x <<= 1;
      if (x & (1u << m)) x ^= poly_;
    }
    if (x != 1) throw std::logic_error("GF2m: polynomial is not primitive");
    logz_[0] = 2 * n_;  // sentinel: any sum involving it lands in the zero tail of expz_
  }

  int m() const { return m_; }
  uint32_t order() const { return n_; }  // N = 2^m - 1, the multiplicative order
  uint32_t poly() const { return poly_; }

  uint32_t log(uint32_t a) const { return logz_[a]; }        // a != 0
  // x mod N without a division: N = 2^m - 1, so 2^m = 1 (mod N).
  uint32_t mod_order(uint64_t x) const {
    while (x > n_) x = (x & n_) + (x >> m_);
    return x == n_ ? 0u : static_cast<uint32_t>(x);
  }
  uint32_t alpha_pow(uint64_t e) const { return expz_[mod_order(e)]; }
  // alpha^e for 0 <= e < 2N, and 0 for the sentinel range.
  uint32_t expz(uint32_t e) const { return expz_[e]; }
  uint32_t mul(uint32_t a, uint32_t b) const { return expz_[logz_[a] + logz_[b]]; }
  uint32_t sq(uint32_t a) const { return expz_[2 * logz_[a]]; }  // 2*sentinel >= 2N too
  const uint16_t* expz_table() const { return expz_.data(); }
  const uint32_t* logz_table() const { return logz_.data(); }

 private:
  int m_;
  uint32_t n_;
  uint32_t poly_;
  std::vector<uint16_t> expz_;  // size 4N + 1
  std::vector<uint32_t> logz_;  // size N + 1
};

}  // namespace fuzzykey
