// The sampler against mlx-lm (tests/data/engine/sampler_goldens.json, from
// make_sampler_goldens.py): its logits processors and its filters must leave exactly what mlx-lm's
// leave; and a seed must reproduce a sample.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "core/error.h"
#include "backend/token_draw.h"
#include "engine/sampler.h"

namespace salut::engine {
namespace {

using nlohmann::json;

SamplingParams params_of(const json& p) {
  SamplingParams s;
  s.temperature = 1.0f;
  s.top_p = p.value("top_p", 1.0f);
  s.min_p = p.value("min_p", 0.0f);
  s.min_tokens_to_keep = p.value("min_tokens_to_keep", 1);
  s.top_k = p.value("top_k", 0);
  s.xtc_probability = p.value("xtc_probability", 0.0f);
  s.xtc_threshold = p.value("xtc_threshold", 0.1f);
  s.xtc_special_tokens = p.value("xtc_special_tokens", std::vector<int32_t>{});
  s.repetition_penalty = p.value("repetition_penalty", 1.0f);
  s.presence_penalty = p.value("presence_penalty", 0.0f);
  s.frequency_penalty = p.value("frequency_penalty", 0.0f);
  // each case sets at most one context size
  s.penalty_context_size = p.value("repetition_context_size", p.value("frequency_context_size", 20));
  if (p.contains("logit_bias"))
    for (const auto& [token, bias] : p["logit_bias"].items()) s.logit_bias[std::stoi(token)] = bias.get<float>();
  return s;
}

void expect_close(const json& expected, std::span<const float> got, const std::string& what) {
  ASSERT_EQ(expected.size(), got.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    if (expected[i].is_null()) {
      EXPECT_EQ(got[i], -std::numeric_limits<float>::infinity()) << what << " token " << i;
    } else {
      const float e = expected[i].get<float>();
      EXPECT_NEAR(got[i], e, 2e-5f * (1 + std::abs(e))) << what << " token " << i;
    }
  }
}

TEST(Sampler, ProcessorsAndFiltersAreMlxLms) {
  std::ifstream in(SALUT_TEST_DATA_DIR "/engine/sampler_goldens.json");
  ASSERT_TRUE(in) << "missing sampler goldens";
  const json goldens = json::parse(in);
  int n = 0;
  for (const json& c : goldens["cases"]) {
    const std::string what = c["params"].dump() + " #" + std::to_string(n++);
    std::vector<float> logits = c["logits"].get<std::vector<float>>();
    const std::vector<int32_t> history = c["history"].get<std::vector<int32_t>>();
    Sampler sampler(params_of(c["params"]), int64_t(logits.size()));
    std::span<float> filtered = sampler.filtered_logprobs(logits, history);
    expect_close(c["processed"], logits, what + " processed");
    expect_close(c["filtered_logprobs"], filtered, what + " filtered");
  }
}

// The draw a backend carries out (backend/token_draw.h) keeps exactly the tokens mlx-lm's
// filters keep, with softmax(logprobs / temperature) as their weights.
TEST(Sampler, DrawsKeepWhatMlxLmsFiltersKeep) {
  std::ifstream in(SALUT_TEST_DATA_DIR "/engine/sampler_goldens.json");
  ASSERT_TRUE(in) << "missing sampler goldens";
  const json goldens = json::parse(in);
  int n = 0, checked = 0;
  for (const json& c : goldens["cases"]) {
    const std::string what = c["params"].dump() + " #" + std::to_string(n++);
    std::vector<float> logits = c["logits"].get<std::vector<float>>();
    const std::vector<int32_t> history = c["history"].get<std::vector<int32_t>>();
    for (float temperature : {1.0f, 0.7f}) {
      SamplingParams p = params_of(c["params"]);
      p.temperature = temperature;
      Sampler sampler(p, int64_t(logits.size()));
      const std::optional<backend::TokenDraw> draw = sampler.next_draw(history);
      if (!draw) continue;  // XTC, min_tokens_to_keep: the host's filters
      std::vector<float> adjusted = logits;
      backend::adjust_logits(adjusted, draw->adjustments);
      expect_close(c["processed"], adjusted, what + " processed");
      std::vector<float> weights;
      const double total = backend::draw_weights(adjusted, *draw, weights);
      const json& filtered = c["filtered_logprobs"];
      double expected_total = 0;
      for (const json& v : filtered)
        if (!v.is_null()) expected_total += std::exp(double(v.get<float>()) / temperature);
      for (size_t i = 0; i < weights.size(); ++i) {
        if (filtered[i].is_null()) {  // dropped (kept tokens may underflow to 0: a logit_bias of -100)
          ASSERT_EQ(weights[i], 0.0f) << what << " token " << i;
          continue;
        }
        EXPECT_NEAR(weights[i] / total, std::exp(double(filtered[i].get<float>()) / temperature) / expected_total, 1e-5)
            << what << " token " << i;
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 10);
}

// top_k keeps exactly k tokens: of those equal to the k-th largest, the first in index order.
TEST(Sampler, TopKTrimsTiesInIndexOrder) {
  const std::vector<float> logits = {1, 3, 2, 2, 0, 2, 3};
  backend::TokenDraw draw;
  draw.top_k = 4;
  std::vector<float> weights;
  backend::draw_weights(logits, draw, weights);
  const std::vector<bool> kept = {false, true, true, true, false, false, true};
  for (size_t i = 0; i < logits.size(); ++i) EXPECT_EQ(weights[i] > 0, kept[i]) << "token " << i;
}

// A flat distribution over a large vocabulary: top_p needs far more than the first 256 tokens.
TEST(Sampler, TopPOverALargeFlatVocabularyKeepsTheSmallestSetReachingP) {
  const int64_t n = 20000;
  std::vector<float> logits(n);
  for (int64_t i = 0; i < n; ++i) logits[size_t(i)] = 0.001f * float((i * 7919) % n);
  SamplingParams p;
  p.top_p = 0.9f;
  Sampler sampler(p, n);
  std::vector<float> copy = logits;
  std::span<float> kept = sampler.filtered_logprobs(copy, {});
  // brute force: sort all, take until the mass reaches 0.9
  std::vector<float> sorted = logits;
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  double total = 0;
  for (float v : sorted) total += std::exp(double(v));
  double mass = 0;
  float threshold = 0;
  for (float v : sorted) {
    threshold = v;
    mass += std::exp(double(v)) / total;
    if (mass >= 0.9) break;
  }
  for (int64_t i = 0; i < n; ++i)
    EXPECT_EQ(std::isinf(kept[size_t(i)]), logits[size_t(i)] < threshold) << "token " << i;
  backend::TokenDraw draw;
  draw.top_p = p.top_p;
  std::vector<float> weights;
  backend::draw_weights(logits, draw, weights);
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(weights[size_t(i)] > 0, logits[size_t(i)] >= threshold) << "token " << i;
}

TEST(Sampler, ASeedReproducesASample) {
  std::vector<float> base(1000);
  for (size_t i = 0; i < base.size(); ++i) base[i] = std::sin(float(i)) * 3;
  auto draw = [&](uint64_t seed) {
    SamplingParams p;
    p.temperature = 0.9f;
    p.top_p = 0.95f;
    p.seed = seed;
    Sampler s(p, int64_t(base.size()));
    std::vector<int32_t> out;
    for (int i = 0; i < 50; ++i) {
      std::vector<float> logits = base;
      out.push_back(s.sample(logits, out));
    }
    return out;
  };
  EXPECT_EQ(draw(42), draw(42));
  EXPECT_NE(draw(42), draw(43));
}

TEST(Sampler, DrawsFollowTheTemperedDistribution) {
  const std::vector<float> logits = {0.0f, std::log(2.0f), std::log(3.0f), std::log(4.0f)};
  for (float temp : {1.0f, 0.5f}) {
    SamplingParams p;
    p.temperature = temp;
    p.seed = 7;
    Sampler s(p, 4);
    std::vector<int> counts(4);
    const int draws = 40000;
    for (int i = 0; i < draws; ++i) {
      std::vector<float> l = logits;
      ++counts[size_t(s.sample(l, {}))];
    }
    double total = 0;
    for (float v : logits) total += std::exp(v / temp);
    for (size_t t = 0; t < 4; ++t)
      EXPECT_NEAR(double(counts[t]) / draws, std::exp(logits[t] / temp) / total, 0.01) << "temperature " << temp;
  }
}

TEST(Sampler, TemperatureZeroIsTheArgmaxAfterTheProcessors) {
  SamplingParams p;
  p.temperature = 0;
  p.logit_bias[1] = 10.0f;
  Sampler s(p, 3);
  std::vector<float> logits = {5.0f, 0.0f, 1.0f};
  EXPECT_EQ(s.sample(logits, {}), 1);
}

TEST(Sampler, BadParametersAreRefusedByName) {
  auto refused = [](auto change, const char* name) {
    SamplingParams p;
    change(p);
    try {
      p.validate(100);
      ADD_FAILURE() << "accepted bad " << name;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  };
  refused([](SamplingParams& p) { p.temperature = -1; }, "temperature");
  refused([](SamplingParams& p) { p.top_p = 1.5f; }, "top_p");
  refused([](SamplingParams& p) { p.min_p = -0.1f; }, "min_p");
  refused([](SamplingParams& p) { p.top_k = -3; }, "top_k");
  refused([](SamplingParams& p) { p.logit_bias[100] = 1.0f; }, "logit_bias");
}

}  // namespace
}  // namespace salut::engine
