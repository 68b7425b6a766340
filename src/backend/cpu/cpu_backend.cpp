// The CPU backend: activations in host memory (f32), weights read in place from the mapped
// safetensors files (no second copy), kernels chosen for this CPU (cpu/kernels.h), ops shared
// between the threads of a pool (cpu/thread_pool.h).

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/quantized_matmul.h"
#include "backend/cpu/thread_pool.h"
#include "core/error.h"
#include "weights/quantization.h"

namespace salut::backend {
namespace {

using cpu::CpuLinear;

// Elementwise work below this many values stays on the calling thread.
constexpr int64_t kMinParallelValues = 1 << 15;

const CpuLinear& linear_of(const LinearWeights& w) { return *static_cast<const CpuLinear*>(w.impl.get()); }
const float* vector_of(const VectorWeights& w) { return static_cast<const std::vector<float>*>(w.impl.get())->data(); }

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads) : kernels_(cpu::active_kernels()), pool_(threads) {}

  std::string name() const override { return fmt::format("cpu ({}, {} threads)", kernels_.name, pool_.threads()); }

  Tensor alloc(int64_t rows, int64_t cols) override {
    Tensor t;
    t.rows = rows;
    t.cols = cols;
    // 64-byte aligned for the SIMD kernels; zeroed so a reader never sees garbage.
    const size_t bytes = ((static_cast<size_t>(rows * cols) * sizeof(float) + 63) / 64) * 64;
    t.data = static_cast<float*>(std::aligned_alloc(64, std::max<size_t>(bytes, 64)));
    if (t.data == nullptr) throw Error(Errc::internal, fmt::format("out of memory allocating {} bytes", bytes));
    std::memset(t.data, 0, bytes);
    return t;
  }

  void free(Tensor& tensor) override {
    std::free(tensor.data);
    tensor = Tensor{};
  }

  void write_rows(Tensor& dst, int64_t first_row, const float* host, int64_t rows) override {
    std::memcpy(dst.data + first_row * dst.cols, host, static_cast<size_t>(rows * dst.cols) * sizeof(float));
  }
  void read_rows(const Tensor& src, int64_t first_row, int64_t rows, float* host) override {
    std::memcpy(host, src.data + first_row * src.cols, static_cast<size_t>(rows * src.cols) * sizeof(float));
  }
  void copy_rows(const Tensor& src, int64_t src_row, Tensor& dst, int64_t dst_row, int64_t rows) override {
    std::memcpy(dst.data + dst_row * dst.cols, src.data + src_row * src.cols,
                static_cast<size_t>(rows * src.cols) * sizeof(float));
  }
  void synchronize() override {}
  int32_t argmax(const Tensor& row) override {
    return int32_t(std::max_element(row.data, row.data + row.cols) - row.data);
  }
  int32_t draw(Tensor& row, const TokenDraw& draw) override {
    return draw_token({row.data, size_t(row.cols)}, draw, draw_weights_, kernels_.exp_shifted);
  }
  void release_thread_scratch() override {
    cpu::release_thread_scratch();
    cpu::release_attention_scratch();
    Backend::release_thread_scratch();
  }

  LinearWeights load_linear(const weights::LinearView& view) override {
    auto impl = std::make_shared<CpuLinear>(CpuLinear::from_view(view));
    return LinearWeights{view.out_features, view.in_features, impl};
  }

  VectorWeights load_vector(const weights::TensorView& view) override {
    VectorWeights w;
    w.size = view.numel();
    w.impl = std::make_shared<std::vector<float>>(float_values(view));
    return w;
  }

  LinearWeights slice_rows(const LinearWeights& weights, int64_t first, int64_t count) override {
    auto impl = std::make_shared<CpuLinear>(linear_of(weights).rows(first, count));
    return LinearWeights{count, weights.in_features, impl};
  }

  void embed(const LinearWeights& table, std::span<const int32_t> ids, Tensor& out) override {
    const CpuLinear& t = linear_of(table);
    pool_.run_range(int64_t(ids.size()), 16, [&](int64_t first, int64_t last) {
      for (int64_t i = first; i < last; ++i) t.dequantize_row(ids[size_t(i)], out.data + i * out.cols);
    });
  }

  void rms_norm(const Tensor& x, const VectorWeights& weight, float eps, Tensor& out) override {
    cpu::rms_norm_rows(kernels_, pool_, x.data, x.rows, x.cols, vector_of(weight), eps, out.data);
  }

