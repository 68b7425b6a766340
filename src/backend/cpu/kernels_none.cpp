// Builds for processors other than x86-64 have only the scalar kernels.

#include "backend/cpu/kernels.h"

namespace salut::backend::cpu {
const Kernels* avx2_kernels() { return nullptr; }
const Kernels* avx512_kernels() { return nullptr; }
}  // namespace salut::backend::cpu
