// Binary BCH codes: construction, systematic encoding, and
// syndrome / Berlekamp-Massey / Chien decoding with failure detection.
//
// Why "L roots found and L <= t" proves the output is a codeword: BM returns the
// shortest LFSR C(x), of length L, that generates S_1..S_2t. If C has L distinct
// roots X_l^-1, the sequence it generates is S_j = sum_l Y_l X_l^j for j <= 2t
// (Vandermonde). For a binary code S_2j = S_j^2, so sum_l (Y_l + Y_l^2) X_l^2j = 0
// for j = 1..t; with L <= t distinct X_l^2 this forces Y_l in {0, 1}, and Y_l != 0
// by minimality. So e(x) = sum_l x^{p_l} has the received word's syndromes, and
// w + e has S_1..S_2t = 0, i.e. is divisible by g: a codeword at distance L <= t.
// Roots outside the n positions of a shortened code are not counted, so they
// give a failure too.
//
// Errors and erasures (decode_erasures_with), two trials for a binary code. Let
// c be the sent codeword, r the received word, E its f erased positions and
// d'(x, y) the Hamming distance off E; e = d'(c, r) errors sit off E.
// (1) One trial decodes to c when 2e + f <= 2t. Trial b in {0, 1} reads every
//     erased bit as b, so its word differs from c in e + a_b places, a_b the
//     number of i in E with c_i != b. a_0 + a_1 = f, so min(a_0, a_1) <= f/2 and
//     that trial has e + floor(f/2) <= t errors: the decoder returns c.
// (2) c is strictly the closest codeword to r off E. Any codeword c' != c has
//     d(c, c') >= 2t + 1 (the designed distance), and by the triangle inequality
//     off E, d(c, c') = d_E(c, c') + d'(c, c') <= f + e + d'(c', r), so
//     d'(c', r) >= 2t + 1 - e - f > e = d'(c, r) when 2e + f <= 2t.
//     Both trials return codewords or failures (shown above), so choosing the
//     candidate closest off E returns c: no tie can arise within the bound.
// (3) Shortcut: (2) holds for any codeword in place of c, so if trial 0 gives a
//     codeword c0 with 2 d'(c0, r) + f <= 2t, trial 1 can only fail, return c0,
//     or return a codeword farther off E: it is skipped, with the same result.
// Beyond the bound: if only one trial decodes, its codeword is returned (a
// codeword, not necessarily the sent one); if both decode to different
// codewords equally close off E, the word is a failure (ambiguous, -1). Which
// trial runs first never changes the result. A word with no erasure is decoded
// once, exactly as decode() does.
#include "bch.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "bitsliced.hpp"
#include "dispatch.hpp"
#include "ops/bits.hpp"
#include "parallel.hpp"

