// Row-parallel loops on std::thread (no OpenMP runtime to ship in wheels).
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <thread>
#include <vector>

namespace fuzzykey {

// The most threads a call may use, whatever it asks for (callers validate first).
constexpr size_t kMaxThreads = 256;

// Splits [0, rows) into contiguous ranges, one per thread, and calls
// body(begin, end) on each; the calling thread takes the last range.
// threads <= 0 means all hardware threads; fewer are used when there are fewer
// than min_rows_per_thread rows per thread, and never more than kMaxThreads.
// Failure never terminates the process: an exception thrown by body (on any
// thread) is rethrown here after every thread has been joined, and so is the
// std::system_error of a thread that could not be started (the ranges of the
// threads that did start still run to completion first).
template <class F>
void parallel_rows(size_t rows, int threads, size_t min_rows_per_thread, F&& body) {
  const size_t hw = std::max(1u, std::thread::hardware_concurrency());
  size_t nt = threads > 0 ? static_cast<size_t>(threads) : hw;
  nt = std::min({nt, kMaxThreads, std::max<size_t>(1, rows / std::max<size_t>(1, min_rows_per_thread))});
  if (nt <= 1) {
    body(size_t(0), rows);
    return;
  }
  std::vector<std::exception_ptr> errors(nt);
  auto run = [&body, &errors](size_t i, size_t begin, size_t end) {
    try {
      body(begin, end);
    } catch (...) {
      errors[i] = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(nt - 1);
  const size_t per = rows / nt, extra = rows % nt;
  size_t begin = 0;
  std::exception_ptr start_failure;
  for (size_t i = 0; i < nt; ++i) {
    const size_t end = begin + per + (i < extra ? 1 : 0);
    if (i + 1 == nt) {
      run(i, begin, end);
    } else {
      try {
        pool.emplace_back(run, i, begin, end);
      } catch (...) {  // no thread for this range: stop starting threads, report after joining
        start_failure = std::current_exception();
        break;
      }
    }
    begin = end;
  }
  for (auto& th : pool) th.join();
  if (start_failure) std::rethrow_exception(start_failure);
  for (auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

}  // namespace fuzzykey
