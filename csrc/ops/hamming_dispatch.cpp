// Placeholder dispatch for the Hamming kernels (generic only for now).
#include <stdexcept>

#include "hamming.hpp"

namespace fuzzykey {

void hamming_generic(const uint64_t*, size_t, const uint64_t*, size_t, size_t, int32_t*, int);

void hamming_cpu(const uint64_t* queries, size_t Q, const uint64_t* gallery, size_t G,
                 size_t words, int32_t* out, int threads) {
  hamming_generic(queries, Q, gallery, G, words, out, threads);
}
const char* hamming_isa() { return "generic"; }
std::vector<std::string> available_hamming_isas() { return {"generic"}; }
void use_hamming_isa(const std::string& name) {
  if (name != "generic") throw std::invalid_argument("unknown kernel set '" + name + "'");
}

}  // namespace fuzzykey