namespace fuzzykey {

namespace {

constexpr int kMinBitslicedLength = 128;

// dst ^= src << shift (bit-packed polynomials), dst large enough.
void xor_shifted(std::vector<uint64_t>& dst, const std::vector<uint64_t>& src, size_t shift) {
  const size_t ws = shift >> 6, bs = shift & 63;
  for (size_t i = 0; i < src.size(); ++i) {
    if (!src[i]) continue;
    dst[i + ws] ^= src[i] << bs;
    if (bs && i + ws + 1 < dst.size()) dst[i + ws + 1] ^= src[i] >> (64 - bs);
  }
}

// Eight 0/1 bytes (little-endian in v) to eight bits, byte i to bit i.
inline uint64_t pack8(uint64_t v) {
  v &= 0x0101010101010101ull;
  v |= v >> 7;
  v |= v >> 14;
  v |= v >> 28;
  return v & 0xffu;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
constexpr bool kLittleEndian = false;
#else
constexpr bool kLittleEndian = true;
#endif

void pack_bytes(const uint8_t* bits, size_t n, uint64_t* out) {
  const size_t full = kLittleEndian ? n / 64 : 0;
  for (size_t w = 0; w < full; ++w) {
    uint64_t x = 0;
    const uint8_t* b = bits + 64 * w;
    for (int i = 0; i < 8; ++i) {
      uint64_t v;
      std::memcpy(&v, b + 8 * i, 8);  // little-endian: byte j of v is bits[8i + j]
      x |= pack8(v) << (8 * i);
    }
    out[w] = x;
  }
  if (n % 64) {
    uint64_t x = 0;
    for (size_t i = 64 * full; i < n; ++i) x |= static_cast<uint64_t>(bits[i] & 1u) << (i & 63);
    out[full] = x;
  }
}

// The cyclotomic coset of i modulo N = 2^m - 1 under multiplication by 2.
void coset(uint32_t i, uint32_t N, std::vector<uint32_t>& out) {
  out.clear();
  uint32_t e = i;
  do {
    out.push_back(e);
    e = static_cast<uint32_t>((2ull * e) % N);
  } while (e != i);
}

}  // namespace

std::vector<uint32_t> bch_generator_degrees(int m) {
  primitive_poly(m);  // validates m
  const uint32_t N = (1u << m) - 1;
  // added[t]: total size of the cosets whose smallest element is 2t-1 or 2t.
  const uint32_t t_max = (N - 1) / 2;
  std::vector<uint32_t> added(t_max + 2, 0);
  for (uint32_t i = 1; i < N; i += 2) {
    uint32_t e = i, size = 0;
    bool rep = true;
    do {
      if (e < i) {
        rep = false;
        break;
      }
      ++size;
      e = static_cast<uint32_t>((2ull * e) % N);
    } while (e != i);
    if (rep && (i + 1) / 2 <= t_max) added[(i + 1) / 2] += size;
  }
  std::vector<uint32_t> deg(t_max + 1, 0);
  for (uint32_t t = 1; t <= t_max; ++t) deg[t] = deg[t - 1] + added[t];
  return deg;
}

BchCode::BchCode(int m, int t, int n, size_t table_budget)
    : field_(m),
      t_(t),
      n_(n),
      k_(0),
      words_(0),
      parity_words_(0),
      lfsr_bytes_(0),
      table_budget_(table_budget) {
  const int N = static_cast<int>(field_.order());
  if (n < 1 || n > N) {
    throw std::invalid_argument("n must be between 1 and 2^m - 1 = " + std::to_string(N) +
                                " for m = " + std::to_string(m) + ", got " + std::to_string(n));
  }
  if (t < 1 || t > (N - 1) / 2) {
    throw std::invalid_argument("t must be between 1 and " + std::to_string((N - 1) / 2) +
                                " for m = " + std::to_string(m) + ", got " + std::to_string(t));
  }
  words_ = words_for_bits(static_cast<size_t>(n));
  build_generator();
  parity_words_ = words_for_bits(static_cast<size_t>(n_ - k_));
  lfsr_bytes_ = (static_cast<size_t>(n_ - k_) + 7) / 8;
  build_lfsr_table();
}

void BchCode::build_generator() {
  const uint32_t N = field_.order();
  std::vector<uint8_t> covered(N, 0);
  std::vector<uint64_t> g(1, 1u);  // g = 1
  size_t deg = 0;
  std::vector<uint32_t> cos;
  std::vector<uint32_t> mp;  // minimal polynomial, coefficients in GF(2^m)
  for (uint32_t i = 1; i <= static_cast<uint32_t>(2 * t_); i += 2) {
    if (covered[i]) continue;
    coset(i, N, cos);  // i is the smallest element of its coset: a leader
    const uint32_t leader_index = static_cast<uint32_t>(leaders_.size());
    leaders_.push_back(i);
    uint64_t power = 1;
    for (uint32_t e : cos) {  // cos[a] = i * 2^a mod N
      if (e != i && (e & 1u) && e < static_cast<uint32_t>(2 * t_)) {
        derived_.push_back({e, leader_index, static_cast<uint32_t>(power)});
      }
      power = (2 * power) % N;
    }
    mp.assign(1, 1u);
    for (uint32_t e : cos) {
      covered[e] = 1;
      // mp *= (x + alpha^e)
      const uint32_t a = field_.alpha_pow(e);
      mp.push_back(0);
      for (size_t j = mp.size() - 1; j > 0; --j) mp[j] = mp[j - 1] ^ field_.mul(mp[j], a);
      mp[0] = field_.mul(mp[0], a);
    }
    std::vector<uint64_t> next(words_for_bits(deg + mp.size()), 0);
    for (size_t s = 0; s < mp.size(); ++s) {
      if (mp[s] > 1) throw std::logic_error("minimal polynomial has a coefficient outside GF(2)");
      if (mp[s]) xor_shifted(next, g, s);
    }
    g.swap(next);
    deg += mp.size() - 1;
  }
  const int full_k = static_cast<int>(N) - static_cast<int>(deg);
  k_ = full_k - (static_cast<int>(N) - n_);
  if (full_k < 1 || k_ < 1) {
    throw std::invalid_argument(
        "BCH code with m = " + std::to_string(field_.m()) + ", t = " + std::to_string(t_) +
        ", n = " + std::to_string(n_) + " has no message bits (deg g = " + std::to_string(deg) +
        "); lower t or raise n");
  }
  g.resize(words_for_bits(deg + 1));
  gen_ = g;
  gen_low_ = g;
  gen_low_[deg >> 6] &= ~(uint64_t(1) << (deg & 63));
  gen_low_.resize(words_for_bits(deg));
}

void BchCode::build_lfsr_table() {
  // Work with g' = x^pad g, of degree 8B: its remainders are x^pad times g's,
  // and the register's top byte (the feedback) is byte aligned.
  const size_t P = static_cast<size_t>(n_ - k_), pw = parity_words_;
  const size_t B = lfsr_bytes_, pad = 8 * B - P;
  const uint64_t top_mask = (P % 64) ? ((uint64_t(1) << (P % 64)) - 1) : ~uint64_t(0);
  // base[j] = x^(P+j) mod g, j = 0..7
  std::vector<uint64_t> base(8 * pw, 0);
  std::copy(gen_low_.begin(), gen_low_.end(), base.begin());
  for (size_t j = 1; j < 8; ++j) {
    const uint64_t* prev = &base[(j - 1) * pw];
    uint64_t* cur = &base[j * pw];
    const bool carry = (prev[(P - 1) >> 6] >> ((P - 1) & 63)) & 1u;
    for (size_t q = pw - 1; q > 0; --q) cur[q] = (prev[q] << 1) | (prev[q - 1] >> 63);
    cur[0] = prev[0] << 1;
    cur[pw - 1] &= top_mask;
    if (carry) {
      for (size_t q = 0; q < pw; ++q) cur[q] ^= gen_low_[q];
    }
  }
  std::vector<uint64_t> word(256 * pw, 0);  // f(x) x^P mod g
  for (size_t f = 1; f < 256; ++f) {
    const uint64_t* lower = &word[(f & (f - 1)) * pw];
    const uint64_t* b = &base[static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(f))) * pw];
    for (size_t q = 0; q < pw; ++q) word[f * pw + q] = lower[q] ^ b[q];
  }
  lfsr_table_.assign(256 * B, 0);
  std::vector<uint64_t> shifted(pw + 1);
  for (size_t f = 0; f < 256; ++f) {
    const uint64_t* src = &word[f * pw];
    shifted[0] = src[0] << pad;  // pad < 8
    for (size_t q = 1; q < pw; ++q) shifted[q] = (src[q] << pad) | (pad ? src[q - 1] >> (64 - pad) : 0);
    shifted[pw] = pad ? src[pw - 1] >> (64 - pad) : 0;
    for (size_t j = 0; j < B; ++j) {
      lfsr_table_[f * B + j] = static_cast<uint8_t>(shifted[j >> 3] >> (8 * (j & 7)));
    }
  }
}

