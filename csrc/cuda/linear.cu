// CUDA kernels of maximum-likelihood decoding (see ../linear/linear.hpp). The
// per-element math is the CPU's (../linear/fwht_math.hpp: the butterfly, the
// top-two merge and its tie rule), and the transform applies its stages in the
// same order t = 0..k-1 (../linear/fwht.hpp), so the scores, messages and
// margins are bit-identical to the CPU decoder's. Kept simple: one launch per
// phase, plain 1-D grids.
//   1. zero the workspace; one thread per row adds L_j to V[g_j] for j = 0..n-1
//      in order (the CPU's order within each target);
//   2. stages 0..min(k, 12)-1 in shared memory, one block per 2^12-float tile;
//   3. each further stage t: one thread per butterfly, in global memory;
//   4. one block per row: each thread folds its strided share of the scores in
//      ascending index order (top2_push), then a tree of top2_merge in shared
//      memory; thread 0 writes the message bits and the margin.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "../linear/fwht.hpp"
#include "../linear/fwht_math.hpp"
#include "linear_cuda.hpp"

namespace fuzzykey {
namespace {

constexpr unsigned kThreads = 256;  // a power of two (the reduction halves it)
constexpr int kTileBits = 12;       // 16 KiB of shared memory per block

cudaStream_t as_stream(uintptr_t s) { return reinterpret_cast<cudaStream_t>(s); }

unsigned grid_for(size_t blocks, const char* what) {
  if (blocks > 0x7fffffffu) {
    throw std::invalid_argument(std::string(what) + ": too many rows for one CUDA launch");
  }
  return static_cast<unsigned>(blocks == 0 ? 1 : blocks);
}

unsigned blocks_for(size_t items, const char* what) {
  return grid_for((items + kThreads - 1) / kThreads, what);
}

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

// Index with bit t clear of the p-th butterfly of stage t.
__device__ size_t pair_low(size_t p, int t) {
  return ((p >> t) << (t + 1)) | (p & ((size_t(1) << t) - 1));
}

__global__ void scatter_kernel(const float* llrs, size_t rows, size_t n, const uint32_t* columns, int k,
                               float* work) {
  const size_t r = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (r >= rows) return;
  float* v = work + (r << k);
  const float* l = llrs + r * n;
  for (size_t j = 0; j < n; ++j) v[columns[j]] += l[j];
}

__global__ void low_stages_kernel(float* work, int low) {
  __shared__ float tile[size_t(1) << kTileBits];
  const size_t size = size_t(1) << low;
  float* x = work + static_cast<size_t>(blockIdx.x) * size;
  for (size_t i = threadIdx.x; i < size; i += blockDim.x) tile[i] = x[i];
  __syncthreads();
  for (int t = 0; t < low; ++t) {
    for (size_t p = threadIdx.x; p < size / 2; p += blockDim.x) {
      const size_t i = pair_low(p, t);
      butterfly(tile[i], tile[i + (size_t(1) << t)]);
    }
    __syncthreads();
  }
  for (size_t i = threadIdx.x; i < size; i += blockDim.x) x[i] = tile[i];
}

__global__ void stage_kernel(float* work, size_t rows, int k, int t) {
  const size_t q = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  const size_t half = size_t(1) << (k - 1);
  if (q >= rows * half) return;
  float* x = work + ((q / half) << k);
  const size_t i = pair_low(q % half, t);
  butterfly(x[i], x[i + (size_t(1) << t)]);
}

__global__ void top2_kernel(const float* work, int k, uint8_t* messages, float* margins) {
  __shared__ Top2 part[kThreads];
  const size_t r = blockIdx.x, size = size_t(1) << k;
  const float* x = work + (r << k);
  Top2 t = top2_empty();
  for (size_t i = threadIdx.x; i < size; i += blockDim.x) t = top2_push(t, x[i], static_cast<uint32_t>(i));
  part[threadIdx.x] = t;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) part[threadIdx.x] = top2_merge(part[threadIdx.x], part[threadIdx.x + s]);
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    t = part[0];
    margins[r] = top2_margin(t);
    for (int i = 0; i < k; ++i) messages[r * k + i] = static_cast<uint8_t>((t.index >> i) & 1u);
  }
}

}  // namespace

void cuda_ml_decode(const float* llrs, size_t rows, size_t n, const uint32_t* columns, int k,
                    uint8_t* messages, float* margins, float* workspace, uintptr_t stream) {
  if (k < 1 || k > kFwhtMaxBits) {
    throw std::invalid_argument("cuda ml_decode: k must be between 1 and " + std::to_string(kFwhtMaxBits) +
                                ", got " + std::to_string(k));
  }
  if (rows == 0) return;
  const cudaStream_t s = as_stream(stream);
  const size_t size = size_t(1) << k;
  const int low = k < kTileBits ? k : kTileBits;
  check(cudaMemsetAsync(workspace, 0, rows * size * sizeof(float), s), "ml_decode: zeroing the workspace");
  scatter_kernel<<<blocks_for(rows, "ml_decode"), kThreads, 0, s>>>(llrs, rows, n, columns, k, workspace);
  check(cudaGetLastError(), "ml_decode: scatter");
  low_stages_kernel<<<grid_for(rows << (k - low), "ml_decode"), kThreads, 0, s>>>(workspace, low);
  check(cudaGetLastError(), "ml_decode: low stages");
  for (int t = low; t < k; ++t) {
    stage_kernel<<<blocks_for(rows * (size / 2), "ml_decode"), kThreads, 0, s>>>(workspace, rows, k, t);
    check(cudaGetLastError(), "ml_decode: stage");
  }
  top2_kernel<<<grid_for(rows, "ml_decode"), kThreads, 0, s>>>(workspace, k, messages, margins);
  check(cudaGetLastError(), "ml_decode: top two");
}

}  // namespace fuzzykey
