#pragma once
// What differs between the supported architectures, as data. Each architecture is one short
// file under architectures/; the transformer reads these flags, never the model's name.

#include <string>
#include <string_view>
#include <vector>

namespace salut::model {

struct Architecture {
  std::string_view model_type;
  bool qkv_bias = false;       // q/k/v projections carry biases (qwen2)
  bool qk_norm = false;        // RMSNorm over each head of q and k before RoPE (qwen3)
  bool fused_qkv = false;      // one self_attn.qkv_proj instead of q/k/v (phi3)
  bool fused_gate_up = false;  // one mlp.gate_up_proj, gate first (phi3)
};

// nullptr when Salut does not support the model_type.
const Architecture* find_architecture(std::string_view model_type);
std::vector<std::string_view> supported_model_types();

// One per file in architectures/.
const Architecture& llama_architecture();
const Architecture& mistral_architecture();
const Architecture& qwen2_architecture();
const Architecture& qwen3_architecture();
const Architecture& phi3_architecture();

}  // namespace salut::model
