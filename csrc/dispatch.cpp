// The one place that knows which instruction sets exist: it asks the processor
// what it supports (once), lists the kernel sets of every family best first,
// and hands out the set in use (see dispatch.hpp). Built with no special target
// flags. CMakeLists.txt compiles the per-set translation units and tells this
// file which of them exist:
//   FUZZYKEY_ISA_X86     bitsliced_avx2.cpp, ops/hamming_popcnt.cpp, ops/hamming_avx2.cpp,
//                        linear/fwht_avx.cpp
//   FUZZYKEY_ISA_AVX512  ops/hamming_avx512.cpp
#include "dispatch.hpp"

#include <atomic>
#include <stdexcept>

namespace fuzzykey {

// The per-instruction-set entry points, one translation unit each.
uint32_t syndrome_generic(const uint64_t*, const uint64_t*, size_t, int);
int chien_generic(int, const ChienArgs&);
void hamming_range_generic(const uint64_t*, size_t, const uint64_t*, size_t, size_t, size_t, int32_t*, size_t);
void fwht_transform_generic(float*, int, float*);
Top2 fwht_decode_generic(const float*, const LinearPlan&, float*);
#if defined(FUZZYKEY_ISA_X86)
uint32_t syndrome_avx2(const uint64_t*, const uint64_t*, size_t, int);
int chien_avx2(int, const ChienArgs&);
void hamming_range_popcnt(const uint64_t*, size_t, const uint64_t*, size_t, size_t, size_t, int32_t*, size_t);
void hamming_range_avx2(const uint64_t*, size_t, const uint64_t*, size_t, size_t, size_t, int32_t*, size_t);
void fwht_transform_avx(float*, int, float*);
Top2 fwht_decode_avx(const float*, const LinearPlan&, float*);
#endif
#if defined(FUZZYKEY_ISA_AVX512)
void hamming_range_avx512(const uint64_t*, size_t, const uint64_t*, size_t, size_t, size_t, int32_t*, size_t);
#endif

namespace {

// -- what the processor supports ------------------------------------------------

enum Feature : unsigned {
  kPopcnt = 1u << 0,
  kAvx2 = 1u << 1,
  kAvx512f = 1u << 2,
  kAvx512Vpopcntdq = 1u << 3,
  kAvx = 1u << 4,
};

struct FeatureName {
  Feature feature;
  const char* name;
};
constexpr FeatureName kFeatureNames[] = {
    {kPopcnt, "popcnt"},
    {kAvx2, "avx2"},
    {kAvx512f, "avx512f"},
    {kAvx512Vpopcntdq, "avx512vpopcntdq"},
    {kAvx, "avx"},
};

unsigned detect_features() {
  unsigned features = 0;
#if defined(FUZZYKEY_ISA_X86)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("popcnt")) features |= kPopcnt;
  if (__builtin_cpu_supports("avx2")) features |= kAvx2;
  if (__builtin_cpu_supports("avx512f")) features |= kAvx512f;
  if (__builtin_cpu_supports("avx512vpopcntdq")) features |= kAvx512Vpopcntdq;
  if (__builtin_cpu_supports("avx")) features |= kAvx;
#endif
  return features;
}

unsigned cpu_features() {
  static const unsigned features = detect_features();
  return features;
}

std::string feature_list(unsigned features) {
  std::string out;
  for (const FeatureName& f : kFeatureNames) {
    if (features & f.feature) out += (out.empty() ? "" : ", ") + std::string(f.name);
  }
  return out;
}

// -- the kernel sets of every family, best first --------------------------------

template <class Kernels>
struct KernelSet {
  const char* isa;
  unsigned needs;  // Feature bits the processor must have
  Kernels kernels;
};

const KernelSet<BchKernels> kBchSets[] = {
#if defined(FUZZYKEY_ISA_X86)
    {"avx2", kAvx2, {syndrome_avx2, chien_avx2}},
#endif
    {"generic", 0, {syndrome_generic, chien_generic}},
};

const KernelSet<HammingKernels> kHammingSets[] = {
#if defined(FUZZYKEY_ISA_AVX512)
    {"avx512", kAvx512f | kAvx512Vpopcntdq, {hamming_range_avx512}},
#endif
#if defined(FUZZYKEY_ISA_X86)
    {"avx2", kAvx2 | kPopcnt, {hamming_range_avx2}},
    {"popcnt", kPopcnt, {hamming_range_popcnt}},
#endif
    {"generic", 0, {hamming_range_generic}},
};

const KernelSet<FwhtKernels> kFwhtSets[] = {
#if defined(FUZZYKEY_ISA_X86)
    {"avx", kAvx, {fwht_transform_avx, fwht_decode_avx}},
#endif
    {"generic", 0, {fwht_transform_generic, fwht_decode_generic}},
};

// One family: its sets and the one in use.
template <class Kernels>
class Family {
 public:
  template <size_t N>
  Family(const char* name, const KernelSet<Kernels> (&sets)[N])
      : name_(name), begin_(sets), end_(sets + N), in_use_(best()) {}

