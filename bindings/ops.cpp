// Bindings of fuzzykey.ops: CPU functions on numpy arrays, CUDA functions on
// raw device pointers (the Python side takes them from torch tensors, so this
// module never links against libtorch). Shapes and dtypes are checked in
// fuzzykey/ops.py; the checks here only guard memory safety.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "../csrc/cuda/ops_cuda.hpp"
#include "../csrc/ops/bits.hpp"
#include "../csrc/ops/hamming.hpp"
#include "../csrc/ops/ops.hpp"

namespace py = pybind11;

namespace {

template <class T>
using Array = py::array_t<T, py::array::c_style>;

void require(bool ok, const std::string& what) {
  if (!ok) throw py::value_error(what);
}

size_t dim(const py::array& a, int i) { return static_cast<size_t>(a.shape(i)); }

Array<uint64_t> pack_bits(const Array<uint8_t>& bits, int threads) {
  require(bits.ndim() == 2, "bits must be 2-D");
  const size_t rows = dim(bits, 0), n = dim(bits, 1);
  Array<uint64_t> out({rows, fuzzykey::words_for_bits(n)});
  const uint8_t* in = bits.data();
  uint64_t* o = out.mutable_data();
  py::gil_scoped_release release;
  fuzzykey::pack_bits_cpu(in, rows, n, o, threads);
  return out;
}

Array<uint8_t> unpack_bits(const Array<uint64_t>& words, size_t n, int threads) {
  require(words.ndim() == 2 && dim(words, 1) == fuzzykey::words_for_bits(n),
          "words must have shape (rows, ceil(n / 64))");
  const size_t rows = dim(words, 0);
  Array<uint8_t> out({rows, n});
  const uint64_t* in = words.data();
  uint8_t* o = out.mutable_data();
  py::gil_scoped_release release;
  fuzzykey::unpack_bits_cpu(in, rows, n, o, threads);
  return out;
}

// Returns (packed, all_finite).
template <class T>
py::tuple threshold_pack(const Array<T>& y, const py::object& thresholds, const py::object& out,
                         int threads) {
  require(y.ndim() == 2, "y must be 2-D");
  const size_t rows = dim(y, 0), n = dim(y, 1), W = fuzzykey::words_for_bits(n);
  const T* thr = nullptr;
  Array<T> t;
  if (!thresholds.is_none()) {
    t = thresholds.cast<Array<T>>();
    require(t.ndim() == 1 && dim(t, 0) == n, "thresholds must have shape (n,)");
    thr = t.data();
  }
  // `out`: an existing C-contiguous (rows, W) uint64 array to fill (e.g. a slice
  // of the caller's result), or None for a new one.
  Array<uint64_t> o;
  if (out.is_none()) {
    o = Array<uint64_t>({rows, W});
  } else {
    require(py::isinstance<Array<uint64_t>>(out), "out must be a C-contiguous uint64 array");
    o = out.cast<Array<uint64_t>>();
    require(o.ndim() == 2 && dim(o, 0) == rows && dim(o, 1) == W && o.writeable(),
            "out must be a writable (rows, ceil(n / 64)) array");
  }
  const T* in = y.data();
  uint64_t* op = o.mutable_data();
  bool finite = true;
  {
    py::gil_scoped_release release;
    finite = fuzzykey::threshold_pack_cpu<T>(in, rows, n, thr, op, threads);
  }
  return py::make_tuple(o, finite);
}

Array<int32_t> hamming(const Array<uint64_t>& q, const Array<uint64_t>& g, const py::object& out,
                       int threads) {
  require(q.ndim() == 2 && g.ndim() == 2 && dim(q, 1) == dim(g, 1),
          "queries and gallery must be 2-D with the same number of words");
  const size_t Q = dim(q, 0), G = dim(g, 0), W = dim(q, 1);
  // `out`: a C-contiguous (Q, G) int32 array to fill (reused across calls, it
  // spares the page faults of a fresh result), or None for a new one.
  Array<int32_t> o;
  if (out.is_none()) {
    o = Array<int32_t>({Q, G});
  } else {
    require(py::isinstance<Array<int32_t>>(out), "out must be a C-contiguous int32 array");
    o = out.cast<Array<int32_t>>();
    require(o.ndim() == 2 && dim(o, 0) == Q && dim(o, 1) == G && o.writeable(),
            "out must be a writable (Q, G) int32 array");
  }
  const uint64_t* qp = q.data();
  const uint64_t* gp = g.data();
  int32_t* op = o.mutable_data();
  {
    py::gil_scoped_release release;
    fuzzykey::hamming_cpu(qp, Q, gp, G, W, op, threads);
  }
  return o;
}

template <class T>
py::tuple sample_sphere(const Array<T>& centers, const Array<T>& radii, size_t samples, uint64_t seed,
                        int threads) {
  require(centers.ndim() == 2 && radii.ndim() == 1 && dim(radii, 0) == dim(centers, 0),
          "centers must be (N, d) and radii (N,)");
  const size_t N = dim(centers, 0), d = dim(centers, 1);
  require(d >= 1, "centers must have at least one dimension (d >= 1)");
  require(samples >= 1, "samples must be >= 1");
  // N * samples * d elements in each of z and u: refuse before the products overflow size_t
  constexpr size_t kMaxElements = size_t(1) << 40;
  require(N <= kMaxElements && samples <= kMaxElements / std::max<size_t>(1, N) &&
              N * samples <= kMaxElements / d,
          "N * samples * d is too large (at most 2^40 values)");
  Array<T> z({N, samples, d}), u({N, samples, d});
  const T* c = centers.data();
  const T* r = radii.data();
  T* zp = z.mutable_data();
  T* up = u.mutable_data();
  {
    py::gil_scoped_release release;
    fuzzykey::sample_sphere_cpu<T>(c, r, N, d, samples, seed, zp, up, threads);
  }
  return py::make_tuple(z, u);
}

template <class T>
T* ptr(uintptr_t p) {
  return reinterpret_cast<T*>(p);
}

}  // namespace

