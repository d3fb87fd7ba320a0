// fuzzykey._core: the pybind11 face of the C++ core. It checks shapes and
// dtypes, hands raw pointers to csrc/, and releases the GIL while the core
// works. Argument checking with friendly messages happens in the Python
// package; what is checked here only guards memory safety.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <string>

#include "../csrc/bch.hpp"
#include "../csrc/cuda_info.hpp"
#include "../csrc/dispatch.hpp"

namespace py = pybind11;
using fuzzykey::BchCode;

void bind_ops(py::module_& m);      // bindings/ops.cpp
void bind_linear(py::module_& m);   // bindings/linear.cpp
void bind_testing(py::module_& m);  // bindings/testing.cpp

namespace {

using U8Array = py::array_t<uint8_t, py::array::c_style>;

void check_matrix(const U8Array& a, int cols, const char* name) {
  if (a.ndim() != 2 || a.shape(1) != cols) {
    throw py::value_error(std::string(name) + " must have shape (rows, " + std::to_string(cols) +
                          ")");
  }
}

U8Array encode_batch(const BchCode& code, const U8Array& msgs, int threads) {
  check_matrix(msgs, code.k(), "msgs");
  const auto rows = static_cast<size_t>(msgs.shape(0));
  U8Array out({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(code.n())});
  const uint8_t* in = msgs.data();
  uint8_t* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    code.encode_batch(in, o, rows, threads);
  }
  return out;
}

py::tuple decode_batch(const BchCode& code, const U8Array& words, int threads) {
  check_matrix(words, code.n(), "words");
  const auto rows = static_cast<size_t>(words.shape(0));
  U8Array out({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(code.n())});
  py::array_t<int32_t> n_errors(static_cast<py::ssize_t>(rows));
  const uint8_t* in = words.data();
  uint8_t* o = out.mutable_data();
  int32_t* e = n_errors.mutable_data();
  {
    py::gil_scoped_release release;
    code.decode_batch(in, o, e, rows, threads);
  }
  return py::make_tuple(out, n_errors);
}

py::tuple decode_erasures_batch(const BchCode& code, const U8Array& words,
                                const U8Array& erasures, int threads) {
  check_matrix(words, code.n(), "words");
  check_matrix(erasures, code.n(), "erasures");
  if (erasures.shape(0) != words.shape(0)) {
    throw py::value_error("erasures must have as many rows as words");
  }
  const auto rows = static_cast<size_t>(words.shape(0));
  U8Array out({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(code.n())});
  py::array_t<int32_t> n_errors(static_cast<py::ssize_t>(rows));
  const uint8_t* in = words.data();
  const uint8_t* mask = erasures.data();
  uint8_t* o = out.mutable_data();
  int32_t* e = n_errors.mutable_data();
  {
    py::gil_scoped_release release;
    code.decode_erasures_batch(in, mask, o, e, rows, threads);
  }
  return py::make_tuple(out, n_errors);
}

U8Array generator(const BchCode& code) {
  const int deg = code.n() - code.k();
  U8Array out(deg + 1);
  uint8_t* o = out.mutable_data();
  const auto& g = code.generator();
  for (int i = 0; i <= deg; ++i) o[i] = static_cast<uint8_t>((g[i >> 6] >> (i & 63)) & 1u);
  return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "fuzzykey's native core (BCH codes, bit ops); use the fuzzykey package, not this module.";
  bind_ops(m);
  bind_linear(m);
  py::module_ testing =
      m.def_submodule("testing", "Test hooks into the C++ core's internals; not part of fuzzykey's API.");
  bind_testing(testing);

  py::class_<BchCode, std::shared_ptr<BchCode>>(m, "BchCode")
      .def(py::init([](int mm, int t, int n, size_t table_budget) {
             py::gil_scoped_release release;
             return std::make_shared<BchCode>(mm, t, n, table_budget);
           }),
           py::arg("m"), py::arg("t"), py::arg("n"),
           py::arg("table_budget") = BchCode::kDefaultTableBudget)
      .def_property_readonly("bitsliced", &BchCode::bitsliced)
      .def_property_readonly("m", &BchCode::m)
      .def_property_readonly("t", &BchCode::t)
      .def_property_readonly("n", &BchCode::n)
      .def_property_readonly("k", &BchCode::k)
      .def_property_readonly("full_length", &BchCode::full_length)
      .def_property_readonly("table_bytes", &BchCode::table_bytes)
      .def("generator", &generator)
      .def("encode_batch", &encode_batch, py::arg("msgs").noconvert(), py::arg("threads") = 0)
      .def("decode_batch", &decode_batch, py::arg("words").noconvert(), py::arg("threads") = 0)
      .def("decode_erasures_batch", &decode_erasures_batch, py::arg("words").noconvert(),
           py::arg("erasures").noconvert(), py::arg("threads") = 0);

  m.def(
      "generator_degrees",
      [](int mm) {
        const auto deg = fuzzykey::bch_generator_degrees(mm);
        py::array_t<uint32_t> out(static_cast<py::ssize_t>(deg.size()));
        std::memcpy(out.mutable_data(), deg.data(), deg.size() * sizeof(uint32_t));
        return out;
      },
      py::arg("m"), "deg g of the full-length BCH code over GF(2^m) for t = 0, 1, ..., t_max.");
  m.def("primitive_poly", &fuzzykey::primitive_poly, py::arg("m"));
  m.def("kernel_isas", &fuzzykey::kernel_isas, "Kernel family -> instruction set in use.");
  m.def("available_kernel_isas", &fuzzykey::available_kernel_isas,
        "Kernel family -> the sets this processor supports, best first.");
  m.def("use_kernel_isa", &fuzzykey::use_kernel_isa, py::arg("family"), py::arg("isa"),
        "Switch one family's kernel set; every set gives the same results.");
  m.def("cuda_built", &fuzzykey::cuda_built, "Whether this build has CUDA kernels.");
  m.def("cuda_device_count", &fuzzykey::cuda_device_count,
        "CUDA devices visible to this process (0 without CUDA build, driver or GPU).");
}