  const char* name() const { return name_; }
  const Kernels& kernels() const { return in_use_.load(std::memory_order_relaxed)->kernels; }
  std::string isa() const { return in_use_.load()->isa; }

  std::vector<std::string> available() const {
    std::vector<std::string> out;
    for (const KernelSet<Kernels>* s = begin_; s != end_; ++s) {
      if (supported(*s)) out.emplace_back(s->isa);
    }
    return out;
  }

  void use(const std::string& isa) {
    for (const KernelSet<Kernels>* s = begin_; s != end_; ++s) {
      if (isa != s->isa) continue;
      if (!supported(*s)) {
        throw std::invalid_argument(std::string(name_) + " kernel set '" + isa + "' needs " +
                                    feature_list(s->needs) + ", which this processor lacks" +
                                    " (it runs: " + join(available()) + ")");
      }
      in_use_.store(s);
      return;
    }
    std::vector<std::string> built;
    for (const KernelSet<Kernels>* s = begin_; s != end_; ++s) built.emplace_back(s->isa);
    throw std::invalid_argument("unknown " + std::string(name_) + " kernel set '" + isa +
                                "' (this build has: " + join(built) + ")");
  }

 private:
  static bool supported(const KernelSet<Kernels>& s) { return (cpu_features() & s.needs) == s.needs; }

  // The first set the processor supports; the last set needs nothing.
  const KernelSet<Kernels>* best() const {
    const KernelSet<Kernels>* s = begin_;
    while (!supported(*s)) ++s;
    return s;
  }

  static std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
  }

  const char* name_;
  const KernelSet<Kernels>* begin_;
  const KernelSet<Kernels>* end_;
  std::atomic<const KernelSet<Kernels>*> in_use_;
};

Family<BchKernels>& bch_family() {
  static Family<BchKernels> family("bch", kBchSets);
  return family;
}

Family<HammingKernels>& hamming_family() {
  static Family<HammingKernels> family("hamming", kHammingSets);
  return family;
}

Family<FwhtKernels>& fwht_family() {
  static Family<FwhtKernels> family("fwht", kFwhtSets);
  return family;
}

// Calls fn on every family: the one list of them.
template <class Fn>
void for_each_family(Fn&& fn) {
  fn(bch_family());
  fn(hamming_family());
  fn(fwht_family());
}

}  // namespace

const BchKernels& bch_kernels() { return bch_family().kernels(); }
const HammingKernels& hamming_kernels() { return hamming_family().kernels(); }
const FwhtKernels& fwht_kernels() { return fwht_family().kernels(); }

std::map<std::string, std::string> kernel_isas() {
  std::map<std::string, std::string> out;
  for_each_family([&](const auto& family) { out[family.name()] = family.isa(); });
  return out;
}

std::map<std::string, std::vector<std::string>> available_kernel_isas() {
  std::map<std::string, std::vector<std::string>> out;
  for_each_family([&](const auto& family) { out[family.name()] = family.available(); });
  return out;
}

void use_kernel_isa(const std::string& family, const std::string& isa) {
  bool found = false;
  std::string names;
  for_each_family([&](auto& f) {
    names += (names.empty() ? "" : ", ") + std::string(f.name());
    if (family == f.name()) {
      f.use(isa);
      found = true;
    }
  });
  if (!found) {
    throw std::invalid_argument("unknown kernel family '" + family + "' (families: " + names + ")");
  }
}

}  // namespace fuzzykey