void bind_ops(py::module_& m) {
  // CPU, numpy in and out.
  m.def("pack_bits", &pack_bits, py::arg("bits").noconvert(), py::arg("threads") = 0);
  m.def("unpack_bits", &unpack_bits, py::arg("words").noconvert(), py::arg("n"),
        py::arg("threads") = 0);
  m.def("threshold_pack", &threshold_pack<float>, py::arg("y").noconvert(), py::arg("thresholds"),
        py::arg("out") = py::none(), py::arg("threads") = 0);
  m.def("threshold_pack", &threshold_pack<double>, py::arg("y").noconvert(), py::arg("thresholds"),
        py::arg("out") = py::none(), py::arg("threads") = 0);
  m.def("hamming", &hamming, py::arg("queries").noconvert(), py::arg("gallery").noconvert(),
        py::arg("out") = py::none(), py::arg("threads") = 0);
  m.def("sample_sphere", &sample_sphere<float>, py::arg("centers").noconvert(),
        py::arg("radii").noconvert(), py::arg("samples"), py::arg("seed"), py::arg("threads") = 0);
  m.def("sample_sphere", &sample_sphere<double>, py::arg("centers").noconvert(),
        py::arg("radii").noconvert(), py::arg("samples"), py::arg("seed"), py::arg("threads") = 0);

  // CUDA, device pointers as integers, enqueued on `stream`.
  m.def("cuda_pack_bits", [](uintptr_t bits, size_t rows, size_t n, uintptr_t out, uintptr_t stream) {
    fuzzykey::cuda_pack_bits(ptr<const uint8_t>(bits), rows, n, ptr<uint64_t>(out), stream);
  });
  m.def("cuda_unpack_bits", [](uintptr_t words, size_t rows, size_t n, uintptr_t out, uintptr_t stream) {
    fuzzykey::cuda_unpack_bits(ptr<const uint64_t>(words), rows, n, ptr<uint8_t>(out), stream);
  });
  m.def("cuda_threshold_pack",
        [](uintptr_t y, size_t rows, size_t n, uintptr_t thr, uintptr_t out, bool f64, uintptr_t stream) {
          if (f64) {
            fuzzykey::cuda_threshold_pack<double>(ptr<const double>(y), rows, n, ptr<const double>(thr),
                                                  ptr<uint64_t>(out), stream);
          } else {
            fuzzykey::cuda_threshold_pack<float>(ptr<const float>(y), rows, n, ptr<const float>(thr),
                                                 ptr<uint64_t>(out), stream);
          }
        });
  m.def("cuda_hamming", [](uintptr_t q, size_t Q, uintptr_t g, size_t G, size_t words, uintptr_t out,
                           uintptr_t stream) {
    fuzzykey::cuda_hamming(ptr<const uint64_t>(q), Q, ptr<const uint64_t>(g), G, words,
                           ptr<int32_t>(out), stream);
  });
  m.def("cuda_sample_sphere", [](uintptr_t c, uintptr_t r, size_t N, size_t d, size_t S, uint64_t seed,
                                 uintptr_t z, uintptr_t u, bool f64, uintptr_t stream) {
    if (f64) {
      fuzzykey::cuda_sample_sphere<double>(ptr<const double>(c), ptr<const double>(r), N, d, S, seed,
                                           ptr<double>(z), ptr<double>(u), stream);
    } else {
      fuzzykey::cuda_sample_sphere<float>(ptr<const float>(c), ptr<const float>(r), N, d, S, seed,
                                          ptr<float>(z), ptr<float>(u), stream);
    }
  });
}
