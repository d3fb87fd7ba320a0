// Hamming distances between packed bit strings (layout in bits.hpp), on the
// CPU, with one translation unit per instruction set (hamming_<isa>.cpp) and
// the choice made in ../dispatch.cpp (kernel family "hamming").
#pragma once

#include <cstddef>
#include <cstdint>

namespace fuzzykey {

// out[i * G + j] = number of differing bits between queries row i and gallery
// row j; rows are `words` uint64 each, C-contiguous. threads <= 0: all cores.
void hamming_cpu(const uint64_t* queries, size_t Q, const uint64_t* gallery, size_t G,
                 size_t words, int32_t* out, int threads);

}  // namespace fuzzykey
