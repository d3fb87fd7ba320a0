// fuzzykey._core.testing: hooks that exist only for the tests. They expose the
// per-element math shared by the CPU and CUDA kernels (csrc/ops/philox.hpp), so
// tests can check it against published values (Random123's known-answer
// vectors) and pure-Python references, and the Walsh-Hadamard transform and
// top-two merge of ML decoding (csrc/linear/fwht_math.hpp). Nothing in the
// fuzzykey package uses them.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <atomic>
#include <stdexcept>
#include <string>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <vector>

#include "../csrc/dispatch.hpp"
#include "../csrc/linear/fwht_math.hpp"
#include "../csrc/ops/philox.hpp"
#include "../csrc/parallel.hpp"

namespace py = pybind11;

void bind_testing(py::module_& m) {
  m.def(
      "philox4x32_10",
      [](std::array<uint32_t, 4> ctr, std::array<uint32_t, 2> key) {
        const fuzzykey::Philox4x32 r =
            fuzzykey::philox4x32_10(fuzzykey::Philox4x32{{ctr[0], ctr[1], ctr[2], ctr[3]}}, key[0], key[1]);
        return std::array<uint32_t, 4>{r.v[0], r.v[1], r.v[2], r.v[3]};
      },
      py::arg("counter"), py::arg("key"), "Philox4x32-10 of one counter under a key.");
  m.def(
      "normal4",
      [](uint64_t seed, uint64_t row, uint64_t sample, uint32_t block) {
        double out[4];
        fuzzykey::normal4<double>(seed, row, sample, block, out);
        return std::array<double, 4>{out[0], out[1], out[2], out[3]};
      },
      py::arg("seed"), py::arg("row"), py::arg("sample"), py::arg("block"),
      "The four Gaussians sample_sphere draws for counter (row, sample, block).");
  m.def(
      "fwht",
      [](const py::array_t<float, py::array::c_style>& x) {
        const size_t size = static_cast<size_t>(x.size());
        const size_t most = size_t(1) << fuzzykey::kFwhtMaxBits;
        if (x.ndim() != 1 || size < 2 || (size & (size - 1)) || size > most) {
          throw py::value_error("x must be 1-D with 2^k floats, 1 <= k <= 24");
        }
        const int k = __builtin_ctzll(size);
        py::array_t<float> out(static_cast<py::ssize_t>(size));
        std::memcpy(out.mutable_data(), x.data(), size * sizeof(float));
        float* o = out.mutable_data();
        py::gil_scoped_release release;
        std::vector<float> work(fuzzykey::fwht_workspace_floats(k));
        fuzzykey::fwht_kernels().transform(o, k, work.data());
        return out;
      },
      py::arg("x").noconvert(),
      "The Walsh-Hadamard transform of x by the \"fwht\" kernel set in use (a copy).");
  m.def(
      "top2_merge",
      [](std::tuple<float, float, uint32_t> a, std::tuple<float, float, uint32_t> b) {
        using fuzzykey::Top2;
        const Top2 r = fuzzykey::top2_merge(Top2{std::get<0>(a), std::get<1>(a), std::get<2>(a)},
                                            Top2{std::get<0>(b), std::get<1>(b), std::get<2>(b)});
        return std::make_tuple(r.best, r.second, r.index);
      },
      py::arg("a"), py::arg("b"), "The merge of two (best, runner-up, index) candidates.");
  m.def(
      "butterfly",
      [](float x, float y) {
        fuzzykey::butterfly(x, y);
        return std::make_tuple(x, y);
      },
      py::arg("x"), py::arg("y"), "One butterfly of the transform: (x + y, x - y) in float32.");
  m.def(
      "parallel_rows_failing_at",
      [](size_t rows, int threads, size_t failing_row) {
        std::atomic<size_t> done{0};
        py::gil_scoped_release release;
        fuzzykey::parallel_rows(rows, threads, 1, [&](size_t begin, size_t end) {
          if (begin <= failing_row && failing_row < end) {
            throw std::runtime_error("row " + std::to_string(failing_row) + " failed");
          }
          done += end - begin;
        });
        return done.load();
      },
      py::arg("rows"), py::arg("threads"), py::arg("failing_row"),
      "parallel_rows over rows with a body that throws on the range holding failing_row\n"
      "(rows beyond it: no failure); returns the rows processed.");
}
