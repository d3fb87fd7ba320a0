// CUDA entry point of maximum-likelihood decoding (../linear/linear.hpp): the
// same scores, transform schedule-independent results and tie rule as the CPU
// decoder, on device pointers, enqueued on `stream` (a cudaStream_t passed as
// an integer; 0 = the legacy default stream). Builds without CUDA get a stub
// that throws std::runtime_error.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fuzzykey {

// llrs: rows x n finite float32 (each row's absolute values summing to less
// than 2^126); columns: n values g_j < 2^k, 1 <= k <= 24; messages: rows x k
// bytes 0/1 out; margins: rows floats out; workspace: rows x 2^k floats
// (contents ignored, overwritten).
void cuda_ml_decode(const float* llrs, size_t rows, size_t n, const uint32_t* columns, int k,
                    uint8_t* messages, float* margins, float* workspace, uintptr_t stream);

}  // namespace fuzzykey