void BchCode::remainder(const uint64_t* w, uint64_t* r, uint8_t* ring) const {
  const size_t P = static_cast<size_t>(n_ - k_), pw = parity_words_;
  const size_t B = lfsr_bytes_, pad = 8 * B - P;
  const size_t kb = (static_cast<size_t>(k_) + 7) / 8;
  const uint64_t top_mask = (P % 64) ? ((uint64_t(1) << (P % 64)) - 1) : ~uint64_t(0);
  // The register (8B bits, byte j = bits 8j..8j+7) lives in a ring of B bytes
  // starting at `off`, so shifting it by a byte only moves `off`.
  std::fill(ring, ring + B, uint8_t(0));
  size_t off = 0;
  const uint8_t* table = lfsr_table_.data();
  // Message bytes from the top; bits past n read as zero (leading zeros leave
  // the register at zero).
  for (size_t b = kb; b-- > 0;) {
    const size_t pos = P + 8 * b, q = pos >> 6, sh = pos & 63;
    uint64_t u = w[q] >> sh;
    if (sh > 56 && q + 1 < words_) u |= w[q + 1] << (64 - sh);
    off = off ? off - 1 : B - 1;
    const unsigned f = static_cast<unsigned>((u ^ ring[off]) & 0xffu);  // ring[off]: old top byte
    ring[off] = 0;
    const uint8_t* tf = table + f * B;
    const size_t first = B - off;
    for (size_t i = 0; i < first; ++i) ring[off + i] ^= tf[i];
    for (size_t i = first; i < B; ++i) ring[i - first] ^= tf[i];
  }
  // Unroll the ring into r, undo the x^pad, add the received parity.
  std::fill(r, r + pw, uint64_t(0));
  for (size_t j = 0; j < B; ++j) {
    const uint64_t byte = ring[(off + j) % B];
    if (!byte) continue;
    const size_t bit = 8 * j;  // register bit; minus pad gives remainder bit
    if (bit >= pad) {
      const size_t p = bit - pad;
      r[p >> 6] |= byte << (p & 63);
      if ((p & 63) > 56 && (p >> 6) + 1 < pw) r[(p >> 6) + 1] |= byte >> (64 - (p & 63));
    } else {
      r[0] |= byte >> (pad - bit);
    }
  }
  for (size_t q = 0; q + 1 < pw; ++q) r[q] ^= w[q];
  r[pw - 1] = (r[pw - 1] ^ w[pw - 1]) & top_mask;
}

