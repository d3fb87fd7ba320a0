// ML decoding on the CPU: the scatter plan, threads and workspaces around the
// "fwht" kernel set in use (chosen in ../dispatch.cpp; the kernels are
// fwht_<isa>.cpp). Built with no special target flags.
#include "linear.hpp"

#include <algorithm>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "../dispatch.hpp"
#include "../parallel.hpp"
#include "fwht_math.hpp"

namespace fuzzykey {
namespace {

// A decode's workspace (fwht_workspace_floats(k) floats), 64-byte aligned; from
// 4 MiB on (k >= 20), 2 MiB aligned and marked for transparent huge pages where
// the system has them: faulting in 64 MiB of 4 KiB pages took 60 ms on the
// development VM, against 11 ms in 2 MiB pages (a k = 24 decode takes about 20 ms).
constexpr size_t kHugePage = size_t(2) << 20;

struct AlignedFree {
  size_t align;
  void operator()(float* p) const { ::operator delete[](p, std::align_val_t(align)); }
};
using Workspace = std::unique_ptr<float[], AlignedFree>;

Workspace make_workspace(int k) {
  size_t bytes = sizeof(float) * fwht_workspace_floats(k);
  const size_t align = bytes >= 2 * kHugePage ? kHugePage : 64;
  bytes = (bytes + align - 1) / align * align;
  float* p = static_cast<float*>(::operator new[](bytes, std::align_val_t(align)));
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (align == kHugePage) madvise(p, bytes, MADV_HUGEPAGE);  // advice only: failure is harmless
#endif
  return Workspace(p, AlignedFree{align});
}

// Least encoding work (rows x n bits) worth a thread of its own.
constexpr size_t kMinEncodeBitsPerThread = size_t(1) << 20;

}  // namespace

LinearDecoder::LinearDecoder(std::vector<uint32_t> columns, int k) : k_(k), columns_(std::move(columns)) {
  if (k < 1 || k > kFwhtMaxBits) {
    throw std::invalid_argument("k must be between 1 and " + std::to_string(kFwhtMaxBits) + ", got " +
                                std::to_string(k));
  }
  if (columns_.empty() || columns_.size() > 0xffffu) {
    throw std::invalid_argument("a code needs 1 to 65535 columns, got " + std::to_string(columns_.size()));
  }
  const uint32_t limit = uint32_t(1) << k;
  for (size_t j = 0; j < columns_.size(); ++j) {
    if (columns_[j] >= limit) {
      throw std::invalid_argument("column " + std::to_string(j) + " is " + std::to_string(columns_[j]) +
                                  ", not below 2^k = " + std::to_string(limit));
    }
  }
  // Counting sort of the columns by group, stable in j.
  const int bits = std::min(k, kFwhtGroupBits);
  const size_t groups = size_t(1) << (k - bits);
  group_start_.assign(groups + 1, 0);
  for (uint32_t g : columns_) ++group_start_[(g >> bits) + 1];
  for (size_t q = 0; q < groups; ++q) group_start_[q + 1] += group_start_[q];
  targets_.resize(columns_.size());
  sources_.resize(columns_.size());
  std::vector<uint32_t> next(group_start_.begin(), group_start_.end() - 1);
  for (size_t j = 0; j < columns_.size(); ++j) {
    const uint32_t e = next[columns_[j] >> bits]++;
    targets_[e] = columns_[j];
    sources_[e] = static_cast<uint32_t>(j);
  }
}

int LinearDecoder::decode_threads(size_t rows, int threads) const {
  const size_t hw = std::max(1u, std::thread::hardware_concurrency());
  size_t nt = threads > 0 ? static_cast<size_t>(threads) : hw;
  const size_t budget = std::max<size_t>(1, kWorkspaceBudget / (sizeof(float) * fwht_workspace_floats(k_)));
  nt = std::min({nt, budget, std::max<size_t>(rows, 1)});
  return static_cast<int>(nt);
}

void LinearDecoder::encode_batch(const uint8_t* msgs, uint8_t* out, size_t rows, int threads) const {
  const size_t k = static_cast<size_t>(k_), n = columns_.size();
  const size_t min_rows = std::max<size_t>(1, kMinEncodeBitsPerThread / n);
  parallel_rows(rows, threads, min_rows, [&](size_t begin, size_t end) {
    for (size_t r = begin; r < end; ++r) {
      uint32_t a = 0;
      for (size_t i = 0; i < k; ++i) a |= static_cast<uint32_t>(msgs[r * k + i] != 0) << i;
      uint8_t* o = out + r * n;
      for (size_t j = 0; j < n; ++j) o[j] = static_cast<uint8_t>(__builtin_popcount(a & columns_[j]) & 1);
    }
  });
}

Top2 LinearDecoder::ml_decode_one(const float* llr, float* work) const {
  const LinearPlan p = plan();
  return fwht_kernels().decode(llr, p, work);
}

void LinearDecoder::ml_decode_batch(const float* llrs, uint8_t* messages, float* margins, size_t rows,
                                    int threads) const {
  if (rows == 0) return;
  const FwhtKernels& kernels = fwht_kernels();  // one set for the whole batch
  const LinearPlan p = plan();
  const size_t k = static_cast<size_t>(k_), n = columns_.size();
  parallel_rows(rows, decode_threads(rows, threads), 1, [&](size_t begin, size_t end) {
    Workspace work = make_workspace(k_);
    for (size_t r = begin; r < end; ++r) {
      const Top2 t = kernels.decode(llrs + r * n, p, work.get());
      for (size_t i = 0; i < k; ++i) messages[r * k + i] = static_cast<uint8_t>((t.index >> i) & 1u);
      margins[r] = top2_margin(t);
    }
  });
}

}  // namespace fuzzykey
