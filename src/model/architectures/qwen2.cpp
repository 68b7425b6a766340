// Qwen 2 / 2.5 (mlx_lm/models/qwen2.py): Llama's layout with biases on the q, k and v projections.

#include "model/architecture.h"

namespace salut::model {

const Architecture& qwen2_architecture() {
  static const Architecture arch{.model_type = "qwen2", .qkv_bias = true};
  return arch;
}

}  // namespace salut::model
