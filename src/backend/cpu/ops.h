#pragma once
// The transformer's row-wise ops on the CPU, over whole tensors: each splits its rows (or
// heads) between the pool's threads and runs one kernel table's per-row function on them.
// Small ops (a decode step's) stay on the calling thread.

#include <cstdint>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/thread_pool.h"

namespace salut::backend::cpu {

// out[r] = x[r] / sqrt(mean(x[r]^2) + eps) * weight, reduced in float32 (as MLX's fast.rms_norm).
void rms_norm_rows(const Kernels& k, ThreadPool& pool, const float* x, int64_t rows, int64_t cols, const float* weight, float eps,
                   float* out);

void swiglu(const Kernels& k, ThreadPool& pool, const float* gate, const float* up, int64_t n, float* out);

// cos and sin of every rotated pair at positions [first, first + rows), computed once per
// forward pass and shared by every layer's q and k (angle = position * inv_freq in f32).
struct RopeTable {
  int64_t first = -1;
  int64_t rows = 0;
  std::vector<float> inv_freq;  // what the table was made from
  std::vector<float> cos, sin;  // [rows][rotary_dim / 2]

  // Rebuilds the table unless it already holds these positions and frequencies.
  void prepare(const RopeParams& rope, int64_t first_position, int64_t count);
};

// Rotates each head of every row in place (row r at table.first + r).
void rope_rows(ThreadPool& pool, float* x, int64_t rows, int heads, int head_dim, const RopeParams& rope, const RopeTable& table);

// Where a cache keeps KV head h's row for position t: h * head_stride + t * row_stride floats in.
// Row-major ([position][kv head][dim]) unless said otherwise.
struct KvLayout {
  int64_t head_stride = 0, row_stride = 0;
  static KvLayout rows(const AttentionParams& p) { return {p.head_dim, int64_t(p.kv_heads) * p.head_dim}; }
  // [kv head][position][dim] for `capacity` positions: each head's rows one contiguous run
  static KvLayout heads(const AttentionParams& p, int64_t capacity) { return {capacity * p.head_dim, p.head_dim}; }
};

// Causal attention for `rows` queries at positions first_position.. over cached keys/values
// [0, first_position + rows); GQA maps query head h to kv head h / (heads / kv_heads).
// Softmax in float32 with the running-max trick.
void causal_attention(const Kernels& k, ThreadPool& pool, const float* q, int64_t rows, const float* keys, const float* values,
                      int64_t first_position, const AttentionParams& params, float* out);
void causal_attention(const Kernels& k, ThreadPool& pool, const float* q, int64_t rows, const float* keys, const float* values,
                      KvLayout layout, int64_t first_position, const AttentionParams& params, float* out);
// Frees the scratch causal_attention keeps on the calling thread between calls.
void release_attention_scratch();

}  // namespace salut::backend::cpu