  void rms_norm_heads(Tensor& x, int head_dim, const VectorWeights& weight, float eps) override {
    cpu::rms_norm_rows(kernels_, pool_, x.data, x.size() / head_dim, head_dim, vector_of(weight), eps, x.data);
  }

  void linear(const Tensor& x, const LinearWeights& weights, Tensor& out) override {
    cpu::linear(kernels_, pool_, x.data, x.rows, linear_of(weights), out.data);
  }

  void linear_many(const Tensor& x, std::span<const LinearWeights* const> weights,
                   std::span<Tensor* const> outs) override {
    std::vector<const cpu::CpuLinear*> layers;
    std::vector<float*> out_data;
    for (size_t i = 0; i < weights.size(); ++i) {
      layers.push_back(&linear_of(*weights[i]));
      out_data.push_back(outs[i]->data);
    }
    cpu::linear_many(kernels_, pool_, x.data, x.rows, layers, out_data);
  }

  void add_bias(Tensor& x, const VectorWeights& bias) override {
    const float* b = vector_of(bias);
    pool_.run_range(x.rows, std::max<int64_t>(1, kMinParallelValues / x.cols), [&](int64_t first, int64_t last) {
      for (int64_t r = first; r < last; ++r)
        for (int64_t c = 0; c < x.cols; ++c) x.data[r * x.cols + c] += b[c];
    });
  }

  void add(Tensor& x, const Tensor& y) override {
    pool_.run_range(x.size(), kMinParallelValues, [&](int64_t first, int64_t last) {
      for (int64_t i = first; i < last; ++i) x.data[i] += y.data[i];
    });
  }

  void swiglu(const Tensor& gate, const Tensor& up, Tensor& out) override {
    cpu::swiglu(kernels_, pool_, gate.data, up.data, gate.size(), out.data);
  }

  void rope(Tensor& x, int heads, int head_dim, const RopeParams& rope, int64_t first_position) override {
    rope_table_.prepare(rope, first_position, x.rows);
    cpu::rope_rows(pool_, x.data, x.rows, heads, head_dim, rope, rope_table_);
  }

  // The cache is head-major ([kv head][position][dim], cpu::KvLayout::heads): a decode chunk reads
  // one head's rows as one contiguous run, which the hardware prefetcher streams (row-major, a
  // head's share of each row is a short run it does not follow: salut_kernels_bench
  // DecodeAttention 5.5-8 -> 8.3-10 GB/s).
  void attention(const Tensor& q, const Tensor& k, const Tensor& v, KvLayer& cache, int64_t first_position,
                 const AttentionParams& params, Tensor& out) override {
    const int64_t capacity = cache.keys.rows, hd = params.head_dim;
    for (auto [from, to] : {std::pair{&k, &cache.keys}, std::pair{&v, &cache.values}})
      for (int64_t r = 0; r < from->rows; ++r)
        for (int h = 0; h < params.kv_heads; ++h)
          std::memcpy(to->data + (h * capacity + first_position + r) * hd, from->data + r * from->cols + h * hd,
                      size_t(hd) * sizeof(float));
    cpu::causal_attention(kernels_, pool_, q.data, q.rows, cache.keys.data, cache.values.data,
                          cpu::KvLayout::heads(params, capacity), first_position, params, out.data);
  }
  // Growing the cache: each head's rows move to where the new capacity puts them.
  void copy_kv(const KvLayer& src, KvLayer& dst, int64_t rows, int kv_heads) override {
    const int64_t head_dim = src.keys.cols / kv_heads;
    for (auto [from, to] : {std::pair{&src.keys, &dst.keys}, std::pair{&src.values, &dst.values}})
      for (int h = 0; h < kv_heads; ++h)
        std::memcpy(to->data + h * to->rows * head_dim, from->data + h * from->rows * head_dim,
                    size_t(rows * head_dim) * sizeof(float));
  }

 private:
  const cpu::Kernels& kernels_;
  cpu::ThreadPool pool_;
  cpu::RopeTable rope_table_;  // shared by every layer of a forward pass
  std::vector<float> draw_weights_;  // draw_token's scratch (a vocabulary's floats), kept between draws
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int threads) { return std::make_unique<CpuBackend>(threads); }

}  // namespace salut::backend