void BchCode::encode(const uint8_t* msg, uint8_t* out) const {
  Workspace ws = make_workspace();
  encode_with(msg, out, ws);
}

void BchCode::encode_with(const uint8_t* msg, uint8_t* out, Workspace& ws) const {
  const size_t P = static_cast<size_t>(n_ - k_);
  uint64_t* word = ws.packed.data();
  std::fill(ws.packed.begin(), ws.packed.end(), uint64_t(0));
  for (size_t i = 0; i < static_cast<size_t>(k_); ++i) {
    const size_t p = P + i;
    word[p >> 6] |= static_cast<uint64_t>(msg[i] & 1u) << (p & 63);
  }
  remainder(word, ws.rem.data(), ws.ring.data());
  for (size_t i = 0; i < P; ++i) out[i] = static_cast<uint8_t>((ws.rem[i >> 6] >> (i & 63)) & 1u);
  for (size_t i = 0; i < static_cast<size_t>(k_); ++i) out[P + i] = msg[i] & 1u;
}

BchCode::Workspace BchCode::make_workspace() const {
  Workspace ws;
  const size_t T = static_cast<size_t>(t_);
  ws.packed.assign(words_, 0);
  ws.rem.assign(parity_words_, 0);
  ws.ring.assign(lfsr_bytes_, 0);
  ws.syn.assign(2 * T + 1, 0);
  ws.log_syn.assign(2 * T + 1, 0);
  ws.lambda.assign(3 * T + 4, 0);
  ws.prev.assign(3 * T + 4, 0);
  ws.tmp.assign(3 * T + 4, 0);
  ws.terms.assign(T + 1, 0);
  ws.steps.assign(T + 1, 0);
  ws.bit_lists.assign(static_cast<size_t>(field_.m()) * (T + 1), 0);
  ws.bit_counts.assign(static_cast<size_t>(field_.m()), 0);
  ws.roots.reserve(T + 1);
  ws.erased.assign(words_, 0);
  ws.first.reserve(T + 1);
  return ws;
}

