#pragma once
// Scalar reference implementations of the transformer's elementwise and attention ops on the
// CPU. Plain loops the compiler can vectorise; the tests compare faster paths against these.

#include <cstdint>

#include "backend/backend.h"

namespace salut::backend::cpu {

// out[r] = x[r] / sqrt(mean(x[r]^2) + eps) * weight, reduced in float32 (as MLX's fast.rms_norm).
void rms_norm_rows(const float* x, int64_t rows, int64_t cols, const float* weight, float eps, float* out);

void rope_rows(float* x, int64_t rows, int heads, int head_dim, const RopeParams& rope, int64_t first_position);

void swiglu(const float* gate, const float* up, int64_t n, float* out);

// Causal attention for `rows` queries at positions first_position.. over cached keys/values
// [0, first_position + rows); GQA maps query head h to kv head h / (heads / kv_heads).
// Softmax in float32 with the running-max trick.
void causal_attention(const float* q, int64_t rows, const float* keys, const float* values, int64_t first_position,
                      const AttentionParams& params, float* out);

}  // namespace salut::backend::cpu
