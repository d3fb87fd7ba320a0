// "fwht" kernels with AVX (CMake compiles this file alone with -mavx;
// ../dispatch.cpp runs them only when the processor has AVX). Float add, sub,
// max, min and permutes of eight lanes are all AVX (AVX2 adds only integer
// operations, which the transform does not need). Stages 0-2 run inside a
// vector: stage t adds the vector with its lanes swapped at distance 2^t to the
// vector whose upper lane of each pair is negated, lane by lane
//   lane i (bit t clear): x[i ^ 2^t] + x[i]    = x[i] + x[i + 2^t]
//   lane i (bit t set):   x[i ^ 2^t] + (-x[i]) = x[i - 2^t] - x[i],
// which are exactly the butterfly's float32 results (IEEE addition commutes,
// and a + (-b) is a - b).
#include <immintrin.h>

#include "fwht_impl.hpp"

namespace fuzzykey {
namespace {

struct Avx {
  using V = __m256;
  static constexpr int kLogW = 3;
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V zero() { return _mm256_setzero_ps(); }
  static V splat(float f) { return _mm256_set1_ps(f); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V min(V a, V b) { return _mm256_min_ps(a, b); }
  static void lanes(V v, float* out) { _mm256_storeu_ps(out, v); }
  static int first_equal(V v, float f) {
    const int mask = _mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_set1_ps(f), _CMP_EQ_OQ));
    return mask ? __builtin_ctz(static_cast<unsigned>(mask)) : -1;
  }
  static V sign(int t) {
    const float m = -0.0f;  // sign bit only
    switch (t) {
      case 0:
        return _mm256_setr_ps(0.0f, m, 0.0f, m, 0.0f, m, 0.0f, m);
      case 1:
        return _mm256_setr_ps(0.0f, 0.0f, m, m, 0.0f, 0.0f, m, m);
      default:
        return _mm256_setr_ps(0.0f, 0.0f, 0.0f, 0.0f, m, m, m, m);
    }
  }
  static V in_vector(V x) {
    x = _mm256_add_ps(_mm256_permute_ps(x, 0xB1), _mm256_xor_ps(x, sign(0)));           // lanes 1,0,3,2,...
    x = _mm256_add_ps(_mm256_permute_ps(x, 0x4E), _mm256_xor_ps(x, sign(1)));           // lanes 2,3,0,1,...
    return _mm256_add_ps(_mm256_permute2f128_ps(x, x, 0x01), _mm256_xor_ps(x, sign(2)));  // halves swapped
  }
};

struct SmallTag {};
using Small = fwht_impl::Scalar<SmallTag>;

}  // namespace

void fwht_transform_avx(float* x, int k, float* work) {
  fwht_impl::transform<Avx, Small>(x, k, work);
}

Top2 fwht_decode_avx(const float* llr, const LinearPlan& plan, float* work) {
  return fwht_impl::decode<Avx, Small>(llr, plan, work);
}

}  // namespace fuzzykey
