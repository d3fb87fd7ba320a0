// CUDA builds: query the runtime (linked statically) for devices.
#include <cuda_runtime.h>

#include "../cuda_info.hpp"

namespace fuzzykey {
bool cuda_built() { return true; }
int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // no driver or no device: clear the error, report none
    return 0;
  }
  return count;
}
}  // namespace fuzzykey
