#include "model/transformer.h"

#include <fmt/format.h>

#include <array>
#include <cmath>

#include "core/error.h"
#include "weights/quantization.h"

namespace salut::model {

using backend::Tensor;

// Scratch activations, grown to the largest batch of rows seen and reused.
struct Transformer::Workspace {
  backend::Backend& backend;
  int64_t capacity = 0;
  uint64_t generation = 0;  // counts reallocations: a recorded decode step names its buffers by it
  Tensor normed, q, k, v, attention, projected, gate, up;

  explicit Workspace(backend::Backend& b) : backend(b) {}
  ~Workspace() { release(); }

  void release() {
    for (Tensor* t : {&normed, &q, &k, &v, &attention, &projected, &gate, &up}) backend.free(*t);
  }
  void reserve(int64_t rows, const weights::ModelConfig& c, int64_t q_dim, int64_t kv_dim) {
    if (rows <= capacity) return;
    release();
    normed = backend.alloc(rows, c.hidden_size);
    q = backend.alloc(rows, q_dim);
    k = backend.alloc(rows, kv_dim);
    v = backend.alloc(rows, kv_dim);
    attention = backend.alloc(rows, q_dim);
    projected = backend.alloc(rows, c.hidden_size);
    gate = backend.alloc(rows, c.intermediate_size);
    up = backend.alloc(rows, c.intermediate_size);
    capacity = rows;
    ++generation;
  }
};

namespace {

const Architecture& require_architecture(const weights::ModelConfig& config) {
  if (const Architecture* arch = find_architecture(config.model_type)) return *arch;
  std::string supported;
  for (auto type : supported_model_types()) supported += (supported.empty() ? "" : ", ") + std::string(type);
  throw Error(Errc::not_a_model,
              fmt::format("model_type '{}' is not supported (supported: {})", config.model_type, supported));
}

LayerRange checked_range(std::optional<LayerRange> range, const weights::ModelConfig& config) {
  const int total = static_cast<int>(config.num_hidden_layers);
  LayerRange r = range.value_or(LayerRange{0, total});
  if (r.begin < 0 || r.end > total || r.begin >= r.end)
    throw Error(Errc::invalid_argument, fmt::format("layer range [{}, {}) is not within the model's {} layers", r.begin,
                                                    r.end, total));
  return r;
}

}  // namespace

Transformer::Transformer(const std::filesystem::path& folder, backend::Backend& backend,
                         std::optional<LayerRange> range)
    : backend_(backend),
      config_(weights::ModelConfig::load(folder)),
      store_(weights::WeightStore::open(folder)),
      arch_(&require_architecture(config_)),
      range_(checked_range(range, config_)),
      rope_(config_),
      workspace_(std::make_unique<Workspace>(backend)) {
  attention_.heads = static_cast<int>(config_.num_attention_heads);
  attention_.kv_heads = static_cast<int>(config_.num_key_value_heads);
  attention_.head_dim = static_cast<int>(config_.head_dim);
  attention_.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(config_.head_dim)));

  if (has_embedding() || (has_head() && config_.tie_word_embeddings)) embedding_ = load_linear("model.embed_tokens", config_.hidden_size);
  if (has_head()) {
    final_norm_ = load_vector("model.norm.weight");
    output_ = config_.tie_word_embeddings ? embedding_ : load_linear("lm_head", config_.hidden_size);
  }
  layers_.reserve(range_.size());
  for (int i = range_.begin; i < range_.end; ++i) layers_.push_back(load_layer(i));
}

Transformer::~Transformer() = default;

// The input width settles what the shapes alone cannot (4-bit/64 and 8-bit/32 pack alike).
backend::LinearWeights Transformer::load_linear(const std::string& module, int64_t in_features) {
  weights::LinearView view = weights::resolve_linear(store_, config_, module, in_features);
  for (const weights::TensorView* t : {view.weight, view.scales, view.biases})
    if (t != nullptr) weight_bytes_ += t->nbytes;
  return backend_.load_linear(view);
}

backend::VectorWeights Transformer::load_vector(const std::string& name) {
  const weights::TensorView& view = store_.get(name);
  weight_bytes_ += view.nbytes;
  return backend_.load_vector(view);
}

backend::VectorWeights Transformer::load_optional_vector(const std::string& name) {
  return store_.contains(name) ? load_vector(name) : backend::VectorWeights{};
}

