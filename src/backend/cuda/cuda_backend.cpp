// The CUDA backend: weights copied once into device memory, one arena per model (MLX's bytes,
// affine 4/8-bit layers moved into 16-row tiles for the tensor-core matvec, never changed),
// activations in f32, the KV cache in f16 and allocated for the whole context at once. Decode
// runs the hand-written matvecs (tiled_matvec.cu, quantized.cu), recorded once as a CUDA graph
// and replayed; prefill dequantizes a layer to f16 and multiplies with cuBLAS on the tensor cores
// (f32 sums).

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <vector>

#include "backend/backend.h"
#include "backend/cuda/device_memory.h"
#include "backend/cuda/kernels.h"
#include "backend/device.h"
#include "backend/packed_matrix.h"
#include "core/error.h"
#include "weights/quantization.h"

namespace salut::backend {
namespace {

using cuda::check;
using cuda::DeviceBuffer;

void check(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) throw Error(Errc::internal, fmt::format("cuBLAS: {} failed (status {})", what, int(status)));
}

// The tiled format (bits, group size) of the loaded model's layers when they all share one: RMSNorm
// and SwiGLU then hand their output over prepared for the next product. Counted per live layer,
// so that the next model starts afresh.
struct TiledFormat {
  int live = 0;
  int bits = 0, group = 0;
  bool differ = false;
  void add(const PackedMatrix& m) {
    if (live++ == 0) bits = m.bits, group = m.group_size, differ = false;
    else if (bits != m.bits || group != m.group_size) differ = true;
  }
  void remove() {
    if (--live == 0) bits = group = 0, differ = false;
  }
  bool shared() const { return live > 0 && !differ; }
};

// A linear layer on the device: the matrix as the kernels read it, pointing into buffers that
// slices of it (phi3's fused projections) share.
struct CudaLinear {
  PackedMatrix matrix;
  std::shared_ptr<DeviceBuffer> weight, scales, biases;
  std::shared_ptr<TiledFormat> format;  // tiled layers: counted in their backend's
  CudaLinear() = default;
  CudaLinear(const CudaLinear& other)  // a slice: counted as a layer of its own
      : matrix(other.matrix), weight(other.weight), scales(other.scales), biases(other.biases), format(other.format) {
    if (format) ++format->live;
  }
  CudaLinear& operator=(const CudaLinear&) = delete;
  ~CudaLinear() {
    if (format) format->remove();
  }
};

const CudaLinear& linear_of(const LinearWeights& w) { return *static_cast<const CudaLinear*>(w.impl.get()); }
const float* vector_of(const VectorWeights& w) { return static_cast<const float*>(static_cast<const DeviceBuffer*>(w.impl.get())->data); }

// Copies host bytes to device memory through two pinned staging buffers, so that reading
// the next piece of the mapped file overlaps the copy of the previous one.
class Uploader {
 public:
  explicit Uploader(cudaStream_t stream) : stream_(stream) {
    for (auto& slot : slots_) {
      check(cudaMallocHost(&slot.host, kSlotBytes), "cudaMallocHost");
      check(cudaEventCreateWithFlags(&slot.done, cudaEventDisableTiming), "cudaEventCreate");
    }
  }
  ~Uploader() {
    cudaStreamSynchronize(stream_);
    for (auto& slot : slots_) {
      cudaFreeHost(slot.host);
      cudaEventDestroy(slot.done);
    }
  }
  // Into device memory the caller owns (in this stream's order).
  void upload_into(void* device, const void* host, size_t bytes) {
    const auto* src = static_cast<const std::byte*>(host);
    for (size_t done = 0; done < bytes;) {
      Slot& slot = slots_[next_];
      next_ = (next_ + 1) % std::size(slots_);
      check(cudaEventSynchronize(slot.done), "cudaEventSynchronize");  // its previous copy has finished
      const size_t n = std::min(kSlotBytes, bytes - done);
      std::memcpy(slot.host, src + done, n);
      check(cudaMemcpyAsync(static_cast<std::byte*>(device) + done, slot.host, n, cudaMemcpyHostToDevice, stream_),
            "cudaMemcpyAsync");
      cuda::after_copy();
      check(cudaEventRecord(slot.done, stream_), "cudaEventRecord");
      done += n;
    }
  }

