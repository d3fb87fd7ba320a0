// Bitsliced kernels compiled with AVX2 (CMake sets -mavx2 for this file only;
// dispatch.cpp calls them only when the processor has AVX2).
#include "bitsliced_impl.hpp"

namespace fuzzykey {
struct IsaAvx2 {};
uint32_t syndrome_avx2(const uint64_t* word, const uint64_t* planes, size_t words, int m) {
  return bitsliced_impl::Kernels<IsaAvx2>::syndrome(word, planes, words, m);
}
int chien_avx2(int m, const ChienArgs& a) { return bitsliced_impl::Kernels<IsaAvx2>::chien(m, a); }
}  // namespace fuzzykey