Transformer::Layer Transformer::load_layer(int index) {
  const std::string prefix = fmt::format("model.layers.{}.", index);
  const int64_t head_dim = config_.head_dim;
  const int64_t q_dim = config_.num_attention_heads * head_dim;
  const int64_t kv_dim = config_.num_key_value_heads * head_dim;
  Layer layer;
  layer.input_norm = load_vector(prefix + "input_layernorm.weight");
  layer.post_attention_norm = load_vector(prefix + "post_attention_layernorm.weight");

  const std::string attn = prefix + "self_attn.";
  if (arch_->fused_qkv) {
    auto qkv = load_linear(attn + "qkv_proj", config_.hidden_size);
    layer.q = backend_.slice_rows(qkv, 0, q_dim);
    layer.k = backend_.slice_rows(qkv, q_dim, kv_dim);
    layer.v = backend_.slice_rows(qkv, q_dim + kv_dim, kv_dim);
  } else {
    layer.q = load_linear(attn + "q_proj", config_.hidden_size);
    layer.k = load_linear(attn + "k_proj", config_.hidden_size);
    layer.v = load_linear(attn + "v_proj", config_.hidden_size);
  }
  layer.o = load_linear(attn + "o_proj", q_dim);
  if (arch_->qkv_bias) {
    layer.q_bias = load_vector(attn + "q_proj.bias");
    layer.k_bias = load_vector(attn + "k_proj.bias");
    layer.v_bias = load_vector(attn + "v_proj.bias");
  } else {  // llama's attention_bias
    layer.q_bias = load_optional_vector(attn + "q_proj.bias");
    layer.k_bias = load_optional_vector(attn + "k_proj.bias");
    layer.v_bias = load_optional_vector(attn + "v_proj.bias");
  }
  layer.o_bias = load_optional_vector(attn + "o_proj.bias");
  if (arch_->qk_norm) {
    layer.q_norm = load_vector(attn + "q_norm.weight");
    layer.k_norm = load_vector(attn + "k_norm.weight");
  }

  const std::string mlp = prefix + "mlp.";
  if (arch_->fused_gate_up) {
    auto gate_up = load_linear(mlp + "gate_up_proj", config_.hidden_size);
    layer.gate = backend_.slice_rows(gate_up, 0, config_.intermediate_size);
    layer.up = backend_.slice_rows(gate_up, config_.intermediate_size, config_.intermediate_size);
  } else {
    layer.gate = load_linear(mlp + "gate_proj", config_.hidden_size);
    layer.up = load_linear(mlp + "up_proj", config_.hidden_size);
    layer.gate_bias = load_optional_vector(mlp + "gate_proj.bias");
    layer.up_bias = load_optional_vector(mlp + "up_proj.bias");
  }
  layer.down = load_linear(mlp + "down_proj", config_.intermediate_size);
  layer.down_bias = load_optional_vector(mlp + "down_proj.bias");
  return layer;
}

std::unique_ptr<KvCache> Transformer::new_cache(int64_t max_tokens) const {
  return std::make_unique<KvCache>(backend_, range_.size(), config_.num_key_value_heads, config_.head_dim, max_tokens);
}

void Transformer::embed(std::span<const int32_t> tokens, Tensor& hidden) {
  if (!has_embedding()) throw Error(Errc::internal, "this stage has no embedding layer");
  for (int32_t token : tokens)
    if (token < 0 || token >= config_.vocab_size)
      throw Error(Errc::invalid_argument, fmt::format("token {} is outside the vocabulary (0..{})", token,
                                                      config_.vocab_size - 1));
  backend_.embed(embedding_, tokens, hidden);
}

void Transformer::forward(Tensor& hidden, KvCache& cache, int64_t first_position, Tensor* logits) {
  const int64_t rows = hidden.rows;
  cache.reserve(first_position + rows);
  workspace_->reserve(rows, config_, config_.num_attention_heads * config_.head_dim,
                      config_.num_key_value_heads * config_.head_dim);
  const backend::RopeParams& rope = rope_.for_positions(first_position, rows);
  auto layers = [&] {
    for (size_t i = 0; i < layers_.size(); ++i)
      run_layer(layers_[i], hidden, cache.layer(static_cast<int>(i)), first_position, rope);
  };
  if (rows == 1) {
    // A decode step: the backend may record it once and replay it, as long as the buffers it
    // touches stay the same (the key names them) and the frequencies do not move with the length.
    // The head goes in it too: one recording from the first layer to the logits.
    auto step = [&] {
      layers();
      if (logits) head(hidden, *logits);
    };
    uint64_t key = 0;
    if (!rope_.varies_with_length()) {
      const uint64_t parts[] = {uint64_t(reinterpret_cast<uintptr_t>(hidden.data)),
                                uint64_t(reinterpret_cast<uintptr_t>(cache.layer(0).keys.data)),
                                uint64_t(reinterpret_cast<uintptr_t>(logits ? logits->data : nullptr)),
                                workspace_->generation};
      key = 1469598103934665603ull;
      for (uint64_t part : parts) key = (key ^ part) * 1099511628211ull;
    }
    backend_.run_step(key, first_position, step);
  } else {
    layers();
    if (logits) head(hidden.rows_view(rows - 1, 1), *logits);
  }
  cache.set_length(first_position + rows);
}