size_t BchCode::bitsliced_words(size_t* syn_words, size_t* chien_words) const {
  const size_t m = static_cast<size_t>(field_.m()), T = static_cast<size_t>(t_);
  const size_t chunks = (words_ + kChunkWords - 1) / kChunkWords;
  *syn_words = leaders_.size() * m * parity_words_;
  *chien_words = chunks * (T + 1) * m * kChunkWords;  // + an all-zero plane, k - 1 = t
  // Short codes decode faster on the scalar paths (a Chien block is 256 positions).
  if (n_ < kMinBitslicedLength) return 0;
  const size_t total = *syn_words + *chien_words;
  return total * sizeof(uint64_t) > table_budget_ ? 0 : total;
}

size_t BchCode::table_bytes() const {
  size_t syn_words = 0, chien_words = 0;
  return lfsr_table_.size() + bitsliced_words(&syn_words, &chien_words) * sizeof(uint64_t);
}

void BchCode::ensure_tables() const {
  std::call_once(tables_once_, [this] {
    const size_t m = static_cast<size_t>(field_.m()), T = static_cast<size_t>(t_);
    size_t syn_words = 0, chien_words = 0;
    if (bitsliced_words(&syn_words, &chien_words) == 0) return;
    const uint32_t N = field_.order();
    syn_planes_.assign(syn_words, 0);
    chien_planes_.assign(chien_words, 0);
    for (size_t i = 0; i < leaders_.size(); ++i) {
      const uint64_t step = leaders_[i] % N;
      uint64_t e = 0;
      uint64_t* base = syn_planes_.data() + i * m * parity_words_;
      for (size_t p = 0; p < static_cast<size_t>(n_ - k_); ++p) {
        const uint32_t v = field_.expz(static_cast<uint32_t>(e));
        for (size_t b = 0; b < m; ++b) {
          base[b * parity_words_ + (p >> 6)] |= static_cast<uint64_t>((v >> b) & 1u) << (p & 63);
        }
        e += step;
        if (e >= N) e -= N;
      }
    }
    for (size_t k = 1; k <= T; ++k) {
      const uint64_t step = N - (k % N);  // multiply by alpha^-k per position
      uint64_t e = 0;
      for (size_t p = 0; p < static_cast<size_t>(n_); ++p) {
        const uint32_t v = field_.expz(static_cast<uint32_t>(e));
        const size_t w = p >> 6, c = w / kChunkWords, q = w % kChunkWords;
        uint64_t* base = chien_planes_.data() + ((c * (T + 1) + (k - 1)) * m) * kChunkWords;
        for (size_t b = 0; b < m; ++b) {
          base[b * kChunkWords + q] |= static_cast<uint64_t>((v >> b) & 1u) << (p & 63);
        }
        e += step;
        if (e >= N) e -= N;
      }
    }
    bitsliced_ = true;
  });
}

void BchCode::syndromes(const uint64_t* rem, Workspace& ws) const {
  const size_t T = static_cast<size_t>(t_);
  uint32_t* S = ws.syn.data();
  const int m = field_.m();
  if (bitsliced_) {
    const auto syndrome = bch_kernels().syndrome;
    for (size_t i = 0; i < leaders_.size(); ++i) {
      S[leaders_[i]] = syndrome(rem, syn_planes_.data() + i * m * parity_words_, parity_words_, m);
    }
  } else {
    for (uint32_t j : leaders_) S[j] = 0;
    for (size_t w = 0; w < parity_words_; ++w) {
      uint64_t x = rem[w];
      while (x) {
        const uint64_t p = 64 * w + static_cast<uint64_t>(__builtin_ctzll(x));
        x &= x - 1;
        for (uint32_t j : leaders_) S[j] ^= field_.alpha_pow(j * p);
      }
    }
  }
  // S_j = S_leader^(2^a) for the other odd j, then S_2i = S_i^2.
  for (const SyndromeSource& d : derived_) {
    const uint32_t s = S[leaders_[d.leader]];
    S[d.j] = s ? field_.alpha_pow(static_cast<uint64_t>(field_.log(s)) * d.power) : 0;
  }
  for (size_t i = 2; i <= 2 * T; i += 2) S[i] = field_.sq(S[i / 2]);
}

