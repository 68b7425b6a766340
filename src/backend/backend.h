#pragma once
// The one interface every compute backend implements (CPU now, CUDA next). The shared
// transformer (src/model) is written once against it; a backend owns its memory (host or
// device) and the layout of the weights it was handed.
//
// Activations are 2-D: [tokens, features], row-major. Every op is enqueued in order; only
// read_rows() and synchronize() wait for the device.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend/token_draw.h"

namespace salut::weights {
struct LinearView;
struct TensorView;
}  // namespace salut::weights

namespace salut::backend {

// A buffer of f32 activations owned by a backend.
struct Tensor {
  float* data = nullptr;  // host or device address, by backend
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t size() const { return rows * cols; }
  // Rows [first, first + count) as a tensor of their own (same memory).
  Tensor rows_view(int64_t first, int64_t count) const { return {data + first * cols, count, cols}; }
};

// A linear layer's weights as a backend keeps them: opaque to the model.
struct LinearWeights {
  int64_t out_features = 0;
  int64_t in_features = 0;
  std::shared_ptr<const void> impl;  // backend-specific
  explicit operator bool() const { return impl != nullptr; }
};

// A norm weight or bias as the f32 values a backend keeps; throws salut::Error (not_a_model)
// naming the tensor unless it holds floats.
std::vector<float> float_values(const weights::TensorView& view);

// A small per-feature vector (norm weight, bias), kept as f32.
struct VectorWeights {
  int64_t size = 0;
  std::shared_ptr<const void> impl;
  explicit operator bool() const { return impl != nullptr; }
};

// Rotary embedding as data: inverse frequencies for each rotated pair, plus an input scale
// (phi3's longrope mscale). Every RoPE variant mlx-lm knows reduces to this.
struct RopeParams {
  int rotary_dim = 0;                 // the leading head dims that rotate (partial rotary)
  bool traditional = false;           // interleaved pairs instead of rotate-half
  std::vector<float> inv_freq;        // rotary_dim / 2 entries: angle = position * inv_freq[i]
  float input_scale = 1.0f;           // multiplies the rotated dims before rotation
};

struct AttentionParams {
  int heads = 0;
  int kv_heads = 0;
  int head_dim = 0;
  float scale = 0;  // usually head_dim^-0.5
};

// Keys and values of one layer for one sequence: [capacity, kv_heads * head_dim] each, in the
// backend's own element type (f32 on the CPU, f16 on CUDA): only the backend reads them.
struct KvLayer {
  Tensor keys;
  Tensor values;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // Memory.
  virtual Tensor alloc(int64_t rows, int64_t cols) = 0;
  virtual void free(Tensor& tensor) = 0;
  virtual void write_rows(Tensor& dst, int64_t first_row, const float* host, int64_t rows) = 0;
  virtual void read_rows(const Tensor& src, int64_t first_row, int64_t rows, float* host) = 0;
  virtual void copy_rows(const Tensor& src, int64_t src_row, Tensor& dst, int64_t dst_row, int64_t rows) = 0;
  virtual void synchronize() = 0;
  // The index of the largest value of a one-row tensor (the first of equal ones): greedy
  // sampling without copying the logits out.
  virtual int32_t argmax(const Tensor& row) {
    std::vector<float> host(size_t(row.cols));
    read_rows(row, 0, 1, host.data());
    return int32_t(std::max_element(host.begin(), host.end()) - host.begin());
  }
  // One token drawn from a one-row tensor of logits as `draw` says (token_draw.h), the row
  // adjusted in place; only the token comes back. This default draws on a host copy and writes
  // the adjusted row back.
  virtual int32_t draw(Tensor& row, const TokenDraw& draw) {
    std::vector<float> host(size_t(row.cols)), scratch;
    read_rows(row, 0, 1, host.data());
    const int32_t token = draw_token(host, draw, scratch);
    if (!draw.adjustments.empty()) write_rows(row, 0, host.data(), 1);
    return token;
  }
  // Frees the scratch memory the calling thread holds for this kind of backend (call it on the
  // thread that ran the ops, when unloading). Overrides call this one too (host draws).
  virtual void release_thread_scratch() { release_draw_scratch(); }

  // The KV cache of `layers` layers for one sequence: keys and values of [capacity, width] each.
  // A backend that does not grow it (fixed device addresses: CUDA graphs) gets the whole context
  // at once, and may hold every layer in one allocation (free_kv frees what alloc_kv made).
  virtual std::vector<KvLayer> alloc_kv(int layers, int64_t capacity, int64_t width) {
    std::vector<KvLayer> cache(static_cast<size_t>(layers));
    for (auto& layer : cache) layer = {alloc(capacity, width), alloc(capacity, width)};
    return cache;
  }
  virtual void free_kv(std::vector<KvLayer>& cache) {
    for (auto& layer : cache) {
      free(layer.keys);
      free(layer.values);
    }
    cache.clear();
  }
  // The first `rows` positions of a layer of `kv_heads` heads into a bigger one (growth), in
  // the backend's own layout.
  virtual void copy_kv(const KvLayer& src, KvLayer& dst, int64_t rows, int kv_heads) = 0;
  virtual int kv_value_bytes() const { return 4; }
  // Prompt tokens per forward pass: bigger chunks amortise reading the weights once per chunk.
  virtual int64_t prefill_chunk() const { return 512; }
  virtual bool grows_kv() const { return true; }

