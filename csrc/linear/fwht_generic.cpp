// Portable "fwht" kernels: built with no special target flags, so they run on
// any processor (one float per step; the compiler may still vectorise the
// loops over columns with the baseline instruction set).
#include "fwht_impl.hpp"

namespace fuzzykey {
namespace {
struct GenericTag {};
using Generic = fwht_impl::Scalar<GenericTag>;
}  // namespace

void fwht_transform_generic(float* x, int k, float* work) {
  fwht_impl::transform<Generic, Generic>(x, k, work);
}

Top2 fwht_decode_generic(const float* llr, const LinearPlan& plan, float* work) {
  return fwht_impl::decode<Generic, Generic>(llr, plan, work);
}

}  // namespace fuzzykey