int BchCode::berlekamp_massey(Workspace& ws) const {
  const uint32_t N = field_.order();
  const uint16_t* expz = field_.expz_table();
  const uint32_t* logz = field_.logz_table();
  const int T = t_;
  uint32_t* lam = ws.lambda.data();
  uint32_t* prev = ws.prev.data();
  uint32_t* tmp = ws.tmp.data();
  // log S_j: S is fixed, so each discrepancy term costs one table lookup less.
  const uint32_t* logS = ws.log_syn.data();
  std::fill(ws.lambda.begin(), ws.lambda.end(), 0u);
  std::fill(ws.prev.begin(), ws.prev.end(), 0u);
  lam[0] = 1;
  prev[0] = 1;
  // Fixed work for every syndrome (timing): t iterations, each with loops of
  // fixed length (t + 1, or r + 1 while r < t) whatever L, d or the branch
  // taken. Coefficients past the degree are zero, and logz[0] is the sentinel
  // whose expz is 0, so the extra terms add nothing: the result is that of the
  // textbook loops over i <= L and over prev's degree. L > t fails at the end instead of
  // at once (the same -1).
  const size_t cap = ws.lambda.size();
  int L = 0, shift = 1;
  uint32_t b_log = 0;
  bool failed = false;
  for (int r = 0; r < 2 * T; r += 2) {
    uint32_t d = ws.syn[r + 1];
    const int top = std::min(T, r);  // L <= r here, and r + 1 - i >= 1
    for (int i = 1; i <= top; ++i) d ^= expz[logz[lam[i]] + logS[r + 1 - i]];
    const uint32_t nonzero = d != 0 ? 1u : 0u;
    const uint32_t mask = 0u - nonzero;
    const uint32_t d_log = logz[d | (nonzero ^ 1u)];  // log 1 = 0 stands in for d = 0
    uint32_t coef = d_log + N - b_log;
    if (coef >= N) coef -= N;
    const bool lengthen = nonzero && 2 * L <= r;
    const uint32_t keep = lengthen ? ~0u : 0u;
    std::copy(lam, lam + T + 1, tmp);
    for (int i = 0; i <= T; ++i) {
      const size_t at = static_cast<size_t>(i + shift);
      if (at < cap) lam[at] ^= expz[coef + logz[prev[i]]] & mask;
    }
    for (int i = 0; i <= T; ++i) prev[i] = (tmp[i] & keep) | (prev[i] & ~keep);
    const int new_L = r + 1 - L;
    L = lengthen ? new_L : L;
    b_log = lengthen ? d_log : b_log;
    shift = lengthen ? 2 : shift + 2;
    failed = failed || L > T;
  }
  return failed ? -1 : L;
}

int BchCode::chien(int L, Workspace& ws) const {
  ws.roots.clear();
  if (bitsliced_) return chien_bitsliced(L, ws);
  return chien_scalar(L, ws);
}

int BchCode::chien_scalar(int L, Workspace& ws) const {
  const uint32_t N = field_.order();
  const uint16_t* expz = field_.expz_table();
  size_t cnt = 0;
  for (int k = 1; k <= L; ++k) {
    if (ws.lambda[k] == 0) continue;
    ws.terms[cnt] = field_.log(ws.lambda[k]);
    ws.steps[cnt] = N - static_cast<uint32_t>(k);
    ++cnt;
  }
  uint32_t* terms = ws.terms.data();
  const uint32_t* steps = ws.steps.data();
  for (int p = 0; p < n_; ++p) {
    uint32_t s = 1;
    for (size_t i = 0; i < cnt; ++i) {
      s ^= expz[terms[i]];
      uint32_t e = terms[i] + steps[i];
      terms[i] = e >= N ? e - N : e;
    }
    if (s == 0) ws.roots.push_back(static_cast<uint32_t>(p));  // no early exit (timing)
  }
  return static_cast<int>(ws.roots.size()) > L ? -1 : static_cast<int>(ws.roots.size());
}

