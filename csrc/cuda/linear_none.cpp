// CPU-only builds: the CUDA entry point of ML decoding exists and says why it cannot run.
#include <stdexcept>

#include "linear_cuda.hpp"

namespace fuzzykey {

void cuda_ml_decode(const float*, size_t, size_t, const uint32_t*, int, uint8_t*, float*, float*, uintptr_t) {
  throw std::runtime_error(
      "this fuzzykey build has no CUDA kernels (built with FUZZYKEY_CUDA=OFF or without a CUDA "
      "compiler); rebuild with FUZZYKEY_CUDA=ON, or pass CPU arrays");
}

}  // namespace fuzzykey
