// Qwen 3 (mlx_lm/models/qwen3.py): Llama's layout plus an RMSNorm over each head of q and k
// (q_norm, k_norm) before RoPE, and an explicit head_dim.

#include "model/architecture.h"

namespace salut::model {

const Architecture& qwen3_architecture() {
  static const Architecture arch{.model_type = "qwen3", .qk_norm = true};
  return arch;
}

}  // namespace salut::model