 private:
  static constexpr size_t kSlotBytes = size_t(16) << 20;
  struct Slot {
    void* host = nullptr;
    cudaEvent_t done = nullptr;
  };
  cudaStream_t stream_;
  Slot slots_[2];
  size_t next_ = 0;
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) {
    check(cudaSetDevice(device), "cudaSetDevice");
    cudaDeviceProp props{};
    check(cudaGetDeviceProperties(&props, device), "cudaGetDeviceProperties");
    name_ = fmt::format("cuda:{} ({})", device, props.name);
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    check(cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    check(cublasCreate(&cublas_), "cublasCreate");
    check(cublasSetStream(cublas_, stream_), "cublasSetStream");
    check(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");  // f32 products stay f32
    // cuBLAS's own workspace, given up front: it must not allocate inside a recorded decode step
    cublas_workspace_ = std::make_unique<DeviceBuffer>(kCublasWorkspaceBytes);
    check(cublasSetWorkspace(cublas_, cublas_workspace_->data, cublas_workspace_->bytes), "cublasSetWorkspace");
    const char* graphs = std::getenv("SALUT_CUDA_GRAPHS");
    graphs_enabled_ = graphs == nullptr || std::string(graphs) != "0";
    position_ = std::make_unique<DeviceBuffer>(sizeof(int64_t));
    prefill_scalars_ = std::make_unique<DeviceBuffer>(4 * sizeof(float));
    const float scalars[4] = {1.0f, 0.0f, 0.0f, 1.0f};  // [scale, 0, largest, 1]
    check(cudaMemcpy(prefill_scalars_->data, scalars, sizeof(scalars), cudaMemcpyHostToDevice), "cudaMemcpy");
    check(cudaMallocHost(&ids_host_, kMaxIds * sizeof(int32_t)), "cudaMallocHost");
    ids_device_ = std::make_unique<DeviceBuffer>(kMaxIds * sizeof(int32_t));
    token_device_ = std::make_unique<DeviceBuffer>(sizeof(unsigned long long));
    check(cudaMallocHost(&token_host_, sizeof(unsigned long long)), "cudaMallocHost");
    adjustments_device_ = std::make_unique<DeviceBuffer>(kMaxAdjustments * sizeof(LogitAdjustment));
    check(cudaMallocHost(&adjustments_host_, kMaxAdjustments * sizeof(LogitAdjustment)), "cudaMallocHost");
    check(cudaEventCreateWithFlags(&ids_copied_, cudaEventDisableTiming), "cudaEventCreate");
    uploader_ = std::make_unique<Uploader>(copy_stream_);
    weights_ = cuda::WeightArena::create(device);
  }

  ~CudaBackend() override {
    cudaStreamSynchronize(stream_);
    forget_graphs();
    uploader_.reset();
    cublasDestroy(cublas_);
    cudaFreeHost(ids_host_);
    cudaFreeHost(token_host_);
    cudaFreeHost(adjustments_host_);
    cudaEventDestroy(ids_copied_);
    cudaStreamDestroy(copy_stream_);
    cudaStreamDestroy(stream_);
  }

  std::string name() const override { return name_; }

  // A decode step runs once as it is (scratch buffers and kernel settings are made then), is
  // recorded into a CUDA graph the second time, and replayed from then on: one launch per step
  // instead of one per op, and no host work in between.
  void run_step(uint64_t key, int64_t first_position, const std::function<void()>& step) override {
    set_position(first_position);  // outside the recording: the graph reads it from the device
    if (key == 0 || !graphs_enabled_) return step();
    if (graphs_.size() > kMaxGraphs && !graphs_.contains(key)) forget_graphs();
    StepGraph& g = graphs_[key];
    if (g.exec) {
      check(cudaGraphLaunch(g.exec, stream_), "cudaGraphLaunch");
      return;
    }
    if (!g.warmed) {
      g.warmed = true;
      return step();
    }
    cudaGraph_t graph = nullptr;
    check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    try {
      step();
    } catch (...) {
      cudaStreamEndCapture(stream_, &graph);
      if (graph) cudaGraphDestroy(graph);
      graphs_.erase(key);
      throw;
    }
    check(cudaStreamEndCapture(stream_, &graph), "cudaStreamEndCapture");
    const cudaError_t made = cudaGraphInstantiate(&g.exec, graph, 0);
    cudaGraphDestroy(graph);
    check(made, "cudaGraphInstantiate");
    check(cudaGraphLaunch(g.exec, stream_), "cudaGraphLaunch");
  }

  Tensor alloc(int64_t rows, int64_t cols) override {
    forget_prepared();
    Tensor t;
    t.rows = rows;
    t.cols = cols;
    const size_t bytes = std::max<size_t>(size_t(rows * cols) * sizeof(float), 1);
    check(cudaMalloc(reinterpret_cast<void**>(&t.data), bytes), "cudaMalloc");
    check(cudaMemsetAsync(t.data, 0, bytes, stream_), "cudaMemsetAsync");
    cuda::after_copy();
    return t;
  }

  void free(Tensor& tensor) override {
    forget_prepared();
    if (tensor.data) {
      cudaStreamSynchronize(stream_);  // no kernel may still use it
      forget_graphs();  // a recorded step may name this memory, and a new tensor may get its address
      cudaFree(tensor.data);
    }
    tensor = Tensor{};
  }

  // Every layer's keys and values in one allocation: cudaMalloc rounds each up to 2 MiB, which
  // for 64 buffers of a few MiB (an 8B model at a few thousand tokens) wasted ~120 MB.
  std::vector<KvLayer> alloc_kv(int layers, int64_t capacity, int64_t width) override {
    const size_t tensor_bytes = size_t(capacity * width) * 2;  // f16
    std::byte* all = nullptr;
    check(cudaMalloc(reinterpret_cast<void**>(&all), std::max<size_t>(tensor_bytes * 2 * size_t(layers), 1)),
          "cudaMalloc (KV cache)");
    std::vector<KvLayer> cache(static_cast<size_t>(layers));
    for (size_t i = 0; i < cache.size(); ++i) {
      cache[i].keys = {reinterpret_cast<float*>(all + 2 * i * tensor_bytes), capacity, width};
      cache[i].values = {reinterpret_cast<float*>(all + (2 * i + 1) * tensor_bytes), capacity, width};
    }
    return cache;
  }
  void free_kv(std::vector<KvLayer>& cache) override {
    if (!cache.empty()) {
      cudaStreamSynchronize(stream_);  // no kernel may still use it
      forget_graphs();  // a recorded step names this memory
      cudaFree(cache.front().keys.data);
    }
    cache.clear();
  }
  void copy_kv(const KvLayer& src, KvLayer& dst, int64_t rows, int) override {
    for (auto [from, to] : {std::pair{&src.keys, &dst.keys}, std::pair{&src.values, &dst.values}})
      check(cudaMemcpyAsync(to->data, from->data, size_t(rows * from->cols) * 2, cudaMemcpyDeviceToDevice, stream_),
            "cudaMemcpyAsync");
    cuda::after_copy();
  }
  int kv_value_bytes() const override { return 2; }
  int64_t prefill_chunk() const override { return 2048; }
  bool grows_kv() const override { return false; }

  void write_rows(Tensor& dst, int64_t first_row, const float* host, int64_t rows) override {
    forget_prepared();
    check(cudaMemcpyAsync(dst.data + first_row * dst.cols, host, size_t(rows * dst.cols) * sizeof(float),
                          cudaMemcpyHostToDevice, stream_),
          "cudaMemcpyAsync");
    cuda::after_copy();
    check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");  // `host` may go away after this returns
  }
  void read_rows(const Tensor& src, int64_t first_row, int64_t rows, float* host) override {
    check(cudaMemcpyAsync(host, src.data + first_row * src.cols, size_t(rows * src.cols) * sizeof(float),
                          cudaMemcpyDeviceToHost, stream_),
          "cudaMemcpyAsync");
    cuda::after_copy();
    check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  }
  void copy_rows(const Tensor& src, int64_t src_row, Tensor& dst, int64_t dst_row, int64_t rows) override {
    forget_prepared();
    check(cudaMemcpyAsync(dst.data + dst_row * dst.cols, src.data + src_row * src.cols,
                          size_t(rows * src.cols) * sizeof(float), cudaMemcpyDeviceToDevice, stream_),
          "cudaMemcpyAsync");
    cuda::after_copy();
  }
  void synchronize() override { check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize"); }

  int32_t argmax(const Tensor& row) override {
    auto* key = static_cast<unsigned long long*>(token_device_->data);
    cuda::argmax(row.data, row.cols, key, stream_);
    check(cudaMemcpyAsync(token_host_, key, sizeof(*key), cudaMemcpyDeviceToHost, stream_), "cudaMemcpyAsync");
    cuda::after_copy();
    synchronize();
    return cuda::argmax_index(*token_host_);
  }

  // The draw on the device (sampling.cu): the adjustments go in, only the token comes out.
  int32_t draw(Tensor& row, const TokenDraw& d) override {
    // SALUT_CUDA_HOST_DRAW=1 draws on a host copy instead (for measuring)
    static const bool on_host = [] {
      const char* v = std::getenv("SALUT_CUDA_HOST_DRAW");
      return v && std::string(v) == "1";
    }();
    if (on_host || d.adjustments.size() > kMaxAdjustments) return Backend::draw(row, d);
    std::copy(d.adjustments.begin(), d.adjustments.end(), adjustments_host_);  // the last draw's copy is done
    auto* adjustments = static_cast<LogitAdjustment*>(adjustments_device_->data);
    if (!d.adjustments.empty()) {
      check(cudaMemcpyAsync(adjustments, adjustments_host_, d.adjustments.size() * sizeof(LogitAdjustment),
                            cudaMemcpyHostToDevice, stream_),
            "cudaMemcpyAsync");
      cuda::after_copy();
    }
    const cuda::DrawParams params{d.temperature, d.top_p, d.min_p, d.top_k, d.uniform};
    auto* token = static_cast<int32_t*>(token_device_->data);
    if (!draw_scratch_) draw_scratch_ = std::make_unique<DeviceBuffer>(cuda::draw_scratch_bytes());
    cuda::draw(row.data, row.cols, adjustments, int(d.adjustments.size()), params, token, draw_scratch_->data, stream_);
    check(cudaMemcpyAsync(token_host_, token, sizeof(int32_t), cudaMemcpyDeviceToHost, stream_), "cudaMemcpyAsync");
    cuda::after_copy();
    synchronize();
    int32_t drawn;
    std::memcpy(&drawn, token_host_, sizeof(drawn));
    return drawn;
  }

  LinearWeights load_linear(const weights::LinearView& view) override {
    forget_graphs();  // a new model: steps recorded for the last one must never replay
    const PackedMatrix host = pack_view(view, 0, view.out_features);
    auto impl = std::make_shared<CudaLinear>();
    impl->matrix = host;
    if (!host.quantized()) {
      // Dense layers are kept as f32 (exact) for cuBLAS's f32 products.
      const std::vector<float> values = float_values(*view.weight);
      impl->weight = upload(values.data(), values.size() * sizeof(float));
      impl->matrix.format = WeightFormat::f32;
      impl->matrix.bits = 32;
      impl->matrix.weight_stride = size_t(host.cols) * sizeof(float);
    } else if (cuda::can_tile(host)) {
      // MLX's bytes go to a stream-ordered scratch (its own pool: freeing it leaves no holes among
      // the weights), then are re-laid into tiles for the tensor-core matvec
      const size_t weight_bytes = host.weight_stride * size_t(host.rows), scale_bytes = host.scale_stride * size_t(host.rows);
      std::byte* staging = nullptr;
      check(cudaMallocAsync(reinterpret_cast<void**>(&staging), weight_bytes + 2 * scale_bytes, copy_stream_),
            "cudaMallocAsync");
      uploader_->upload_into(staging, host.weight, weight_bytes);
      uploader_->upload_into(staging + weight_bytes, host.scales, scale_bytes);
      uploader_->upload_into(staging + weight_bytes + scale_bytes, host.biases, scale_bytes);
      impl->weight = weights_->allocate(weight_bytes);
      impl->scales = weights_->allocate(scale_bytes);
      impl->biases = weights_->allocate(scale_bytes);
      impl->matrix = cuda::tiled_layout(host, static_cast<const std::byte*>(impl->weight->data),
                                        static_cast<const std::byte*>(impl->scales->data),
                                        static_cast<const std::byte*>(impl->biases->data));
      cuda::relayout(cuda::rows_layout(host, staging, staging + weight_bytes, staging + weight_bytes + scale_bytes),
                     impl->matrix, copy_stream_);
      check(cudaFreeAsync(staging, copy_stream_), "cudaFreeAsync");
      impl->format = tiled_format_;
      tiled_format_->add(host);
      check(cudaStreamSynchronize(copy_stream_), "cudaStreamSynchronize");  // complete before any op reads it
      return LinearWeights{view.out_features, view.in_features, impl};
    } else {
      impl->weight = upload(host.weight, host.weight_stride * size_t(host.rows));
      impl->scales = upload(host.scales, host.scale_stride * size_t(host.rows));
      if (host.biases) impl->biases = upload(host.biases, host.scale_stride * size_t(host.rows));
      impl->matrix.scales = static_cast<const std::byte*>(impl->scales->data);
      impl->matrix.biases = impl->biases ? static_cast<const std::byte*>(impl->biases->data) : nullptr;
    }
    impl->matrix.weight = static_cast<const std::byte*>(impl->weight->data);
    impl->matrix.weight_end = impl->matrix.weight + impl->weight->bytes;
    check(cudaStreamSynchronize(copy_stream_), "cudaStreamSynchronize");  // complete before any op reads it
    return LinearWeights{view.out_features, view.in_features, impl};
  }

  VectorWeights load_vector(const weights::TensorView& view) override {
    const std::vector<float> values = float_values(view);
    auto buffer = upload(values.data(), values.size() * sizeof(float));
    check(cudaStreamSynchronize(copy_stream_), "cudaStreamSynchronize");  // complete before any op reads it
    VectorWeights w;
    w.size = view.numel();
    w.impl = buffer;
    return w;
  }

  LinearWeights slice_rows(const LinearWeights& weights, int64_t first, int64_t count) override {
    const CudaLinear& whole = linear_of(weights);
    if (first < 0 || count <= 0 || first + count > whole.matrix.rows)
      throw Error(Errc::not_a_model, fmt::format("rows [{}, {}) are outside a layer of {} outputs", first, first + count,
                                                 whole.matrix.rows));
    auto impl = std::make_shared<CudaLinear>(whole);
    const PackedMatrix& m = whole.matrix;
    if (m.layout == PackedLayout::tiles16 && (first % 16 != 0 || count % 16 != 0)) {
      // a cut through a tile: the tiles holding the slice go back to MLX's row layout, in buffers
      // of the slice's own (a few rows before it come along)
      const PackedMatrix from = m.row_range(first / 16 * 16, first % 16 + count);
      const size_t scale_bytes = size_t(from.rows) * size_t(m.cols / m.group_size) * 4;
      impl->weight = weights_->allocate(size_t(from.rows) * size_t(m.cols) * m.bits / 8);
      impl->scales = weights_->allocate(scale_bytes);
      impl->biases = weights_->allocate(scale_bytes);
      const PackedMatrix rows = cuda::rows_layout(from, static_cast<const std::byte*>(impl->weight->data),
                                                  static_cast<const std::byte*>(impl->scales->data),
                                                  static_cast<const std::byte*>(impl->biases->data));
      cuda::relayout(from, rows, stream_);
      check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
      impl->matrix = rows.row_range(first % 16, count);
      return LinearWeights{count, weights.in_features, impl};
    }
    impl->matrix = m.row_range(first, count);
    return LinearWeights{count, weights.in_features, impl};
  }

  void embed(const LinearWeights& table, std::span<const int32_t> ids, Tensor& out) override {
    forget_prepared();
    const PackedMatrix& m = linear_of(table).matrix;
    for (size_t done = 0; done < ids.size();) {
      const size_t n = std::min(ids.size() - done, kMaxIds);
      check(cudaEventSynchronize(ids_copied_), "cudaEventSynchronize");  // the pinned ids are free again
      std::memcpy(ids_host_, ids.data() + done, n * sizeof(int32_t));
      auto* ids_device = static_cast<int32_t*>(ids_device_->data);
      check(cudaMemcpyAsync(ids_device, ids_host_, n * sizeof(int32_t), cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync");
      cuda::after_copy();
      check(cudaEventRecord(ids_copied_, stream_), "cudaEventRecord");
      float* o = out.data + int64_t(done) * out.cols;
      if (m.quantized()) cuda::dequantize_rows(m, ids_device, int64_t(n), o, stream_);
      else cuda::gather_rows(reinterpret_cast<const float*>(m.weight), m.cols, ids_device, int64_t(n), o, stream_);
      // the kernel reads ids_device: the next chunk's copy must come after it (same stream)
      done += n;
    }
  }

  void rms_norm(const Tensor& x, const VectorWeights& weight, float eps, Tensor& out) override {
    forget_prepared();
    if (will_prepare(out)) {
      cuda::rms_norm_prepared(x.data, x.rows, x.cols, vector_of(weight), eps, out.data, tiled_format_->bits, tiled_format_->group,
                              matvec_scratch(out.cols), stream_);
      return note_prepared(out);
    }
    cuda::rms_norm(x.data, x.rows, x.cols, vector_of(weight), eps, out.data, stream_);
  }
  void rms_norm_heads(Tensor& x, int head_dim, const VectorWeights& weight, float eps) override {
    forget_prepared();
    cuda::rms_norm(x.data, x.size() / head_dim, head_dim, vector_of(weight), eps, x.data, stream_);
  }

  void linear(const Tensor& x, const LinearWeights& weights, Tensor& out) override { product(x, weights, out, false); }

  void linear_add(const Tensor& x, const LinearWeights& weights, Tensor& product_out, Tensor& residual) override {
    const PackedMatrix& m = linear_of(weights).matrix;
    if (!m.quantized() || (x.rows <= matvec_rows(m) && m.layout != PackedLayout::tiles16))
      return Backend::linear_add(x, weights, product_out, residual);
    product(x, weights, residual, true);
  }

  // out = x·Wᵀ, or out += x·Wᵀ when `accumulate` (quantized layers only).
  void product(const Tensor& x, const LinearWeights& weights, Tensor& out, bool accumulate) {
    const PackedMatrix& m = linear_of(weights).matrix;
    const float one = 1.0f, zero = 0.0f;
    if (!m.quantized()) {
      check(cublasSgemm(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, int(m.rows), int(x.rows), int(m.cols), &one,
                        reinterpret_cast<const float*>(m.weight), int(m.cols), x.data, int(x.cols), &zero, out.data,
                        int(out.cols)),
            "cublasSgemm");
      return;
    }
    if (x.rows <= matvec_rows(m)) {
      if (m.layout == PackedLayout::tiles16) {
        const PackedMatrix* layers[] = {&m};
        float* ys[] = {out.data};
        return tiled_product(layers, x, ys, accumulate);
      }
      return cuda::quantized_matvec(m, x.data, x.rows, out.data, stream_);
    }
    // Prefill: W dequantized to f16 a tile of rows at a time (the scratch stays small next to the
    // weights), x to f16 under one power-of-two scale (cuBLAS takes it back as alpha, read on the
    // device), products on the tensor cores with f32 sums. f16 keeps the 10-bit mantissa of TF32
    // (measured: as close to mlx-lm as TF32) at twice its rate; bf16 (7 bits) was measured at up to
    // 1.5% of the logit range off mlx-lm on the fixtures.
    auto* x16 = scratch(half_scratch_, size_t(x.rows * x.cols) * 2);
    auto* scalars = static_cast<float*>(prefill_scalars_->data);  // [scale, 0, largest, 1]
    cuda::to_f16_scaled(x.data, x.rows * x.cols, x16, scalars, reinterpret_cast<unsigned*>(scalars + 2), stream_);
    const int64_t tile = std::max<int64_t>(16, std::min<int64_t>(m.rows, kPrefillScratchBytes / (m.cols * 2)) / 16 * 16);
    auto* w16 = scratch(weight_scratch_, size_t(tile * m.cols) * 2);
    check(cublasSetPointerMode(cublas_, CUBLAS_POINTER_MODE_DEVICE), "cublasSetPointerMode");
    for (int64_t first = 0; first < m.rows; first += tile) {
      const PackedMatrix part = m.row_range(first, std::min(tile, m.rows - first));
      cuda::dequantize(part, cuda::Dequantized::f16, w16, stream_);
      const cublasStatus_t done =
          cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, int(part.rows), int(x.rows), int(m.cols), scalars, w16,
                       CUDA_R_16F, int(m.cols), x16, CUDA_R_16F, int(x.cols), scalars + (accumulate ? 3 : 1),
                       out.data + first, CUDA_R_32F,
                       int(out.cols), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
      if (done != CUBLAS_STATUS_SUCCESS) cublasSetPointerMode(cublas_, CUBLAS_POINTER_MODE_HOST);
      check(done, "cublasGemmEx");
    }
    check(cublasSetPointerMode(cublas_, CUBLAS_POINTER_MODE_HOST), "cublasSetPointerMode");
  }

  void linear_many(const Tensor& x, std::span<const LinearWeights* const> weights,
                   std::span<Tensor* const> outs) override {
    std::vector<const PackedMatrix*> layers;
    std::vector<float*> ys;
    for (size_t i = 0; i < weights.size(); ++i) {
      layers.push_back(&linear_of(*weights[i]).matrix);
      ys.push_back(outs[i]->data);
    }
    if (cuda::can_share_tiled(layers) && x.rows <= matvec_rows(*layers[0])) return tiled_product(layers, x, ys, false);
    Backend::linear_many(x, weights, outs);
  }

  void gated_linear(const Tensor& x, const LinearWeights& gate, const LinearWeights& up, Tensor& gate_out,
                    Tensor& up_out, Tensor& out) override {
    const PackedMatrix &g = linear_of(gate).matrix, &u = linear_of(up).matrix;
    if (will_prepare(out) && g.bits == tiled_format_->bits && g.group_size == tiled_format_->group) {
      // the output's buffers first: growing one forgets what it held prepared
      void* h_scratch = scratch(gated_scratch_, cuda::tiled_scratch_bytes(out.cols, 32));
      unsigned* arrivals = gated_arrivals(cuda::gated_arrival_bytes(g.rows, g.group_size));
      // x prepared in the buffer h goes to (x a gated output itself): prepared again, elsewhere
      const bool x_prepared = is_prepared(x, g) && prepared_.scratch != h_scratch;
      void* x_scratch = x_prepared ? prepared_.scratch : matvec_scratch(x.cols);
      if (cuda::gated_matvec(g, u, x.data, x.rows, x_scratch, x_prepared, out.data, h_scratch, arrivals, stream_)) {
        prepared_ = {out.data, out.rows, out.cols, g.bits, g.group_size, h_scratch};
        return;
      }
    }
    Backend::gated_linear(x, gate, up, gate_out, up_out, out);
  }
  // The gated matvec's arrival counts, zero between calls (zeroed once, when allocated: a call
  // leaves them zero).
  unsigned* gated_arrivals(size_t bytes) {
    const bool grows = !gated_arrivals_ || gated_arrivals_->bytes < bytes;
    void* data = scratch(gated_arrivals_, bytes);
    if (grows) check(cudaMemset(data, 0, gated_arrivals_->bytes), "cudaMemset");
    return static_cast<unsigned*>(data);
  }

  void add_bias(Tensor& x, const VectorWeights& bias) override {
    forget_prepared();
    cuda::add_bias(x.data, x.rows, x.cols, vector_of(bias), stream_);
  }
  void add(Tensor& x, const Tensor& y) override {
    forget_prepared();
    cuda::add(x.data, y.data, x.size(), stream_);
  }
  void swiglu(const Tensor& gate, const Tensor& up, Tensor& out) override {
    forget_prepared();
    if (will_prepare(out)) {
      cuda::swiglu_prepared(gate.data, up.data, gate.rows, gate.cols, out.data, tiled_format_->bits, tiled_format_->group,
                            matvec_scratch(out.cols), stream_);
      return note_prepared(out);
    }
    cuda::swiglu(gate.data, up.data, gate.size(), out.data, stream_);
  }

  void rope(Tensor& x, int heads, int head_dim, const RopeParams& rope, int64_t first_position) override {
    rotate(x, heads, nullptr, 0, head_dim, rope, first_position);
  }
  void rope_qk(Tensor& q, Tensor& k, int heads, int kv_heads, int head_dim, const RopeParams& rope,
               int64_t first_position) override {
    rotate(q, heads, &k, kv_heads, head_dim, rope, first_position);
  }
  void rotate(Tensor& x, int heads, Tensor* x2, int heads2, int head_dim, const RopeParams& rope, int64_t first_position) {
    forget_prepared();
    set_position(first_position);
    cuda::rope(x.data, heads, x2 ? x2->data : nullptr, heads2, x.rows, head_dim, rope.rotary_dim, rope.traditional,
               inv_freq_on_device(rope), rope.input_scale, position(), stream_);
  }
  // The rotation's frequencies in device memory (copied when they change: a new model, or
  // dynamic NTK scaling at a new length; never inside a recorded step, whose frequencies are fixed).
  const float* inv_freq_on_device(const RopeParams& rope) {
    if (rope.inv_freq != inv_freq_host_) {
      inv_freq_ = std::make_unique<DeviceBuffer>(rope.inv_freq.size() * sizeof(float));
      check(cudaMemcpyAsync(inv_freq_->data, rope.inv_freq.data(), inv_freq_->bytes, cudaMemcpyHostToDevice, stream_),
            "cudaMemcpyAsync");
      cuda::after_copy();
      check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
      inv_freq_host_ = rope.inv_freq;
    }
    return static_cast<const float*>(inv_freq_->data);
  }

  // The keys rotated as they are appended: one launch instead of two.
  void rope_attention(Tensor& q, Tensor& k, const Tensor& v, KvLayer& cache, int64_t first_position,
                      const RopeParams& rope, const AttentionParams& params, Tensor& out) override {
    const cuda::Rotation rotation{rope.rotary_dim, rope.traditional, inv_freq_on_device(rope), rope.input_scale};
    run_attention(q, k, v, cache, first_position, params, out, &rotation);
  }

  void attention(const Tensor& q, const Tensor& k, const Tensor& v, KvLayer& cache, int64_t first_position,
                 const AttentionParams& params, Tensor& out) override {
    run_attention(q, k, v, cache, first_position, params, out, nullptr);
  }
  void run_attention(const Tensor& q, const Tensor& k, const Tensor& v, KvLayer& cache, int64_t first_position,
                     const AttentionParams& params, Tensor& out, const cuda::Rotation* rotation) {
    forget_prepared();
    if (!cuda::attention_supports(params))
      throw Error(Errc::not_a_model, fmt::format("the CUDA backend supports head_dim up to 256 and up to 16 query heads "
                                                 "per KV head (this model: {} and {})",
                                                 params.head_dim, params.heads / params.kv_heads));
    set_position(first_position);
    const size_t scratch_bytes = size_t(cuda::attention_scratch_floats(params)) * 4;
    const bool fresh = !attention_scratch_ || attention_scratch_->bytes < scratch_bytes;
    float* partial = static_cast<float*>(scratch(attention_scratch_, scratch_bytes));
    if (fresh) {  // the decode kernel's counters start at zero
      check(cudaMemsetAsync(partial, 0, attention_scratch_->bytes, stream_), "cudaMemsetAsync");
      cuda::after_copy();
    }
    cuda::attention(q.data, k.data, v.data, q.rows, cache.keys.data, cache.values.data, cache.keys.rows, position(),
                    first_position, params, out.data, partial, rotation, stream_);
  }

 private:
  static constexpr size_t kMaxIds = 1 << 16;
  static constexpr size_t kMaxAdjustments = 4096;  // logit_bias entries and recent tokens; more: drawn on the host
  // Activation rows up to which a product reads the weights once per row (or per 4 rows, tiled)
  // rather than dequantizing them for a GEMM.
  static constexpr int64_t kMaxMatvecRows = 4;
  static constexpr int64_t kMaxTiledMatvecRows = 16;
  static constexpr int64_t kPrefillScratchBytes = int64_t(64) << 20;
  static constexpr size_t kCublasWorkspaceBytes = size_t(32) << 20;
  static constexpr size_t kMaxGraphs = 16;

  struct StepGraph {
    bool warmed = false;
    cudaGraphExec_t exec = nullptr;
  };

  // A piece of the weight arena holding a copy of `bytes` host bytes (in the copy stream's order).
  std::shared_ptr<DeviceBuffer> upload(const void* host, size_t bytes) {
    auto piece = weights_->allocate(bytes);
    uploader_->upload_into(piece->data, host, bytes);
    return piece;
  }

  // A device scratch buffer of at least `bytes`, grown (never shrunk) as needed.
  void* scratch(std::unique_ptr<DeviceBuffer>& buffer, size_t bytes) {
    if (!buffer || buffer->bytes < bytes) {
      if (buffer) {
        check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
        forget_graphs();  // they may hold the old address
        if (prepared_.scratch == buffer->data) forget_prepared();
      }
      buffer = std::make_unique<DeviceBuffer>(bytes);
    }
    return buffer->data;
  }

  static int64_t matvec_rows(const PackedMatrix& m) {
    return m.layout == PackedLayout::tiles16 ? kMaxTiledMatvecRows : kMaxMatvecRows;
  }
  // The tiled matvec's scratch: x prepared for the tensor cores, sized for the widest input seen.
  void* matvec_scratch(int64_t cols) {
    if (cols > matvec_scratch_cols_) {
      matvec_scratch_cols_ = cols;
      forget_prepared();
    }
    return scratch(matvec_scratch_, cuda::tiled_scratch_bytes(matvec_scratch_cols_, 32));
  }

  // Which activation the matvec scratch holds prepared: the op that prepared it says so, every op
  // that may write a tensor forgets it. A product of a tiled layer whose input is that tensor
  // (same rows, same format) skips its own preparation.
  bool will_prepare(const Tensor& out) const {
    return tiled_format_->shared() && cuda::can_prepare(out.rows, out.cols, tiled_format_->group);
  }
  void note_prepared(const Tensor& x) {
    prepared_ = {x.data, x.rows, x.cols, tiled_format_->bits, tiled_format_->group, matvec_scratch_->data};
  }
  void forget_prepared() { prepared_ = {}; }
  bool is_prepared(const Tensor& x, const PackedMatrix& m) const {
    return prepared_.x == x.data && prepared_.rows == x.rows && prepared_.cols == x.cols && prepared_.bits == m.bits &&
           prepared_.group == m.group_size;
  }

  void tiled_product(std::span<const PackedMatrix* const> layers, const Tensor& x, std::span<float* const> ys,
                     bool accumulate) {
    const PackedMatrix& m = *layers[0];
    const bool x_prepared = is_prepared(x, m);
    void* prepared = x_prepared ? prepared_.scratch : matvec_scratch(x.cols);
    cuda::tiled_matvec(layers, x.data, x.rows, ys, prepared, stream_, {x_prepared, accumulate});
    if (x.rows <= cuda::kTiledRowsPerPass) prepared_ = {x.data, x.rows, x.cols, m.bits, m.group_size, prepared};  // left there
    else forget_prepared();
  }

  void forget_graphs() {
    for (auto& [key, graph] : graphs_)
      if (graph.exec) cudaGraphExecDestroy(graph.exec);
    graphs_.clear();
  }

  // The position the ops of this forward pass start at, in device memory.
  void set_position(int64_t first_position) {
    if (first_position == position_value_) return;
    cuda::set_value(static_cast<int64_t*>(position_->data), first_position, stream_);
    position_value_ = first_position;
  }
  const int64_t* position() const { return static_cast<const int64_t*>(position_->data); }

  std::string name_;
  cudaStream_t stream_ = nullptr;
  cudaStream_t copy_stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  std::unique_ptr<Uploader> uploader_;
  std::shared_ptr<cuda::WeightArena> weights_;  // its pieces keep it: it outlives the backend if the model does
  std::unique_ptr<DeviceBuffer> position_;
  int64_t position_value_ = -1;
  int32_t* ids_host_ = nullptr;
  std::unique_ptr<DeviceBuffer> ids_device_, token_device_;
  unsigned long long* token_host_ = nullptr;  // argmax's key, or a drawn token
  std::unique_ptr<DeviceBuffer> adjustments_device_, draw_scratch_;
  LogitAdjustment* adjustments_host_ = nullptr;
  cudaEvent_t ids_copied_ = nullptr;
  std::unique_ptr<DeviceBuffer> weight_scratch_, half_scratch_, matvec_scratch_, attention_scratch_, inv_freq_;
  std::unique_ptr<DeviceBuffer> gated_scratch_, gated_arrivals_;  // the gated matvec's output, prepared; its counts
  std::unique_ptr<DeviceBuffer> prefill_scalars_;
  std::shared_ptr<TiledFormat> tiled_format_ = std::make_shared<TiledFormat>();
  int64_t matvec_scratch_cols_ = 0;
  struct PreparedInput {
    const float* x = nullptr;
    int64_t rows = 0, cols = 0;
    int bits = 0, group = 0;
    void* scratch = nullptr;  // where: the matvec scratch, or the gated matvec's
  } prepared_;
  std::vector<float> inv_freq_host_;
  std::unique_ptr<DeviceBuffer> cublas_workspace_;
  bool graphs_enabled_ = true;
  std::unordered_map<uint64_t, StepGraph> graphs_;
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(int device) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    count = 0;
  }
  if (device < 0 || device >= count) throw Error(Errc::unavailable, missing_gpu_reason(device, size_t(count)));
  return std::make_unique<CudaBackend>(device);
}

}  // namespace salut::backend