void Transformer::run_layer(Layer& layer, Tensor& hidden, backend::KvLayer& kv, int64_t first_position,
                            const backend::RopeParams& rope) {
  const int64_t rows = hidden.rows;
  Workspace& w = *workspace_;
  Tensor normed = w.normed.rows_view(0, rows), q = w.q.rows_view(0, rows), k = w.k.rows_view(0, rows),
         v = w.v.rows_view(0, rows), attention = w.attention.rows_view(0, rows),
         projected = w.projected.rows_view(0, rows), gate = w.gate.rows_view(0, rows), up = w.up.rows_view(0, rows);
  const float eps = static_cast<float>(config_.rms_norm_eps);
  auto linear = [&](const Tensor& x, const backend::LinearWeights& weights, const backend::VectorWeights& bias,
                    Tensor& out) {
    backend_.linear(x, weights, out);
    if (bias) backend_.add_bias(out, bias);
  };
  // Projections of the same input run as one job of the backend.
  auto project = [&]<size_t N>(const Tensor& x, const std::array<const backend::LinearWeights*, N>& weights,
                               const std::array<const backend::VectorWeights*, N>& biases,
                               const std::array<Tensor*, N>& outs) {
    backend_.linear_many(x, weights, outs);
    for (size_t i = 0; i < N; ++i)
      if (*biases[i]) backend_.add_bias(*outs[i], *biases[i]);
  };
  // hidden += x·Wᵀ (+ bias): a block's last projection, into the residual stream
  auto add_projection = [&](const Tensor& x, const backend::LinearWeights& weights, const backend::VectorWeights& bias) {
    if (bias) {
      linear(x, weights, bias, projected);
      backend_.add(hidden, projected);
    } else {
      backend_.linear_add(x, weights, projected, hidden);
    }
  };
  using Weights3 = std::array<const backend::LinearWeights*, 3>;
  using Biases3 = std::array<const backend::VectorWeights*, 3>;
  using Weights2 = std::array<const backend::LinearWeights*, 2>;
  using Biases2 = std::array<const backend::VectorWeights*, 2>;

  // Attention block.
  backend_.rms_norm(hidden, layer.input_norm, eps, normed);
  project(normed, Weights3{&layer.q, &layer.k, &layer.v}, Biases3{&layer.q_bias, &layer.k_bias, &layer.v_bias},
          std::array{&q, &k, &v});
  if (arch_->qk_norm) {
    backend_.rms_norm_heads(q, attention_.head_dim, layer.q_norm, eps);
    backend_.rms_norm_heads(k, attention_.head_dim, layer.k_norm, eps);
  }
  backend_.rope_attention(q, k, v, kv, first_position, rope, attention_, attention);
  add_projection(attention, layer.o, layer.o_bias);

  // MLP block.
  backend_.rms_norm(hidden, layer.post_attention_norm, eps, normed);
  if (layer.gate_bias || layer.up_bias) {
    project(normed, Weights2{&layer.gate, &layer.up}, Biases2{&layer.gate_bias, &layer.up_bias}, std::array{&gate, &up});
    backend_.swiglu(gate, up, gate);
  } else {
    backend_.gated_linear(normed, layer.gate, layer.up, gate, up, gate);
  }
  add_projection(gate, layer.down, layer.down_bias);
}

void Transformer::head(const Tensor& hidden, Tensor& logits) {
  if (!has_head()) throw Error(Errc::internal, "this stage has no output head");
  workspace_->reserve(hidden.rows, config_, config_.num_attention_heads * config_.head_dim,
                      config_.num_key_value_heads * config_.head_dim);
  Tensor normed = workspace_->normed.rows_view(0, hidden.rows);
  backend_.rms_norm(hidden, final_norm_, static_cast<float>(config_.rms_norm_eps), normed);
  backend_.linear(normed, output_, logits);
}

}  // namespace salut::model
