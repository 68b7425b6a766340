#pragma once
// The shared decoder-only transformer every supported architecture runs on: embeddings, a
// stack of pre-norm blocks (attention with GQA and RoPE, SwiGLU MLP), a final norm and the
// output head. An instance holds any contiguous range of the layers, so a model can be cut
// into pipeline stages: the first stage takes token IDs, the last returns logits, and hidden
// states cross between them.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "model/architecture.h"
#include "model/kv_cache.h"
#include "model/rope.h"
#include "weights/model_config.h"
#include "weights/weight_store.h"

namespace salut::model {

struct LayerRange {
  int begin = 0;  // first layer held
  int end = 0;    // one past the last
  int size() const { return end - begin; }
};

class Transformer {
 public:
  // Reads config.json and the weights of `range` (every layer when absent) from a model
  // folder. Throws salut::Error naming an unsupported architecture or a bad weight.
  Transformer(const std::filesystem::path& folder, backend::Backend& backend,
              std::optional<LayerRange> range = std::nullopt);
  ~Transformer();
  Transformer(const Transformer&) = delete;
  Transformer& operator=(const Transformer&) = delete;

  const weights::ModelConfig& config() const { return config_; }
  const Architecture& architecture() const { return *arch_; }
  LayerRange layers() const { return range_; }
  bool has_embedding() const { return range_.begin == 0; }
  bool has_head() const { return range_.end == config_.num_hidden_layers; }
  int64_t hidden_size() const { return config_.hidden_size; }
  int64_t vocab_size() const { return config_.vocab_size; }
  // Bytes of the weights this stage holds (as stored: quantized stays quantized).
  uint64_t weight_bytes() const { return weight_bytes_; }

  // A KV cache for this stage's layers, for sequences up to `max_tokens`.
  std::unique_ptr<KvCache> new_cache(int64_t max_tokens) const;

  // Token IDs -> hidden states [tokens, hidden]. First stage only.
  void embed(std::span<const int32_t> tokens, backend::Tensor& hidden);
  // Runs this stage's layers on `hidden` in place; its rows are positions first_position...
  // The cache must hold first_position entries already and room for hidden.rows more. With
  // `logits` (last stage only), the head follows on hidden's last row, within the same decode
  // step when hidden is one row (a backend that records the step records the head with it).
  void forward(backend::Tensor& hidden, KvCache& cache, int64_t first_position, backend::Tensor* logits = nullptr);
  // Final norm and output head: hidden [n, hidden] -> logits [n, vocab]. Last stage only.
  void head(const backend::Tensor& hidden, backend::Tensor& logits);

 private:
  struct Layer {
    backend::VectorWeights input_norm, post_attention_norm, q_norm, k_norm;
    backend::LinearWeights q, k, v, o, gate, up, down;
    backend::VectorWeights q_bias, k_bias, v_bias, o_bias, gate_bias, up_bias, down_bias;
  };
  struct Workspace;

  Layer load_layer(int index);
  void run_layer(Layer& layer, backend::Tensor& hidden, backend::KvLayer& kv, int64_t first_position,
                 const backend::RopeParams& rope);
  backend::LinearWeights load_linear(const std::string& module, int64_t in_features);
  backend::VectorWeights load_vector(const std::string& name);
  backend::VectorWeights load_optional_vector(const std::string& name);

  backend::Backend& backend_;
  weights::ModelConfig config_;
  weights::WeightStore store_;
  const Architecture* arch_;
  LayerRange range_;
  Rope rope_;
  backend::AttentionParams attention_;
  backend::LinearWeights embedding_, output_;
  backend::VectorWeights final_norm_;
  std::vector<Layer> layers_;
  std::unique_ptr<Workspace> workspace_;
  uint64_t weight_bytes_ = 0;
};

}  // namespace salut::model
