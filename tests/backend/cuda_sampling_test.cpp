// Tokens drawn on the GPU (Backend::draw) against the host's draw_token for the same draws: the
// same token but where a draw falls within rounding of a boundary between two tokens, and the
// logits left adjusted as the host leaves them. Skips without a GPU.

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/token_draw.h"
#include "gpu_backend.h"

namespace salut::backend {
namespace {

struct Case {
  std::string name;
  TokenDraw draw;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  auto add = [&](std::string name, auto change) {
    TokenDraw d;
    d.temperature = 0.8f;
    change(d);
    out.push_back({std::move(name), d});
  };
  add("temperature", [](TokenDraw&) {});
  add("temperature 1.7", [](TokenDraw& d) { d.temperature = 1.7f; });
  add("top_p 0.9", [](TokenDraw& d) { d.top_p = 0.9f; });
  add("top_p 0.3", [](TokenDraw& d) { d.top_p = 0.3f; });
  add("top_k 40", [](TokenDraw& d) { d.top_k = 40; });
  add("top_k 1", [](TokenDraw& d) { d.top_k = 1; });
  add("min_p 0.05", [](TokenDraw& d) { d.min_p = 0.05f; });
  add("top_k 50 top_p 0.95 min_p 0.02", [](TokenDraw& d) {
    d.top_k = 50;
    d.top_p = 0.95f;
    d.min_p = 0.02f;
  });
  add("adjusted", [](TokenDraw& d) {
    d.top_p = 0.9f;
    d.adjustments = {{5, 8.0f, 1.3f, -0.5f}, {77, 0.0f, 1.1f, -0.2f}, {999, -100.0f, 1.0f, 0.0f}};
  });
  add("greedy, adjusted", [](TokenDraw& d) {
    d.temperature = 0;
    d.adjustments = {{9, 30.0f, 1.0f, 0.0f}};
  });
  return out;
}

TEST(CudaDraw, PicksTheHostsTokenForTheSameDraw) {
  auto gpu = testing::cuda_backend_or_none();
  if (!gpu) GTEST_SKIP() << "no CUDA GPU here";
  for (int64_t vocab : {int64_t(128256), int64_t(1000)}) {
    std::mt19937 rng(11);
    std::normal_distribution<float> normal(0.0f, 3.0f);
    std::vector<float> logits(static_cast<size_t>(vocab));
    for (auto& v : logits) v = normal(rng);
    for (int i = 0; i < 40; ++i) logits[size_t(i * 7 % vocab)] = logits[3];  // ties, for top_k
    Tensor row = gpu->alloc(1, vocab);
    for (const Case& c : cases()) {
      int differ = 0;
      const int draws = 100;
      std::vector<float> scratch;
      for (int k = 0; k < draws; ++k) {
        TokenDraw d = c.draw;
        d.uniform = (k + 0.37) / draws;
        gpu->write_rows(row, 0, logits.data(), 1);
        std::vector<float> host = logits;
        const int32_t want = draw_token(host, d, scratch, exp_shifted_scalar);
        const int32_t got = gpu->draw(row, d);
        ASSERT_GE(got, 0) << c.name;
        ASSERT_LT(got, vocab) << c.name;
        differ += got != want;
        if (k == 0) {
          std::vector<float> adjusted(static_cast<size_t>(vocab));
          gpu->read_rows(row, 0, 1, adjusted.data());
          for (const LogitAdjustment& a : d.adjustments)
            EXPECT_NEAR(adjusted[size_t(a.token)], host[size_t(a.token)], 1e-5f * (1 + std::fabs(host[size_t(a.token)])))
                << c.name;
        }
      }
      EXPECT_LE(differ, 2) << c.name << ", vocabulary " << vocab;
    }
    gpu->free(row);
  }
}

// A draw is reproducible: the same draw twice gives the same token (integer sums, no race).
TEST(CudaDraw, TheSameDrawGivesTheSameToken) {
  auto gpu = testing::cuda_backend_or_none();
  if (!gpu) GTEST_SKIP() << "no CUDA GPU here";
  const int64_t vocab = 50000;
  std::vector<float> logits(static_cast<size_t>(vocab));
  for (int64_t i = 0; i < vocab; ++i) logits[size_t(i)] = 0.01f * float((i * 7919) % 997);  // flat: many near-ties
  Tensor row = gpu->alloc(1, vocab);
  TokenDraw d;
  d.top_p = 0.5f;
  for (int k = 0; k < 20; ++k) {
    d.uniform = (k + 0.5) / 20;
    gpu->write_rows(row, 0, logits.data(), 1);
    const int32_t first = gpu->draw(row, d);
    for (int again = 0; again < 5; ++again) {
      gpu->write_rows(row, 0, logits.data(), 1);
      ASSERT_EQ(gpu->draw(row, d), first) << "uniform " << d.uniform;
    }
  }
  gpu->free(row);
}

}  // namespace
}  // namespace salut::backend
