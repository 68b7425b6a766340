#pragma once
// The row-wise ops of the AVX2 table (ops_avx2.cpp); the AVX-512 table uses them too, since
// none of them is where the time goes. Same contracts as the Kernels members of those names.

#include <cstdint>

namespace salut::backend::cpu::avx2 {

void rms_norm(const float* x, int64_t cols, const float* weight, float eps, float* out);
void swiglu(const float* gate, const float* up, int64_t n, float* out);
double exp_shifted(const float* x, int64_t n, float shift, float scale, float* out);
float attend(const float* q, const float* keys, const float* values, int64_t stride, int64_t count, int head_dim,
             float scale, float* scores, float* out, float* total);

}  // namespace salut::backend::cpu::avx2
