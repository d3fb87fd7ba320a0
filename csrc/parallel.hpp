// Row-parallel loops on std::thread (no OpenMP runtime to ship in wheels).
#pragma once

#include <algorithm>
#include <cstddef>
#include <thread>
#include <vector>

namespace fuzzykey {

// Splits [0, rows) into contiguous ranges, one per thread, and calls
// body(begin, end) on each; the calling thread takes the last range.
// threads <= 0 means all hardware threads; fewer are used when there are fewer
// than min_rows_per_thread rows per thread.
template <class F>
void parallel_rows(size_t rows, int threads, size_t min_rows_per_thread, F&& body) {
  const size_t hw = std::max(1u, std::thread::hardware_concurrency());
  size_t nt = threads > 0 ? static_cast<size_t>(threads) : hw;
  nt = std::min(nt, std::max<size_t>(1, rows / std::max<size_t>(1, min_rows_per_thread)));
  if (nt <= 1) {
    body(size_t(0), rows);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(nt - 1);
  const size_t per = rows / nt, extra = rows % nt;
  size_t begin = 0;
  for (size_t i = 0; i < nt; ++i) {
    const size_t end = begin + per + (i < extra ? 1 : 0);
    if (i + 1 == nt) {
      body(begin, end);
    } else {
      pool.emplace_back([&body, begin, end] { body(begin, end); });
    }
    begin = end;
  }
  for (auto& th : pool) th.join();
}

}  // namespace fuzzykey
