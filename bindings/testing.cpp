// fuzzykey._core.testing: hooks that exist only for the tests. They expose the
// per-element math shared by the CPU and CUDA kernels (csrc/ops/philox.hpp), so
// tests can check it against published values (Random123's known-answer
// vectors) and pure-Python references. Nothing in the fuzzykey package uses them.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>

#include "../csrc/ops/philox.hpp"

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
}