  // Runs `step`, a decode step's ops: the same ops on the same buffers at every position (the
  // position is read on the device), so a backend may record them once per `key` and replay the
  // recording (CUDA graphs). A new key records anew; key 0 never records. The CPU just runs it.
  virtual void run_step(uint64_t key, int64_t first_position, const std::function<void()>& step) {
    (void)key;
    (void)first_position;
    step();
  }

  // Weights, handed over once at load. The views point into the mapped safetensors files,
  // which outlive the backend's use of them.
  virtual LinearWeights load_linear(const weights::LinearView& view) = 0;
  virtual VectorWeights load_vector(const weights::TensorView& view) = 0;
  // Rows [first, first + count) of a linear layer's output dimension, as a layer of its own
  // (phi3's fused qkv_proj / gate_up_proj are split this way at load).
  virtual LinearWeights slice_rows(const LinearWeights& weights, int64_t first, int64_t count) = 0;

  // Ops. `out` never aliases an input unless stated.
  virtual void embed(const LinearWeights& table, std::span<const int32_t> ids, Tensor& out) = 0;
  virtual void rms_norm(const Tensor& x, const VectorWeights& weight, float eps, Tensor& out) = 0;  // may alias
  // RMSNorm of each `head_dim` slice of every row (qwen3's q_norm/k_norm), in place.
  virtual void rms_norm_heads(Tensor& x, int head_dim, const VectorWeights& weight, float eps) = 0;
  virtual void linear(const Tensor& x, const LinearWeights& weights, Tensor& out) = 0;  // out = x·Wᵀ
  // Several layers of one input (q/k/v, gate/up): outs[i] = x·W_iᵀ. A backend may run them as
  // one job (one pass of its threads, x prepared once); this default runs them one by one.
  virtual void linear_many(const Tensor& x, std::span<const LinearWeights* const> weights,
                           std::span<Tensor* const> outs) {
    for (size_t i = 0; i < weights.size(); ++i) linear(x, *weights[i], *outs[i]);
  }
  // residual += x·Wᵀ (the projection that ends a block). `product` has the shape of the product,
  // for this default, which computes it first; a backend may add it into residual directly.
  virtual void linear_add(const Tensor& x, const LinearWeights& weights, Tensor& product, Tensor& residual) {
    linear(x, weights, product);
    add(residual, product);
  }
  // out = silu(x·Gᵀ) ⊙ (x·Uᵀ), an MLP's gated half; gate_out and up_out have the products' shape
  // (out may be gate_out). This default runs the products, then the SwiGLU; a backend may fuse them.
  virtual void gated_linear(const Tensor& x, const LinearWeights& gate, const LinearWeights& up, Tensor& gate_out,
                            Tensor& up_out, Tensor& out) {
    const LinearWeights* weights[] = {&gate, &up};
    Tensor* outs[] = {&gate_out, &up_out};
    linear_many(x, weights, outs);
    swiglu(gate_out, up_out, out);
  }
  // Both rotations of a layer (q's and k's heads); a backend may do them in one pass.
  virtual void rope_qk(Tensor& q, Tensor& k, int heads, int kv_heads, int head_dim, const RopeParams& rope,
                       int64_t first_position) {
    this->rope(q, heads, head_dim, rope, first_position);
    this->rope(k, kv_heads, head_dim, rope, first_position);
  }
  virtual void add_bias(Tensor& x, const VectorWeights& bias) = 0;
  virtual void add(Tensor& x, const Tensor& y) = 0;  // x += y
  virtual void swiglu(const Tensor& gate, const Tensor& up, Tensor& out) = 0;  // silu(gate) * up; may alias gate
  // Rotates each head of every row in place; row r is at position first_position + r.
  virtual void rope(Tensor& x, int heads, int head_dim, const RopeParams& rope, int64_t first_position) = 0;
  // Appends k and v rows at position `first_position`, then causal attention of q's rows
  // (positions first_position + r) over the cache's first first_position + q.rows entries.
  virtual void attention(const Tensor& q, const Tensor& k, const Tensor& v, KvLayer& cache, int64_t first_position,
                         const AttentionParams& params, Tensor& out) = 0;
  // rope_qk, then attention: one step, so that a backend may rotate the keys as it appends them
  // (q and k are left rotated or not).
  virtual void rope_attention(Tensor& q, Tensor& k, const Tensor& v, KvLayer& cache, int64_t first_position,
                              const RopeParams& rope, const AttentionParams& params, Tensor& out) {
    rope_qk(q, k, params.heads, params.kv_heads, params.head_dim, rope, first_position);
    attention(q, k, v, cache, first_position, params, out);
  }
};

// The CPU backend (always available).
std::unique_ptr<Backend> make_cpu_backend(int threads = 0);

// The CUDA backend on GPU `device`; throws salut::Error (unavailable) when this build has no CUDA
// or the machine no such GPU.
std::unique_ptr<Backend> make_cuda_backend(int device = 0);

}  // namespace salut::backend
