#include "engine/sampler.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "core/error.h"

namespace salut::engine {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

void require(bool ok, const std::string& message) {
  if (!ok) throw Error(Errc::invalid_argument, message);
}

}  // namespace

void SamplingParams::validate(int64_t vocab_size) const {
  require(std::isfinite(temperature) && temperature >= 0, fmt::format("temperature must be >= 0 (got {})", temperature));
  require(std::isfinite(top_p) && top_p > 0 && top_p <= 1, fmt::format("top_p must be in (0, 1] (got {})", top_p));
  require(std::isfinite(min_p) && min_p >= 0 && min_p <= 1, fmt::format("min_p must be in [0, 1] (got {})", min_p));
  require(min_tokens_to_keep >= 1, "min_tokens_to_keep must be >= 1");
  require(top_k >= 0, fmt::format("top_k must be >= 0 (got {})", top_k));
  require(std::isfinite(xtc_probability) && xtc_probability >= 0 && xtc_probability <= 1,
          "xtc_probability must be in [0, 1]");
  require(std::isfinite(xtc_threshold) && xtc_threshold >= 0 && xtc_threshold <= 0.5f,
          "xtc_threshold must be in [0, 0.5]");
  require(std::isfinite(repetition_penalty) && repetition_penalty > 0,
          fmt::format("repetition_penalty must be > 0 (got {})", repetition_penalty));
  require(std::isfinite(presence_penalty), "presence_penalty must be a finite number");
  require(std::isfinite(frequency_penalty), "frequency_penalty must be a finite number");
  require(penalty_context_size >= 0, "the penalty context size must be >= 0");
  for (const auto& [token, bias] : logit_bias) {
    require(token >= 0 && token < vocab_size, fmt::format("logit_bias names token {} outside the vocabulary", token));
    require(std::isfinite(bias), "logit_bias values must be finite numbers");
  }
}

void log_softmax(std::span<float> logits) {
  const float max_logit = *std::max_element(logits.begin(), logits.end());
  double total = 0;
  for (float v : logits) total += std::exp(static_cast<double>(v - max_logit));
  const float log_total = max_logit + static_cast<float>(std::log(total));
  for (float& v : logits) v -= log_total;
}

Sampler::Sampler(SamplingParams params, int64_t vocab_size)
    : params_(std::move(params)), vocab_size_(vocab_size), rng_(params_.seed.value_or(std::random_device{}())) {
  params_.validate(vocab_size);
}

// The processors touch few tokens: the biased ones and those of the recent history. Each seen
// token is penalised once (as mlx-lm's scatter assignment does), the frequency penalty once per
// occurrence.
std::vector<backend::LogitAdjustment> Sampler::adjustments(std::span<const int32_t> history) const {
  std::map<int32_t, backend::LogitAdjustment> touched;
  for (const auto& [token, bias] : params_.logit_bias) touched[token] = {token, bias, 1.0f, 0.0f};
  const size_t context = std::min(history.size(), static_cast<size_t>(params_.penalty_context_size));
  std::set<int32_t> seen;
  for (int32_t token : history.subspan(history.size() - context)) {
    if (token < 0 || token >= vocab_size_) continue;
    backend::LogitAdjustment& a = touched.try_emplace(token, backend::LogitAdjustment{token}).first->second;
    if (seen.insert(token).second) {
      a.penalty = params_.repetition_penalty;
      a.add_after -= params_.presence_penalty;
    }
    a.add_after -= params_.frequency_penalty;
  }
  std::vector<backend::LogitAdjustment> out;
  for (const auto& [token, a] : touched)
    if (a.add_before != 0 || a.penalty != 1 || a.add_after != 0) out.push_back(a);
  return out;
}

void Sampler::apply_processors(std::span<float> logits, std::span<const int32_t> history) const {
  backend::adjust_logits(logits, adjustments(history));
}

