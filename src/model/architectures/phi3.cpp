// Phi-3 / Phi-4-mini (mlx_lm/models/phi3.py): q, k and v in one qkv_proj, gate and up in one
// gate_up_proj, partial rotary embeddings and longrope scaling (see rope.cpp).

#include "model/architecture.h"

namespace salut::model {

const Architecture& phi3_architecture() {
  static const Architecture arch{.model_type = "phi3", .fused_qkv = true, .fused_gate_up = true};
  return arch;
}

}  // namespace salut::model
