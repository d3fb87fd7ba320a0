// The one place that chooses a kernel set for this processor, once.
#include "bitsliced.hpp"

namespace fuzzykey {

uint32_t syndrome_generic(const uint64_t*, const uint64_t*, size_t, int);
int chien_generic(int, const ChienArgs&);
#if defined(FUZZYKEY_HAVE_AVX2)
uint32_t syndrome_avx2(const uint64_t*, const uint64_t*, size_t, int);
int chien_avx2(int, const ChienArgs&);
#endif

namespace {
struct KernelSet {
  const char* name;
  uint32_t (*syndrome)(const uint64_t*, const uint64_t*, size_t, int);
  int (*chien)(int, const ChienArgs&);
};

KernelSet choose() {
#if defined(FUZZYKEY_HAVE_AVX2)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) return {"avx2", syndrome_avx2, chien_avx2};
#endif
  return {"generic", syndrome_generic, chien_generic};
}

const KernelSet& kernels() {
  static const KernelSet k = choose();
  return k;
}
}  // namespace

uint32_t bitsliced_syndrome(const uint64_t* word, const uint64_t* planes, size_t words, int m) {
  return kernels().syndrome(word, planes, words, m);
}
int bitsliced_chien(int m, const ChienArgs& args) { return kernels().chien(m, args); }
const char* kernel_isa() { return kernels().name; }

}  // namespace fuzzykey
