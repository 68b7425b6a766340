// RMSNorm, SwiGLU, RoPE and causal attention of every kernel table against straightforward
// double-precision references. Tolerances are relative to the magnitudes that the f32 rounding
// (and the SIMD exp, within a few 1e-8) scales with.

#include <gtest/gtest.h>

#include <malloc.h>

#include <algorithm>
#include <cmath>

#include "backend/cpu/kernels.h"
#include "backend/cpu/ops.h"
#include "backend/backend.h"
#include "backend/token_draw.h"
#include "test_layers.h"

namespace salut::backend::cpu {
namespace {

std::vector<const Kernels*> tables() {
  const Kernels* k[3];
  const int n = runnable_kernels(k);
  return {k, k + n};
}

TEST(Ops, RmsNormOfEveryRow) {
  for (int64_t cols : {1, 7, 64, 576, 2051}) {
    const int64_t rows = 5;
    const auto x = testing::random_floats(size_t(rows * cols), 1, 3.0f);
    const auto weight = testing::random_floats(size_t(cols), 2);
    for (const Kernels* k : tables()) {
      std::vector<float> out(x.size());
      rms_norm_rows(*k, testing::pool(), x.data(), rows, cols, weight.data(), 1e-5f, out.data());
      for (int64_t r = 0; r < rows; ++r) {
        double sum = 0;
        for (int64_t c = 0; c < cols; ++c) sum += double(x[r * cols + c]) * x[r * cols + c];
        const double inv = 1.0 / std::sqrt(sum / double(cols) + 1e-5);
        for (int64_t c = 0; c < cols; ++c) {
          const double want = x[r * cols + c] * inv * weight[c];
          EXPECT_NEAR(out[r * cols + c], want, 1e-5 * std::fabs(x[r * cols + c] * inv) + 1e-30)
              << k->name << " cols " << cols << " [" << r << "," << c << "]";
        }
      }
    }
  }
}

TEST(Ops, SwigluIncludingLargeAndTinyGates) {
  auto gate = testing::random_floats(10007, 3, 12.0f);
  gate[0] = -100.0f, gate[1] = 100.0f, gate[2] = 0.0f, gate[3] = -88.5f, gate[4] = 90.0f;
  const auto up = testing::random_floats(gate.size(), 4);
  for (const Kernels* k : tables()) {
    std::vector<float> out(gate.size());
    swiglu(*k, testing::pool(), gate.data(), up.data(), int64_t(gate.size()), out.data());
    for (size_t i = 0; i < gate.size(); ++i) {
      const double g = gate[i], want = g / (1.0 + std::exp(-g)) * up[i];
      ASSERT_NEAR(out[i], want, 1e-6 * std::fabs(g * up[i]) + 1e-30) << k->name << " gate " << g;
    }
  }
}

TEST(Ops, RopeRotatesEveryHeadAndReusesItsTable) {
  for (bool traditional : {false, true}) {
    RopeParams rope;
    rope.rotary_dim = 48;  // partial: 48 of 64 dims rotate
    rope.traditional = traditional;
    rope.input_scale = traditional ? 1.0f : 1.25f;
    for (int i = 0; i < 24; ++i) rope.inv_freq.push_back(float(std::pow(10000.0, -2.0 * i / 48)));
    const int heads = 3, head_dim = 64;
    const int64_t rows = 5, first = 700;
    const auto x = testing::random_floats(size_t(rows * heads * head_dim), 5);
    RopeTable table;
    for (int pass = 0; pass < 2; ++pass) {  // the second pass reuses the table
      std::vector<float> y = x;
      table.prepare(rope, first, rows);
      rope_rows(testing::pool(), y.data(), rows, heads, head_dim, rope, table);
      for (int64_t r = 0; r < rows; ++r)
        for (int h = 0; h < heads; ++h) {
          const float* in = x.data() + (r * heads + h) * head_dim;
          const float* got = y.data() + (r * heads + h) * head_dim;
          for (int i = 0; i < 24; ++i) {
            const int a = traditional ? 2 * i : i, b = traditional ? 2 * i + 1 : i + 24;
            const double angle = double(float(first + r) * rope.inv_freq[i]);
            const double x0 = in[a] * rope.input_scale, x1 = in[b] * rope.input_scale;
            EXPECT_NEAR(got[a], x0 * std::cos(angle) - x1 * std::sin(angle), 1e-5);
            EXPECT_NEAR(got[b], x0 * std::sin(angle) + x1 * std::cos(angle), 1e-5);
          }
          for (int d = 48; d < head_dim; ++d) EXPECT_EQ(got[d], in[d]);  // not rotated, not scaled
        }
    }
    rope.inv_freq[0] *= 2;  // new frequencies (dynamic NTK): a new table
    table.prepare(rope, first, rows);
    EXPECT_EQ(table.cos[0], std::cos(float(first) * rope.inv_freq[0]));
  }
}

// Causal attention with GQA for `rows` queries after `first` cached positions.
void check_attention(int64_t rows, int64_t first, int heads, int kv_heads, int head_dim) {
  AttentionParams p{heads, kv_heads, head_dim, float(1.0 / std::sqrt(double(head_dim)))};
  const int64_t total = first + rows, kv_dim = int64_t(kv_heads) * head_dim, q_dim = int64_t(heads) * head_dim;
  const auto q = testing::random_floats(size_t(rows * q_dim), 6, 2.0f);
  const auto keys = testing::random_floats(size_t(total * kv_dim), 7, 2.0f);
  const auto values = testing::random_floats(size_t(total * kv_dim), 8);
  for (const Kernels* k : tables()) {
    std::vector<float> out(size_t(rows * q_dim), NAN);
    causal_attention(*k, testing::pool(), q.data(), rows, keys.data(), values.data(), first, p, out.data());
    for (int64_t r = 0; r < rows; ++r)
      for (int h = 0; h < heads; ++h) {
        const int kvh = h / (heads / kv_heads);
        const int64_t visible = first + r + 1;
        std::vector<double> score(static_cast<size_t>(visible));
        double max_score = -INFINITY, total_weight = 0;
        for (int64_t t = 0; t < visible; ++t) {
          double dot = 0;
          for (int d = 0; d < head_dim; ++d)
            dot += double(q[r * q_dim + h * head_dim + d]) * keys[t * kv_dim + kvh * head_dim + d];
          score[t] = dot * p.scale;
          max_score = std::max(max_score, score[t]);
        }
        for (auto& s : score) total_weight += s = std::exp(s - max_score);
        for (int d = 0; d < head_dim; ++d) {
          double want = 0, magnitude = 0;
          for (int64_t t = 0; t < visible; ++t) {
            want += score[t] / total_weight * values[t * kv_dim + kvh * head_dim + d];
            magnitude += score[t] / total_weight * std::fabs(values[t * kv_dim + kvh * head_dim + d]);
          }
          const float got = out[r * q_dim + h * head_dim + d];
          ASSERT_NEAR(got, want, 2e-5 * magnitude + 1e-30)
              << k->name << ": rows " << rows << " after " << first << ", row " << r << " head " << h << " dim " << d;
        }
      }
  }
}

// exp_shifted of every table against double precision (its SIMD exp within a few 1e-8), and a
// whole token draw with each table's exp picking the token the scalar draw picks.
TEST(Ops, ExpShiftedAndTheDrawsThatUseIt) {
  const auto x = testing::random_floats(1003, 4, 12.0f);
  const float shift = 9.0f, scale = 1.0f / 0.7f;
  for (const Kernels* k : tables()) {
    std::vector<float> out(x.size());
    const double total = k->exp_shifted(x.data(), int64_t(x.size()), shift, scale, out.data());
    double want_total = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double argument = (double(x[i]) - shift) * scale, want = std::exp(argument);
      want_total += want;
      // the argument is rounded to f32 first: e^x inherits its error times |x|
      EXPECT_NEAR(out[i], want, (1e-6 + 2e-7 * std::fabs(argument)) * want + 1e-30) << k->name << " [" << i << "]";
    }
    EXPECT_NEAR(total, want_total, 1e-6 * want_total) << k->name;

    int differ = 0;
    std::vector<float> scratch;
    for (int d = 0; d < 200; ++d) {
      TokenDraw draw;
      draw.temperature = 0.8f;
      draw.top_p = d % 2 ? 0.9f : 1.0f;
      draw.top_k = d % 3 ? 0 : 50;
      draw.uniform = (d + 0.5) / 200;
      std::vector<float> a = x, b = x;
      differ += draw_token(a, draw, scratch, k->exp_shifted) != draw_token(b, draw, scratch, exp_shifted_scalar);
    }
    EXPECT_LE(differ, 2) << k->name;  // only where the draw falls within rounding of a boundary
  }
}

TEST(Ops, AttentionDecodeOverALongCache) { check_attention(1, 300, 9, 3, 64); }
TEST(Ops, AttentionPrefillIsCausal) { check_attention(37, 0, 4, 2, 64); }
TEST(Ops, AttentionChunkAfterCachedPositions) { check_attention(9, 21, 6, 1, 128); }
TEST(Ops, AttentionOddHeadSizes) {
  check_attention(3, 10, 2, 2, 80);
  check_attention(3, 10, 2, 1, 20);
}

// The CPU backend's cache is head-major: growing it moves each head's rows to the new capacity's
// place. A cache grown after a prefill answers the next step exactly as one made big at once.
TEST(Ops, AttentionAfterTheCacheGrew) {
  auto backend = make_cpu_backend(2);
  const AttentionParams p{6, 2, 8, 0.35f};
  const int64_t kv_dim = 16, q_dim = 48, first = 6;
  auto tensor = [&](int64_t rows, int64_t cols, uint32_t seed) {
    Tensor t = backend->alloc(rows, cols);
    const auto values = testing::random_floats(size_t(rows * cols), seed);
    backend->write_rows(t, 0, values.data(), rows);
    return t;
  };
  Tensor q = tensor(first, q_dim, 1), k = tensor(first, kv_dim, 2), v = tensor(first, kv_dim, 3);
  Tensor q1 = tensor(1, q_dim, 4), k1 = tensor(1, kv_dim, 5), v1 = tensor(1, kv_dim, 6);
  Tensor out = backend->alloc(first, q_dim), out1 = backend->alloc(1, q_dim);
  std::vector<KvLayer> small = backend->alloc_kv(1, 8, kv_dim), big = backend->alloc_kv(1, 32, kv_dim);
  backend->attention(q, k, v, small[0], 0, p, out);
  backend->attention(q, k, v, big[0], 0, p, out);
  std::vector<KvLayer> grown = backend->alloc_kv(1, 32, kv_dim);
  backend->copy_kv(small[0], grown[0], first, p.kv_heads);
  std::vector<float> want(static_cast<size_t>(q_dim)), got(static_cast<size_t>(q_dim));
  backend->attention(q1, k1, v1, big[0], first, p, out1);
  backend->read_rows(out1, 0, 1, want.data());
  backend->attention(q1, k1, v1, grown[0], first, p, out1);
  backend->read_rows(out1, 0, 1, got.data());
  EXPECT_EQ(got, want);
  for (auto* cache : {&small, &big, &grown}) backend->free_kv(*cache);
  for (Tensor* t : {&q, &k, &v, &q1, &k1, &v1, &out, &out1}) backend->free(*t);
}

// A draw keeps scratch on its thread between calls (top_k's heap grows to the vocabulary past
// 1024, the block sums), and a backend's release_thread_scratch, called at unload, gives it back.
TEST(Ops, ReleasingThreadScratchGivesTheDrawsMemoryBack) {
  auto allocated = [] {
    const struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;  // heap chunks in use, and mmapped ones
  };
  auto backend = make_cpu_backend(1);
  const int64_t vocab = 128256;
  Tensor logits = backend->alloc(1, vocab);
  const auto values = testing::random_floats(size_t(vocab), 9);
  backend->write_rows(logits, 0, values.data(), 1);
  TokenDraw draw;
  draw.temperature = 0.8f, draw.top_k = 100000, draw.uniform = 0.5;
  backend->draw(logits, draw);
  const size_t before = allocated();
  backend->release_thread_scratch();
  EXPECT_GE(before - std::min(before, allocated()), size_t(100000) * sizeof(float));
  backend->free(logits);
}

}  // namespace
}  // namespace salut::backend::cpu
