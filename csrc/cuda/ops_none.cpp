// CPU-only builds: the CUDA entry points exist and say why they cannot run.
#include <stdexcept>

#include "ops_cuda.hpp"

namespace fuzzykey {
namespace {
[[noreturn]] void no_cuda() {
  throw std::runtime_error(
      "this fuzzykey build has no CUDA kernels (built with FUZZYKEY_CUDA=OFF or without a CUDA "
      "compiler); rebuild with FUZZYKEY_CUDA=ON, or pass CPU arrays");
}
}  // namespace

void cuda_pack_bits(const uint8_t*, size_t, size_t, uint64_t*, uintptr_t) { no_cuda(); }
void cuda_unpack_bits(const uint64_t*, size_t, size_t, uint8_t*, uintptr_t) { no_cuda(); }
template <class T>
void cuda_threshold_pack(const T*, size_t, size_t, const T*, uint64_t*, uintptr_t) {
  no_cuda();
}
void cuda_hamming(const uint64_t*, size_t, const uint64_t*, size_t, size_t, int32_t*, uintptr_t) {
  no_cuda();
}
template <class T>
void cuda_sample_sphere(const T*, const T*, size_t, size_t, size_t, uint64_t, T*, T*, uintptr_t) {
  no_cuda();
}

template void cuda_threshold_pack<float>(const float*, size_t, size_t, const float*, uint64_t*, uintptr_t);
template void cuda_threshold_pack<double>(const double*, size_t, size_t, const double*, uint64_t*,
                                          uintptr_t);
template void cuda_sample_sphere<float>(const float*, const float*, size_t, size_t, size_t, uint64_t,
                                        float*, float*, uintptr_t);
template void cuda_sample_sphere<double>(const double*, const double*, size_t, size_t, size_t, uint64_t,
                                         double*, double*, uintptr_t);

}  // namespace fuzzykey