int BchCode::chien_bitsliced(int L, Workspace& ws) const {
  // Every bit's list gets exactly t entries whatever Lambda is (timing): the
  // coefficients' set bits, then the all-zero plane at index t, which adds
  // nothing. Lambda_k = 0 for k > L, so scanning k = 1..t finds the same bits.
  const int m = field_.m();
  const size_t T = static_cast<size_t>(t_);
  const size_t stride = T + 1;
  for (int b = 0; b < m; ++b) ws.bit_counts[b] = 0;
  uint32_t* lists = ws.bit_lists.data();
  uint32_t* counts = ws.bit_counts.data();
  for (size_t k = 1; k <= T; ++k) {
    const uint32_t v = ws.lambda[k];
    for (int b = 0; b < m; ++b) {
      // Branch-free: write the entry, advance the count only when the bit is set.
      lists[b * stride + counts[b]] = static_cast<uint32_t>(k - 1);
      counts[b] += (v >> b) & 1u;
    }
  }
  for (int b = 0; b < m; ++b) {
    for (size_t i = counts[b]; i < T; ++i) lists[b * stride + i] = static_cast<uint32_t>(T);
    counts[b] = static_cast<uint32_t>(T);
  }
  ws.roots.resize(static_cast<size_t>(L) + 1);
  ChienArgs args{chien_planes_.data(), T + 1,                words_,          static_cast<size_t>(n_),
                 ws.bit_lists.data(),  stride,               ws.bit_counts.data(), ws.roots.data(),
                 static_cast<size_t>(L)};
  const int found = bch_kernels().chien(m, args);
  ws.roots.resize(found < 0 ? 0 : static_cast<size_t>(found));
  return found;
}

int BchCode::decode_packed(const uint64_t* packed, Workspace& ws) const {
  ensure_tables();
  ws.roots.clear();
  // w mod g is zero exactly for codewords, and has w's syndromes (g(alpha^j) = 0).
  // A codeword (w mod g = 0) is not settled early: it runs the same syndrome,
  // Berlekamp-Massey and Chien work as any other word (timing), and gives 0.
  remainder(packed, ws.rem.data(), ws.ring.data());
  syndromes(ws.rem.data(), ws);
  const size_t T = static_cast<size_t>(t_);
  for (size_t j = 1; j <= 2 * T; ++j) ws.log_syn[j] = field_.logz_table()[ws.syn[j]];
  const int L = berlekamp_massey(ws);
  if (L < 0 || L > t_) return -1;
  const int found = chien(L, ws);
  if (found != L) return -1;
  return L;
}

int BchCode::decode(const uint8_t* word, uint8_t* out) const {
  Workspace ws = make_workspace();
  pack_bytes(word, static_cast<size_t>(n_), ws.packed.data());
  const int e = decode_packed(ws.packed.data(), ws);
  std::memcpy(out, word, static_cast<size_t>(n_));
  if (e > 0) {
    for (uint32_t p : ws.roots) out[p] ^= 1u;
  }
  return e;
}

void BchCode::encode_batch(const uint8_t* msgs, uint8_t* out, size_t rows, int threads) const {
  const size_t k = static_cast<size_t>(k_), n = static_cast<size_t>(n_);
  parallel_rows(rows, threads, 64, [&](size_t begin, size_t end) {
    Workspace ws = make_workspace();
    for (size_t r = begin; r < end; ++r) encode_with(msgs + r * k, out + r * n, ws);
  });
}

void BchCode::decode_batch(const uint8_t* words, uint8_t* out, int32_t* n_errors, size_t rows,
                           int threads) const {
  ensure_tables();
  const size_t n = static_cast<size_t>(n_);
  parallel_rows(rows, threads, 16, [&](size_t begin, size_t end) {
    Workspace ws = make_workspace();
    for (size_t r = begin; r < end; ++r) {
      const uint8_t* w = words + r * n;
      uint8_t* o = out + r * n;
      pack_bytes(w, n, ws.packed.data());
      const int e = decode_packed(ws.packed.data(), ws);
      std::memcpy(o, w, n);
      if (e > 0) {
        for (uint32_t p : ws.roots) o[p] ^= 1u;
      }
      n_errors[r] = e;
    }
  });
}

