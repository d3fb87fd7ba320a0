// Bindings of fuzzykey.linear: the native decoder of a binary linear code
// (csrc/linear/linear.hpp) on numpy arrays, and the CUDA decoder on raw device
// pointers. Argument checking with friendly messages happens in
// fuzzykey/linear.py; the checks here only guard memory safety.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../csrc/cuda/linear_cuda.hpp"
#include "../csrc/linear/linear.hpp"

namespace py = pybind11;
using fuzzykey::LinearDecoder;

namespace {

template <class T>
using Array = py::array_t<T, py::array::c_style>;

void require(bool ok, const std::string& what) {
  if (!ok) throw py::value_error(what);
}

size_t dim(const py::array& a, int i) { return static_cast<size_t>(a.shape(i)); }

std::shared_ptr<LinearDecoder> make(const Array<uint32_t>& columns, int k) {
  require(columns.ndim() == 1, "columns must be 1-D");
  std::vector<uint32_t> cols(columns.data(), columns.data() + columns.size());
  py::gil_scoped_release release;
  return std::make_shared<LinearDecoder>(std::move(cols), k);
}

Array<uint8_t> encode_batch(const LinearDecoder& code, const Array<uint8_t>& msgs, int threads) {
  require(msgs.ndim() == 2 && dim(msgs, 1) == static_cast<size_t>(code.k()),
          "msgs must have shape (rows, " + std::to_string(code.k()) + ")");
  const size_t rows = dim(msgs, 0);
  Array<uint8_t> out({rows, code.n()});
  const uint8_t* in = msgs.data();
  uint8_t* o = out.mutable_data();
  py::gil_scoped_release release;
  code.encode_batch(in, o, rows, threads);
  return out;
}

py::tuple ml_decode_batch(const LinearDecoder& code, const Array<float>& llrs, int threads) {
  require(llrs.ndim() == 2 && dim(llrs, 1) == code.n(),
          "llrs must have shape (rows, " + std::to_string(code.n()) + ")");
  const size_t rows = dim(llrs, 0);
  Array<uint8_t> messages({rows, static_cast<size_t>(code.k())});
  Array<float> margins(static_cast<py::ssize_t>(rows));
  const float* in = llrs.data();
  uint8_t* m = messages.mutable_data();
  float* g = margins.mutable_data();
  {
    py::gil_scoped_release release;
    code.ml_decode_batch(in, m, g, rows, threads);
  }
  return py::make_tuple(messages, margins);
}

template <class T>
T* ptr(uintptr_t p) {
  return reinterpret_cast<T*>(p);
}

}  // namespace

void bind_linear(py::module_& m) {
  py::class_<LinearDecoder, std::shared_ptr<LinearDecoder>>(m, "LinearDecoder")
      .def(py::init(&make), py::arg("columns").noconvert(), py::arg("k"))
      .def_property_readonly("k", &LinearDecoder::k)
      .def_property_readonly("n", &LinearDecoder::n)
      .def("decode_threads", &LinearDecoder::decode_threads, py::arg("rows"), py::arg("threads"),
           "Threads a batch of `rows` decodes runs on (workspace budget applied).")
      .def("encode_batch", &encode_batch, py::arg("msgs").noconvert(), py::arg("threads") = 0)
      .def("ml_decode_batch", &ml_decode_batch, py::arg("llrs").noconvert(), py::arg("threads") = 0);
  m.attr("ML_WORKSPACE_BUDGET") = py::int_(LinearDecoder::kWorkspaceBudget);

  // CUDA, device pointers as integers, enqueued on `stream`.
  m.def("cuda_ml_decode", [](uintptr_t llrs, size_t rows, size_t n, uintptr_t columns, int k,
                             uintptr_t messages, uintptr_t margins, uintptr_t workspace, uintptr_t stream) {
    fuzzykey::cuda_ml_decode(ptr<const float>(llrs), rows, n, ptr<const uint32_t>(columns), k,
                             ptr<uint8_t>(messages), ptr<float>(margins), ptr<float>(workspace), stream);
  });
}
