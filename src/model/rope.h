#pragma once
// Every RoPE variant mlx-lm knows (rope_utils.py initialize_rope, and phi3's SuScaledRoPE),
// reduced to data: the inverse frequency of each rotated pair and an input scale.

#include <cstdint>
#include "backend/backend.h"
#include "weights/model_config.h"

namespace salut::model {

class Rope {
 public:
  // Rotates head_dim × partial_rotary_factor dims per head. Throws salut::Error naming an
  // unsupported rope type.
  explicit Rope(const weights::ModelConfig& config);

  // Whether the frequencies depend on the length reached (dynamic NTK), not only on the model.
  bool varies_with_length() const { return dynamic_; }
  // The parameters for a forward pass over positions [first, first + count). Only dynamic NTK
  // scaling depends on them: past max_position_embeddings its base grows with the length.
  const backend::RopeParams& for_positions(int64_t first, int64_t count);

 private:
  void set_base_frequencies(double base, double scale);

  int dims_;
  double base_;
  int64_t max_positions_;
  bool dynamic_ = false;
  double dynamic_factor_ = 1;
  backend::RopeParams params_;
};

}  // namespace salut::model
