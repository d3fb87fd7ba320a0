// The one place that chooses the Hamming kernel set: the best one this
// processor supports, at first use (never baked in with -march=native).
// use_hamming_isa() switches sets for tests and benchmarks. The kernels are
// plain function pointers into the per-instruction-set translation units; the
// threading (parallel_rows) lives here, in a TU built with no special flags.
#include <atomic>
#include <stdexcept>
#include <string>

#include "../parallel.hpp"
#include "hamming.hpp"
#include "hamming_impl.hpp"

namespace fuzzykey {

void hamming_range_generic(const uint64_t*, size_t, const uint64_t*, size_t, size_t, size_t, int32_t*, size_t);
#if defined(FUZZYKEY_HAMMING_X86)
void hamming_range_popcnt(const uint64_t*, size_t, const uint64_t*, size_t, size_t, size_t, int32_t*, size_t);
void hamming_range_avx2(const uint64_t*, size_t, const uint64_t*, size_t, size_t, size_t, int32_t*, size_t);
#endif
#if defined(FUZZYKEY_HAMMING_AVX512)
void hamming_range_avx512(const uint64_t*, size_t, const uint64_t*, size_t, size_t, size_t, int32_t*, size_t);
#endif

namespace {

struct KernelSet {
  const char* name;
  hamming_impl::RangeFn range;
  bool (*supported)();
};

bool always() { return true; }
#if defined(FUZZYKEY_HAMMING_X86)
bool has_popcnt() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("popcnt");
}
bool has_avx2() { return has_popcnt() && __builtin_cpu_supports("avx2"); }
#endif
#if defined(FUZZYKEY_HAMMING_AVX512)
bool has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq");
}
#endif

// Best first.
const KernelSet kSets[] = {
#if defined(FUZZYKEY_HAMMING_AVX512)
    {"avx512", hamming_range_avx512, has_avx512},
#endif
#if defined(FUZZYKEY_HAMMING_X86)
    {"avx2", hamming_range_avx2, has_avx2},
    {"popcnt", hamming_range_popcnt, has_popcnt},
#endif
    {"generic", hamming_range_generic, always},
};
constexpr size_t kNumSets = sizeof(kSets) / sizeof(kSets[0]);

const KernelSet* best() {
  for (const KernelSet& k : kSets) {
    if (k.supported()) return &k;
  }
  return &kSets[kNumSets - 1];
}

std::atomic<const KernelSet*>& current() {
  static std::atomic<const KernelSet*> k{best()};
  return k;
}

// Least work (in words compared) worth a thread of its own: starting and
// joining a std::thread costs tens of microseconds (up to ~80 us measured on a
// 2-core VM), while one core compares 2^20 words (8 MiB of gallery) in about
// 150 us from cache (256-bit rows, AVX-512) and 300 us from memory.
constexpr size_t kMinWordsPerThread = size_t(1) << 20;

size_t min_rows(size_t words_per_row) {
  const size_t per = words_per_row ? words_per_row : 1;
  return (kMinWordsPerThread + per - 1) / per;
}

}  // namespace

void hamming_cpu(const uint64_t* queries, size_t Q, const uint64_t* gallery, size_t G, size_t words,
                 int32_t* out, int threads) {
  if (Q == 0 || G == 0) return;
  const hamming_impl::RangeFn range = current().load(std::memory_order_relaxed)->range;
  if (G >= Q) {  // split the gallery: each thread scans a slice of it against every query
    parallel_rows(G, threads, min_rows(Q * words), [&](size_t begin, size_t end) {
      range(queries, Q, gallery, begin, end, words, out, G);
    });
  } else {  // many queries: each thread takes a share of them against the whole gallery
    parallel_rows(Q, threads, min_rows(G * words), [&](size_t begin, size_t end) {
      range(queries + begin * words, end - begin, gallery, 0, G, words, out + begin * G, G);
    });
  }
}

const char* hamming_isa() { return current().load()->name; }

std::vector<std::string> available_hamming_isas() {
  std::vector<std::string> out;
  for (const KernelSet& k : kSets) {
    if (k.supported()) out.emplace_back(k.name);
  }
  return out;
}

void use_hamming_isa(const std::string& name) {
  for (const KernelSet& k : kSets) {
    if (name == k.name) {
      if (!k.supported()) throw std::invalid_argument("this processor does not support " + name);
      current().store(&k);
      return;
    }
  }
  std::string known;
  for (const KernelSet& k : kSets) known += std::string(known.empty() ? "" : ", ") + k.name;
  throw std::invalid_argument("unknown Hamming kernel set '" + name + "' (built: " + known + ")");
}

}  // namespace fuzzykey