std::optional<backend::TokenDraw> Sampler::next_draw(std::span<const int32_t> history) {
  if (params_.xtc_probability > 0 || (params_.min_p > 0 && params_.min_tokens_to_keep > 1)) return std::nullopt;
  backend::TokenDraw draw;
  draw.adjustments = adjustments(history);
  draw.temperature = params_.temperature;
  draw.top_p = params_.top_p;
  draw.min_p = params_.min_p;
  draw.top_k = params_.top_k;
  if (params_.temperature > 0) draw.uniform = std::uniform_real_distribution<double>(0, 1)(rng_);
  return draw;
}

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> history) {
  if (std::optional<backend::TokenDraw> draw = next_draw(history)) return backend::draw_token(logits, *draw, draw_scratch_);
  // XTC or min_tokens_to_keep: the host's filters, then a categorical draw from softmax(logprobs / temperature)
  if (params_.temperature == 0.0f) {
    apply_processors(logits, history);
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  std::span<float> logprobs = filtered_logprobs(logits, history);
  const int64_t n = vocab_size_;
  const float inv_temp = 1.0f / params_.temperature;
  float max_v = kNegInf;
  for (float v : logprobs) max_v = std::max(max_v, v * inv_temp);
  double total = 0;
  for (float& v : logprobs) {
    v = v == kNegInf ? 0.0f : static_cast<float>(std::exp(static_cast<double>(v * inv_temp - max_v)));
    total += v;
  }
  double target = std::uniform_real_distribution<double>(0, 1)(rng_) * total;
  for (int64_t i = 0; i < n; ++i) {
    target -= logprobs[i];
    if (target < 0) return static_cast<int32_t>(i);
  }
  for (int64_t i = n - 1; i >= 0; --i)  // rounding left a sliver: the last token with mass
    if (logprobs[i] > 0) return static_cast<int32_t>(i);
  return 0;
}

std::span<float> Sampler::filtered_logprobs(std::span<float> logits, std::span<const int32_t> history) {
  apply_processors(logits, history);
  // The filters work on log-probabilities, as mlx-lm's sampler receives them.
  scratch_.assign(logits.begin(), logits.end());
  std::span<float> logprobs(scratch_);
  log_softmax(logprobs);
  const int64_t n = vocab_size_;

  if (params_.top_p > 0 && params_.top_p < 1) {
    // Keep the smallest set of most likely tokens whose mass reaches top_p.
    // Only the head of the order matters: sort the top 256, and more only if they fall short
    // (a full sort of a 150k vocabulary would cost milliseconds per token).
    order_.resize(n);
    std::iota(order_.begin(), order_.end(), 0);
    const auto more_likely = [&](int32_t a, int32_t b) { return logprobs[a] > logprobs[b]; };
    double mass = 0;
    float threshold = kNegInf;
    for (int64_t sorted = 0, k = std::min<int64_t>(n, 256); sorted < n; k = std::min<int64_t>(n, k * 8)) {
      std::nth_element(order_.begin() + sorted, order_.begin() + (k - 1), order_.end(), more_likely);
      std::sort(order_.begin() + sorted, order_.begin() + k, more_likely);
      for (; sorted < k && mass < params_.top_p; ++sorted) {
        threshold = logprobs[order_[sorted]];
        mass += std::exp(static_cast<double>(threshold));
      }
      if (mass >= params_.top_p) break;
    }
    for (float& v : logprobs)
      if (v < threshold) v = kNegInf;
  }
  if (params_.min_p > 0) {
    const float top = *std::max_element(logprobs.begin(), logprobs.end());
    const float floor = top + std::log(params_.min_p);
    std::vector<int32_t> keep;
    if (params_.min_tokens_to_keep > 1) {
      order_.resize(n);
      std::iota(order_.begin(), order_.end(), 0);
      const int64_t k = std::min<int64_t>(params_.min_tokens_to_keep, n);
      std::partial_sort(order_.begin(), order_.begin() + k, order_.end(),
                        [&](int32_t a, int32_t b) { return logprobs[a] > logprobs[b]; });
      keep.assign(order_.begin(), order_.begin() + k);
    }
    for (int64_t i = 0; i < n; ++i)
      if (logprobs[i] < floor && std::find(keep.begin(), keep.end(), i) == keep.end()) logprobs[i] = kNegInf;
  }
  if (params_.xtc_probability > 0 && std::uniform_real_distribution<float>(0, 1)(rng_) <= params_.xtc_probability) {
    // Exclude Top Choices: drop every token above the least likely one that clears the threshold.
    // Probabilities are a softmax of what the filters before left, as mlx-lm's are.
    double total = 0;
    for (float v : logprobs) total += std::exp(static_cast<double>(v));
    const float log_total = static_cast<float>(std::log(total));
    const auto prob = [&](float v) { return std::exp(v - log_total); };
    float least_above = std::numeric_limits<float>::infinity();
    for (float v : logprobs)
      if (prob(v) > params_.xtc_threshold) least_above = std::min(least_above, prob(v));
    for (int64_t i = 0; i < n; ++i) {
      const bool special = std::find(params_.xtc_special_tokens.begin(), params_.xtc_special_tokens.end(), i) !=
                           params_.xtc_special_tokens.end();
      if (!special && prob(logprobs[i]) > least_above) logprobs[i] = kNegInf;
    }
  }
  if (params_.top_k > 0 && params_.top_k < n) {
    order_.resize(n);
    std::iota(order_.begin(), order_.end(), 0);
    std::nth_element(order_.begin(), order_.begin() + params_.top_k - 1, order_.end(),
                     [&](int32_t a, int32_t b) { return logprobs[a] > logprobs[b]; });
    const float kth = logprobs[order_[params_.top_k - 1]];
    int64_t kept = 0;
    for (float& v : logprobs) {
      if (v > kth) ++kept;
      else if (v < kth) v = kNegInf;
    }
    for (float& v : logprobs)  // ties at the k-th value: keep only as many as fit
      if (v == kth && kth != kNegInf) {
        if (kept < params_.top_k) ++kept;
        else v = kNegInf;
      }
  }

  return logprobs;
}

}  // namespace salut::engine