int BchCode::decode_erasures_with(const uint8_t* word, const uint8_t* erasures, uint8_t* out,
                                  Workspace& ws) const {
  const size_t n = static_cast<size_t>(n_);
  uint64_t* packed = ws.packed.data();
  uint64_t* erased = ws.erased.data();
  pack_bytes(erasures, n, erased);
  size_t f = 0;
  for (size_t q = 0; q < words_; ++q) f += static_cast<size_t>(__builtin_popcountll(erased[q]));
  pack_bytes(word, n, packed);
  std::memcpy(out, word, n);  // stays the input on failure
  if (f == 0) {
    const int e = decode_packed(packed, ws);
    if (e > 0) {
      for (uint32_t p : ws.roots) out[p] ^= 1u;
    }
    return e;
  }
  // Corrections that fall off E (d' of the trial's codeword to the word).
  const auto off_erasures = [erased](const std::vector<uint32_t>& roots) {
    int d = 0;
    for (uint32_t p : roots) d += static_cast<int>(((erased[p >> 6] >> (p & 63)) & 1u) ^ 1u);
    return d;
  };
  // The codeword of trial b: the word with E read as b, corrected at roots.
  const auto emit = [&](uint8_t b, const std::vector<uint32_t>& roots, int d) {
    for (size_t i = 0; i < n; ++i) {
      if (erasures[i] & 1u) out[i] = b;
    }
    for (uint32_t p : roots) out[p] ^= 1u;
    return d;
  };
  const int64_t bound = 2 * static_cast<int64_t>(t_);
  const int64_t fi = static_cast<int64_t>(f);

  // Trial 0: erased bits read as 0.
  for (size_t q = 0; q < words_; ++q) packed[q] &= ~erased[q];
  const int e0 = decode_packed(packed, ws);
  int d0 = -1;
  if (e0 >= 0) {
    d0 = off_erasures(ws.roots);
    if (2 * static_cast<int64_t>(d0) + fi <= bound) return emit(0, ws.roots, d0);  // (3)
    ws.first.assign(ws.roots.begin(), ws.roots.end());
  }
  // Trial 1: erased bits read as 1.
  for (size_t q = 0; q < words_; ++q) packed[q] |= erased[q];
  const int e1 = decode_packed(packed, ws);
  const int d1 = e1 >= 0 ? off_erasures(ws.roots) : -1;
  if (e1 < 0) return e0 < 0 ? -1 : emit(0, ws.first, d0);
  if (e0 < 0 || d1 < d0) return emit(1, ws.roots, d1);
  if (d0 < d1) return emit(0, ws.first, d0);
  // Equally close: the same codeword iff the corrections differ exactly on E.
  for (size_t q = 0; q < words_; ++q) packed[q] = erased[q];
  for (uint32_t p : ws.first) packed[p >> 6] ^= uint64_t(1) << (p & 63);
  for (uint32_t p : ws.roots) packed[p >> 6] ^= uint64_t(1) << (p & 63);
  for (size_t q = 0; q < words_; ++q) {
    if (packed[q]) return -1;  // two different codewords: ambiguous
  }
  return emit(1, ws.roots, d1);
}

int BchCode::decode_erasures(const uint8_t* word, const uint8_t* erasures, uint8_t* out) const {
  Workspace ws = make_workspace();
  return decode_erasures_with(word, erasures, out, ws);
}

void BchCode::decode_erasures_batch(const uint8_t* words, const uint8_t* erasures, uint8_t* out,
                                    int32_t* n_errors, size_t rows, int threads) const {
  ensure_tables();
  const size_t n = static_cast<size_t>(n_);
  parallel_rows(rows, threads, 16, [&](size_t begin, size_t end) {
    Workspace ws = make_workspace();
    for (size_t r = begin; r < end; ++r) {
      n_errors[r] = decode_erasures_with(words + r * n, erasures + r * n, out + r * n, ws);
    }
  });
}

}  // namespace fuzzykey
