#pragma once
// config.json (+ generation_config.json) read as mlx-lm reads it for llama, mistral, qwen2, qwen3
// and phi3: the same keys, the same per-architecture defaults, the same quantization settings.
// An unknown model_type is not refused here (the model registry does that).

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "weights/quant_spec.h"

namespace salut::weights {

// rope_scaling, as mlx-lm's rope_utils.initialize_rope and models/phi3.py read it.
struct RopeScaling {
  std::string type;  // "type", else "rope_type": linear, dynamic, llama3, longrope (phi3's "su" too), yarn, ...
  double factor = 1.0;
  double low_freq_factor = 1.0;   // llama3
  double high_freq_factor = 4.0;  // llama3
  std::optional<int64_t> original_max_position_embeddings;  // llama3 (default 8192), yarn, longrope
  std::vector<float> long_factor;   // longrope: one per rotated frequency (mlx-lm always uses these)
  std::vector<float> short_factor;  // longrope
  std::optional<double> long_mscale, short_mscale;  // longrope, when given
  double beta_fast = 32, beta_slow = 1, mscale = 1, mscale_all_dim = 0;  // yarn
};

// "quantization" (else the legacy "quantization_config") of an MLX model.
struct QuantConfig {
  QuantSpec global;
  // Per-module settings keyed by module path ("model.layers.0.mlp.down_proj"): a spec, or nullopt
  // for `false` (left unquantized). `true` is stored as the global spec. As in mlx-lm, a dict's
  // missing group_size/bits take the defaults of its own mode (affine unless it says otherwise).
  std::map<std::string, std::optional<QuantSpec>, std::less<>> overrides;
};

struct ModelConfig {
  std::string model_type;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // default: num_attention_heads
  int64_t head_dim = 0;             // default hidden_size / heads (qwen2 and phi3 always use that)
  int64_t vocab_size = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000;        // qwen2: 1e6; qwen3: required
  bool rope_traditional = false;
  std::optional<RopeScaling> rope_scaling;
  double partial_rotary_factor = 1.0;           // phi3
  std::optional<int64_t> max_position_embeddings;  // phi3: 131072, qwen2: 32768 by default
  int64_t original_max_position_embeddings = 4096;  // phi3 (top level)
  bool tie_word_embeddings = true;  // llama, qwen2: true; phi3: false; qwen3: required
  bool attention_bias = false;      // q/k/v/o biases (qwen2: q/k/v always)
  bool mlp_bias = false;
  std::vector<int64_t> eos_token_ids;  // generation_config.json's when it has any, else config.json's
  std::optional<int64_t> bos_token_id;
  std::optional<QuantConfig> quantization;
  nlohmann::json raw;  // config.json as read, for architecture-specific keys

  // Throws salut::Error: not_found (no config.json), not_a_model (bad JSON, missing or invalid
  // field, unsupported quantization method or mode, named in the message).
  static ModelConfig load(const std::filesystem::path& folder);
  // The same from config.json's parsed text (generation_config.json's, if any); `label` names it.
  static ModelConfig parse(const nlohmann::json& config, const nlohmann::json* generation_config,
                           const std::string& label);

  // The spec a module's override gives, if the config names the module.
  const std::optional<QuantSpec>* override_for(std::string_view module_path) const;
};

}  // namespace salut::weights
