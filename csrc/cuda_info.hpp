// Whether this build carries CUDA code, and how many GPUs it can see. The CUDA
// runtime is linked statically, so asking works on machines without a GPU or a
// driver: the answer is then 0.
#pragma once

namespace fuzzykey {
bool cuda_built();
int cuda_device_count();
}  // namespace fuzzykey
