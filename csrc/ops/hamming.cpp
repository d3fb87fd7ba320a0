// Hamming distances on the CPU: the threading around the kernel set in use
// (chosen in ../dispatch.cpp; the kernels are hamming_<isa>.cpp). Built with no
// special target flags.
#include "hamming.hpp"

#include "../dispatch.hpp"
#include "../parallel.hpp"

namespace fuzzykey {
namespace {

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
  const auto range = hamming_kernels().range;
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

}  // namespace fuzzykey
