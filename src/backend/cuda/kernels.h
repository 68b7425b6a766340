#pragma once
// The CUDA backend's kernels, as host functions that enqueue them on a stream. Written by hand
// for MLX's formats (no library decodes them); cuBLAS does the dense products (cuda_backend.cpp).
// Activations are f32 [rows, cols] row-major in device memory; the KV cache holds f16.

#include <cuda_runtime.h>

#include <cstdint>
#include <span>

#include "backend/backend.h"
#include "backend/packed_matrix.h"

namespace salut::backend::cuda {

// y [x_rows, w.rows] = x [x_rows, w.cols] · Wᵀ for a quantized w in MLX's row layout, reading
// every weight once per activation row: decode for the formats without a tiled path.
void quantized_matvec(const PackedMatrix& w, const float* x, int64_t x_rows, float* y, cudaStream_t stream);

// Affine 4/8-bit layers (groups of 32/64/128, f32/f16/bf16 scales, rows a multiple of 16) are
// kept in 16-row tiles for the tensor-core matvec (tiled_matvec.cu).
bool can_tile(const PackedMatrix& w);
size_t tiled_bytes(const PackedMatrix& w);
// w's description once its bytes are tiled into `memory` (tiled_bytes(w) of them).
PackedMatrix tiled_layout(const PackedMatrix& w, const std::byte* memory);
// w's description in MLX's row layout in the given buffers.
PackedMatrix rows_layout(const PackedMatrix& w, const std::byte* weight, const std::byte* scales,
                         const std::byte* biases);
// Moves every byte of `from` to where `to` (the same matrix in another layout) keeps it.
void relayout(const PackedMatrix& from, const PackedMatrix& to, cudaStream_t stream);
// ys[i] [x_rows, W_i.rows] = x · W_iᵀ for tiled layers of one input (up to 3: q/k/v, gate/up) that
// can_share_tiled; `scratch` holds tiled_matvec_scratch_bytes(*layers[0]).
bool can_share_tiled(std::span<const PackedMatrix* const> layers);
size_t tiled_matvec_scratch_bytes(const PackedMatrix& w);
void tiled_matvec(std::span<const PackedMatrix* const> layers, const float* x, int64_t x_rows,
                  std::span<float* const> ys, void* scratch, cudaStream_t stream);

// W [w.rows, w.cols] for prefill's cuBLAS products: each value computed in f32 exactly as
// weights::dequantize_row does, then stored as f32 or rounded to f16.
enum class Dequantized { f32, f16 };
void dequantize(const PackedMatrix& w, Dequantized type, void* out, cudaStream_t stream);
// The same for a tiled w, of rows ids[i] (or rows 0..count-1 when ids is null) into out [count, w.cols].
void dequantize_tiled(const PackedMatrix& w, const int32_t* ids, int64_t count, Dequantized type, void* out,
                      cudaStream_t stream);

// x [n] in f16 for the tensor cores, multiplied by 2^-e where 2^e (written to *scale) brings the
// largest |x| near 2^14: f16's range can then never clip an activation, and values far below
// the largest lose nothing that matters next to its rounding. `largest` is scratch for one word.
void to_f16_scaled(const float* x, int64_t n, void* out, float* scale, unsigned* largest, cudaStream_t stream);

// Rows ids[i] of w, dequantized to f32, into out [count, w.cols]: the embedding gather.
void dequantize_rows(const PackedMatrix& w, const int32_t* ids, int64_t count, float* out, cudaStream_t stream);

// Rows ids[i] of an f32 table [*, cols] into out [count, cols] (dense embeddings).
void gather_rows(const float* table, int64_t cols, const int32_t* ids, int64_t count, float* out, cudaStream_t stream);
// *out = the index of x's largest value (the first of equals).
void argmax(const float* x, int64_t n, int32_t* out, cudaStream_t stream);
// *target = value, in stream order.
void set_value(int64_t* target, int64_t value, cudaStream_t stream);

void rms_norm(const float* x, int64_t rows, int64_t cols, const float* weight, float eps, float* out,
              cudaStream_t stream);
void add_bias(float* x, int64_t rows, int64_t cols, const float* bias, cudaStream_t stream);
void add(float* x, const float* y, int64_t n, cudaStream_t stream);
void swiglu(const float* gate, const float* up, int64_t n, float* out, cudaStream_t stream);

// Rotates every head of each row in place; row r is at position *first_position + r (read on the
// device, so that a captured decode step replays at the next position).
void rope(float* x, int64_t rows, int heads, int head_dim, int rotary_dim, bool traditional, const float* inv_freq,
          float input_scale, const int64_t* first_position, cudaStream_t stream);

// Attention over an f16 cache [capacity, kv_heads * head_dim]: appends k and v at
// *first_position, then causal attention of q's rows. `scratch` holds partial results of decode's
// split-K pass: attention_scratch_floats() of them.
// Whether the kernels take these heads: head_dim even and up to 256, up to 16 query heads per KV head.
bool attention_supports(const AttentionParams& p);
int64_t attention_scratch_floats(const AttentionParams& p);
void attention(const float* q, const float* k, const float* v, int64_t rows, void* keys, void* values,
               int64_t capacity, const int64_t* first_position, int64_t host_first_position, const AttentionParams& p, float* out,
               float* scratch, cudaStream_t stream);

}  // namespace salut::backend::cuda
