#pragma once
// Token sampling as mlx-lm does it (sample_utils.py): logits processors first (logit_bias,
// repetition, presence and frequency penalties over the last `context_size` tokens), then on
// the log-probabilities top_p, min_p, XTC, top_k, and finally temperature; temperature 0 is
// argmax. A seed makes the draw reproducible.

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include "backend/token_draw.h"

namespace salut::engine {

struct SamplingParams {
  float temperature = 1.0f;  // 0 = greedy
  float top_p = 1.0f;        // 1 = off
  float min_p = 0.0f;        // 0 = off
  int min_tokens_to_keep = 1;
  int top_k = 0;             // 0 = off
  float xtc_probability = 0.0f;
  float xtc_threshold = 0.1f;
  std::vector<int32_t> xtc_special_tokens;
  float repetition_penalty = 1.0f;  // 1 = off
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  int penalty_context_size = 20;  // mlx-lm's default for all three penalties
  std::map<int32_t, float> logit_bias;
  std::optional<uint64_t> seed;

  // Throws salut::Error(invalid_argument) naming the first out-of-range field.
  void validate(int64_t vocab_size) const;
};

class Sampler {
 public:
  Sampler(SamplingParams params, int64_t vocab_size);

  // Applies the logits processors to `logits` in place (they are the distribution reported
  // as logprobs), then draws a token. `history` is every token so far (prompt + generated).
  int32_t sample(std::span<float> logits, std::span<const int32_t> history);

  // The processors applied to `logits` in place, then the log-probabilities that a draw uses
  // before temperature: top_p, min_p, XTC and top_k applied (dropped tokens are -inf). Valid
  // until the next call.
  std::span<float> filtered_logprobs(std::span<float> logits, std::span<const int32_t> history);

  // The next draw as a backend carries it out where the logits are (backend/token_draw.h): the
  // processors as adjustments of the tokens they touch, the filters, and this draw's random
  // number (taken from the seeded generator, as sample() takes it). Empty when the parameters
  // need the host's filters (XTC, min_tokens_to_keep above 1): then call sample().
  std::optional<backend::TokenDraw> next_draw(std::span<const int32_t> history);

  const SamplingParams& params() const { return params_; }
  // Whether a draw is the plain argmax of the logits (temperature 0, no processors): then a
  // backend can pick the token where the logits are, without copying them out.
  bool is_argmax() const {
    return params_.temperature == 0 && params_.repetition_penalty == 1 && params_.presence_penalty == 0 &&
           params_.frequency_penalty == 0 && params_.logit_bias.empty();
  }

 private:
  void apply_processors(std::span<float> logits, std::span<const int32_t> history) const;
  std::vector<backend::LogitAdjustment> adjustments(std::span<const int32_t> history) const;

  SamplingParams params_;
  int64_t vocab_size_;
  std::mt19937_64 rng_;
  std::vector<float> scratch_;
  std::vector<int32_t> order_;
  std::vector<float> draw_scratch_;
};

// log-softmax of `logits`, in place.
void log_softmax(std::span<float> logits);

}  // namespace salut::engine
