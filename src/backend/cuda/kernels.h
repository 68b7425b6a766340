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

// To be called after every memcpy/memset into the stream: the next kernel then starts only once
// it is done (kernels otherwise start early, behind the kernel before them: launch.cuh).
void after_copy();

// y [x_rows, w.rows] = x [x_rows, w.cols] · Wᵀ for a quantized w in MLX's row layout, reading
// every weight once per activation row: decode for the formats without a tiled path.
void quantized_matvec(const PackedMatrix& w, const float* x, int64_t x_rows, float* y, cudaStream_t stream);

// Affine 4/8-bit layers (groups of 32/64/128, f32/f16/bf16 scales, rows a multiple of 16) are
// kept in 16-row tiles for the tensor-core matvec (tiled_matvec.cu).
// The weights, scales and biases keep their sizes.
bool can_tile(const PackedMatrix& w);
// w's description once its bytes are tiled into these buffers (each the size of w's own).
PackedMatrix tiled_layout(const PackedMatrix& w, const std::byte* weight, const std::byte* scales,
                          const std::byte* biases);
// w's description in MLX's row layout in the given buffers.
PackedMatrix rows_layout(const PackedMatrix& w, const std::byte* weight, const std::byte* scales,
                         const std::byte* biases);
// Moves every byte of `from` to where `to` (the same matrix in another layout) keeps it.
void relayout(const PackedMatrix& from, const PackedMatrix& to, cudaStream_t stream);
// ys[i] [x_rows, W_i.rows] = x · W_iᵀ (or += with `accumulate`) for tiled layers of one input (up to
// 3: q/k/v, gate/up) that can_share_tiled. `scratch` holds tiled_scratch_bytes(cols, group_size):
// x's prepared form (f16 fragments), made there first unless `x_prepared` says a producer below
// left it there.
bool can_share_tiled(std::span<const PackedMatrix* const> layers);
size_t tiled_scratch_bytes(int64_t cols, int group_size);
// Activation rows one pass of the tiled matvec takes; after a product of up to this many, the
// scratch still holds x prepared.
constexpr int64_t kTiledRowsPerPass = 4;
// Products of at least this many weight bytes run as the streamed matvec, smaller ones as the
// tiled kernel (tiled_matvec.cu says why). The tests lower it to run both on small layers.
constexpr size_t kStreamedMinBytes = size_t(20) << 20;
void set_streamed_min_bytes(size_t bytes);
struct TiledOptions {
  bool x_prepared = false;
  bool accumulate = false;
};
void tiled_matvec(std::span<const PackedMatrix* const> layers, const float* x, int64_t x_rows,
                  std::span<float* const> ys, void* scratch, cudaStream_t stream, TiledOptions options = {});
// h [x_rows, gate.rows] = silu(x · Gᵀ) ⊙ (x · Uᵀ) in one streamed pass over both layers (an MLP's
// gated half), h left prepared in h_scratch for a next product of the same format; no SwiGLU
// kernel between the products. `arrivals` holds gated_arrival_bytes, zero before the first call
// (each call leaves it zero). Returns false, doing nothing, for layers it does not take (not
// tiled alike, too small to stream, more than kTiledRowsPerPass rows): the caller then runs the parts.
bool gated_matvec(const PackedMatrix& gate, const PackedMatrix& up, const float* x, int64_t x_rows, void* x_scratch,
                  bool x_prepared, float* h, void* h_scratch, unsigned* arrivals, cudaStream_t stream);
size_t gated_arrival_bytes(int64_t rows, int group_size);
// Producers that also leave their output prepared in `scratch` for tiled layers of (bits,
// group_size), when can_prepare (up to 4 rows): one launch fewer per product.
bool can_prepare(int64_t rows, int64_t cols, int group_size);
void rms_norm_prepared(const float* x, int64_t rows, int64_t cols, const float* weight, float eps, float* out, int bits,
                       int group_size, void* scratch, cudaStream_t stream);
void swiglu_prepared(const float* gate, const float* up, int64_t rows, int64_t cols, float* out, int bits,
                     int group_size, void* scratch, cudaStream_t stream);

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
// The index of x's largest value (the first of equals): argmax leaves a key in device memory,
// argmax_index reads the index out of it once it is copied to the host.
void argmax(const float* x, int64_t n, unsigned long long* key, cudaStream_t stream);
int32_t argmax_index(unsigned long long key);
// A token drawn from x [n] (adjusted in place) as backend/token_draw.h's draw_token would, by one
// block: its index at *token. `adjustments` in device memory.
struct DrawParams {
  float temperature = 1;
  float top_p = 1;
  float min_p = 0;
  int top_k = 0;
  double uniform = 0;
};
size_t draw_scratch_bytes();
void draw(float* x, int64_t n, const LogitAdjustment* adjustments, int adjustment_count, const DrawParams& params,
          int32_t* token, void* scratch, cudaStream_t stream);
// *target = value, in stream order.
void set_value(int64_t* target, int64_t value, cudaStream_t stream);

void rms_norm(const float* x, int64_t rows, int64_t cols, const float* weight, float eps, float* out,
              cudaStream_t stream);
void add_bias(float* x, int64_t rows, int64_t cols, const float* bias, cudaStream_t stream);
void add(float* x, const float* y, int64_t n, cudaStream_t stream);
void swiglu(const float* gate, const float* up, int64_t n, float* out, cudaStream_t stream);

// Rotates every head of each row of x [rows, heads * head_dim] in place, then those of x2 (null,
// or a second tensor of heads2 heads: q and k in one launch); row r is at position
// *first_position + r (read on the device, so that a captured decode step replays at the next
// position).
void rope(float* x, int heads, float* x2, int heads2, int64_t rows, int head_dim, int rotary_dim, bool traditional,
          const float* inv_freq, float input_scale, const int64_t* first_position, cudaStream_t stream);

// Attention over an f16 cache [capacity, kv_heads * head_dim]: appends k and v at
// *first_position, then causal attention of q's rows. `scratch` holds partial results of decode's
// split-K pass: attention_scratch_floats() of them, zero when first handed over (decode counts
// there, and leaves it zero). With `rotation`, q and k (as it is appended) are rotated first, as
// rope() would; q is left rotated or not.
// Whether the kernels take these heads: head_dim even and up to 256, up to 16 query heads per KV head.
bool attention_supports(const AttentionParams& p);
int64_t attention_scratch_floats(const AttentionParams& p);
struct Rotation {
  int rotary_dim = 0;
  bool traditional = false;
  const float* inv_freq = nullptr;  // on the device
  float input_scale = 1.0f;
};
void attention(float* q, const float* k, const float* v, int64_t rows, void* keys, void* values,
               int64_t capacity, const int64_t* first_position, int64_t host_first_position, const AttentionParams& p, float* out,
               float* scratch, const Rotation* rotation, cudaStream_t stream);

}  // namespace salut::backend::cuda
