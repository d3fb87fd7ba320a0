// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
// SC 2011), the counter-based generator of Random123, cuRAND and numpy's
// Philox; and Box-Muller Gaussians from it. Shared by the CPU and CUDA code, so
// a seed gives the same draws on both (up to the last bits of log/sin/cos).
#pragma once

#include <cmath>
#include <cstdint>

#include "device.hpp"

namespace fuzzykey {

struct Philox4x32 {
  uint32_t v[4];
};

FUZZYKEY_HD void mulhilo32(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t p = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}

// Ten rounds on counter ctr with key (k0, k1).
FUZZYKEY_HD Philox4x32 philox4x32_10(Philox4x32 ctr, uint32_t k0, uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo32(0xD2511F53u, ctr.v[0], hi0, lo0);
    mulhilo32(0xCD9E8D57u, ctr.v[2], hi1, lo1);
    ctr = Philox4x32{{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return ctr;
}

// A uniform in (0, 1] (never 0, so log() is finite), exactly representable in
// T: 32 random bits for double, the top 24 for float (float(x) would round
// the largest words up to 2^32).
template <class T>
FUZZYKEY_HD T uniform_open0(uint32_t x) {
  if (sizeof(T) < 8) return static_cast<T>((x >> 8) + 1u) * static_cast<T>(5.9604644775390625e-08);  // 2^-24
  return (static_cast<T>(x) + T(1)) * static_cast<T>(2.3283064365386963e-10);  // 2^-32
}

// Four standard normals for block `block` of sample (row, sample): Box-Muller on
// one Philox output. The counter is (sample_lo, row_lo, block, row_hi ^
// (sample_hi << 16)), distinct for every row, sample < 2^48 and block < 2^32.
template <class T>
FUZZYKEY_HD void normal4(uint64_t seed, uint64_t row, uint64_t sample, uint32_t block, T out[4]) {
  const Philox4x32 ctr{{static_cast<uint32_t>(sample), static_cast<uint32_t>(row), block,
                        static_cast<uint32_t>(row >> 32) ^ (static_cast<uint32_t>(sample >> 32) << 16)}};
  const Philox4x32 r = philox4x32_10(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  const T two_pi = static_cast<T>(6.283185307179586);
  for (int pair = 0; pair < 2; ++pair) {
    const T radius = sqrt(T(-2) * log(uniform_open0<T>(r.v[2 * pair])));
    const T angle = two_pi * uniform_open0<T>(r.v[2 * pair + 1]);
    out[2 * pair] = radius * cos(angle);
    out[2 * pair + 1] = radius * sin(angle);
  }
}

// One sample on the sphere of radius `radius` around `center` (d values): u is a
// normalized Gaussian, z = center + radius * u. Writes u and z (d values each).
//
// A uniform of exactly 1 makes a Box-Muller pair (0, 0) (probability 2^-24 in
// float), so for d <= 2 the Gaussian vector can be zero and has no direction:
// then the sample is drawn again from fresh counters (block | attempt << 24,
// distinct for d < 2^26), deterministically for the seed.
template <class T>
FUZZYKEY_HD void sphere_sample(const T* center, T radius, size_t d, uint64_t seed, uint64_t row,
                               uint64_t sample, T* z, T* u) {
  T norm2 = 0;
  for (uint32_t attempt = 0; norm2 == T(0); ++attempt) {
    for (size_t j = 0; j < d; j += 4) {
      T g[4];
      normal4<T>(seed, row, sample, static_cast<uint32_t>(j / 4) | (attempt << 24), g);
      for (size_t q = 0; q < 4 && j + q < d; ++q) {
        u[j + q] = g[q];
        norm2 += g[q] * g[q];
      }
    }
  }
  const T inv = T(1) / sqrt(norm2);
  for (size_t j = 0; j < d; ++j) {
    u[j] *= inv;
    z[j] = center[j] + radius * u[j];
  }
}

}  // namespace fuzzykey
