// Llama 1–3.x (mlx_lm/models/llama.py): pre-norm blocks, GQA attention with RoPE (its llama3,
// linear and dynamic scalings come from config.json), SwiGLU MLP. Mistral shares the file in
// mlx-lm and the layout here.

#include "model/architecture.h"

namespace salut::model {

const Architecture& llama_architecture() {
  static const Architecture arch{.model_type = "llama"};
  return arch;
}

const Architecture& mistral_architecture() {
  static const Architecture arch{.model_type = "mistral"};
  return arch;
}

}  // namespace salut::model
