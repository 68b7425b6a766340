#pragma once
// One sampled token, drawn where the logits are. The engine's Sampler (engine/sampler.h)
// decides a draw — the logits processors reduced to a few adjusted tokens, the filters, the
// temperature and the random number — and a backend carries it out on its own copy of the
// logits, so that only the token comes back (a GPU's 128k logits never cross the bus, and a
// CPU draws with its SIMD exp). Every backend gives the same token for the same draw, but where
// the draw falls within rounding of a boundary between two tokens.

#include <cstdint>
#include <span>
#include <vector>

namespace salut::backend {

// v = penalized(v + add_before) + add_after, penalized(x) = x < 0 ? x · penalty : x / penalty:
// logit_bias, then the repetition penalty, then the presence and frequency penalties (mlx-lm's order).
struct LogitAdjustment {
  int32_t token = 0;
  float add_before = 0;
  float penalty = 1;
  float add_after = 0;
};

struct TokenDraw {
  std::vector<LogitAdjustment> adjustments;
  float temperature = 1;  // 0: the argmax of the adjusted logits
  float top_p = 1;        // 1 = off
  float min_p = 0;        // 0 = off
  int top_k = 0;          // 0 = off
  double uniform = 0;     // in [0, 1): where the draw falls in the kept tokens' mass, in index order
};

// out[i] = e^((x[i] - shift) · scale) for i < n; returns Σ out[i]. A CPU kernel table's SIMD
// version, exp_shifted_scalar, or nullptr: the best this CPU runs.
using ExpShifted = double (*)(const float* x, int64_t n, float shift, float scale, float* out);
double exp_shifted_scalar(const float* x, int64_t n, float shift, float scale, float* out);

// The processors' part of a draw, in place.
void adjust_logits(std::span<float> logits, std::span<const LogitAdjustment> adjustments);

// The filters' and the temperature's part of a draw (temperature > 0) on adjusted logits:
// weights[i] = e^((logit_i - max) / temperature) for the tokens the filters keep, 0 for the
// others; returns their sum, and appends to `blocks` the sums of consecutive blocks of them (for
// the draw's walk).
double draw_weights(std::span<const float> logits, const TokenDraw& draw, std::vector<float>& weights,
                    ExpShifted exp_shifted = nullptr, std::vector<double>* blocks = nullptr);

// The draw on logits in host memory: `logits` are adjusted in place (they stay what logprobs
// describe), then filtered as mlx-lm filters log-probabilities (top_p, min_p, top_k: each keeps
// the tokens at or above a threshold, ties at top_k's trimmed in index order) and the token drawn
// from the kept ones' softmax(logits / temperature). `scratch` is reused between calls.
int32_t draw_token(std::span<float> logits, const TokenDraw& draw, std::vector<float>& scratch,
                   ExpShifted exp_shifted = nullptr);

// Frees what draws on the calling thread keep between calls (top_k's heap, the walk's block
// sums): for unloading a model, as Backend::release_thread_scratch does.
void release_draw_scratch();

}  // namespace salut::backend
