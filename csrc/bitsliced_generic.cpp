// Bitsliced kernels for any processor (the baseline target flags).
#include "bitsliced_impl.hpp"

namespace fuzzykey {
struct IsaGeneric {};
uint32_t syndrome_generic(const uint64_t* word, const uint64_t* planes, size_t words, int m) {
  return bitsliced_impl::Kernels<IsaGeneric>::syndrome(word, planes, words, m);
}
int chien_generic(int m, const ChienArgs& a) { return bitsliced_impl::Kernels<IsaGeneric>::chien(m, a); }
}  // namespace fuzzykey
