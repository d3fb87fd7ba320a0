// The one place that chooses a kernel set for this processor: the best one it
// supports, once, at first use. use_kernel_isa() lets tests run every set the
// processor supports against the others.
#include <atomic>
#include <cstring>
#include <stdexcept>
#include <string>

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
  bool (*supported)();
};

bool always() { return true; }
#if defined(FUZZYKEY_HAVE_AVX2)
bool has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}
#endif

// Best first.
const KernelSet kSets[] = {
#if defined(FUZZYKEY_HAVE_AVX2)
    {"avx2", syndrome_avx2, chien_avx2, has_avx2},
#endif
    {"generic", syndrome_generic, chien_generic, always},
};

const KernelSet* best() {
  for (const KernelSet& k : kSets) {
    if (k.supported()) return &k;
  }
  return &kSets[sizeof(kSets) / sizeof(kSets[0]) - 1];
}

std::atomic<const KernelSet*>& current() {
  static std::atomic<const KernelSet*> k{best()};
  return k;
}
}  // namespace

uint32_t bitsliced_syndrome(const uint64_t* word, const uint64_t* planes, size_t words, int m) {
  return current().load(std::memory_order_relaxed)->syndrome(word, planes, words, m);
}
int bitsliced_chien(int m, const ChienArgs& args) {
  return current().load(std::memory_order_relaxed)->chien(m, args);
}
const char* kernel_isa() { return current().load()->name; }

std::vector<std::string> available_kernel_isas() {
  std::vector<std::string> out;
  for (const KernelSet& k : kSets) {
    if (k.supported()) out.emplace_back(k.name);
  }
  return out;
}

void use_kernel_isa(const std::string& name) {
  for (const KernelSet& k : kSets) {
    if (name == k.name) {
      if (!k.supported()) throw std::invalid_argument("this processor does not support " + name);
      current().store(&k);
      return;
    }
  }
  throw std::invalid_argument("unknown kernel set '" + name + "'");
}

}  // namespace fuzzykey
