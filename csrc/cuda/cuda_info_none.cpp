// CPU-only builds (FUZZYKEY_CUDA=OFF, or AUTO without a CUDA compiler).
#include "../cuda_info.hpp"

namespace fuzzykey {
bool cuda_built() { return false; }
int cuda_device_count() { return 0; }
}  // namespace fuzzykey
