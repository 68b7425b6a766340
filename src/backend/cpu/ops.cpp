#include "backend/cpu/ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace salut::backend::cpu {

void rms_norm_rows(const float* x, int64_t rows, int64_t cols, const float* weight, float eps, float* out) {
#pragma omp parallel for if (rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x + r * cols;
    float* o = out + r * cols;
    float sum = 0;
    for (int64_t c = 0; c < cols; ++c) sum += in[c] * in[c];
    const float inv = 1.0f / std::sqrt(sum / static_cast<float>(cols) + eps);
    for (int64_t c = 0; c < cols; ++c) o[c] = in[c] * inv * weight[c];
  }
}

void rope_rows(float* x, int64_t rows, int heads, int head_dim, const RopeParams& rope, int64_t first_position) {
  const int half = rope.rotary_dim / 2;
#pragma omp parallel for if (rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const float position = static_cast<float>(first_position + r);
    std::vector<float> cos_table(half), sin_table(half);
    for (int i = 0; i < half; ++i) {
      const float angle = position * rope.inv_freq[i];
      cos_table[i] = std::cos(angle);
      sin_table[i] = std::sin(angle);
    }
    for (int h = 0; h < heads; ++h) {
      float* v = x + r * heads * head_dim + static_cast<int64_t>(h) * head_dim;
      if (rope.input_scale != 1.0f)
        for (int i = 0; i < rope.rotary_dim; ++i) v[i] *= rope.input_scale;
      for (int i = 0; i < half; ++i) {
        // rotate-half pairs (i, i + half); traditional pairs (2i, 2i + 1)
        float& a = rope.traditional ? v[2 * i] : v[i];
        float& b = rope.traditional ? v[2 * i + 1] : v[i + half];
        const float x0 = a, x1 = b;
        a = x0 * cos_table[i] - x1 * sin_table[i];
        b = x0 * sin_table[i] + x1 * cos_table[i];
      }
    }
  }
}

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void causal_attention(const float* q, int64_t rows, const float* keys, const float* values, int64_t first_position,
                      const AttentionParams& p, float* out) {
  const int group = p.heads / p.kv_heads;
  const int64_t kv_stride = static_cast<int64_t>(p.kv_heads) * p.head_dim;
  const int64_t q_stride = static_cast<int64_t>(p.heads) * p.head_dim;
#pragma omp parallel for collapse(2)
  for (int64_t r = 0; r < rows; ++r) {
    for (int h = 0; h < p.heads; ++h) {
      const int64_t visible = first_position + r + 1;
      const float* qh = q + r * q_stride + static_cast<int64_t>(h) * p.head_dim;
      const int kvh = h / group;
      std::vector<float> scores(visible);
      float max_score = -INFINITY;
      for (int64_t t = 0; t < visible; ++t) {
        const float* k = keys + t * kv_stride + static_cast<int64_t>(kvh) * p.head_dim;
        float dot = 0;
        for (int d = 0; d < p.head_dim; ++d) dot += qh[d] * k[d];
        scores[t] = dot * p.scale;
        max_score = std::max(max_score, scores[t]);
      }
      float total = 0;
      for (int64_t t = 0; t < visible; ++t) {
        scores[t] = std::exp(scores[t] - max_score);
        total += scores[t];
      }
      float* o = out + r * q_stride + static_cast<int64_t>(h) * p.head_dim;
      std::fill(o, o + p.head_dim, 0.0f);
      for (int64_t t = 0; t < visible; ++t) {
        const float w = scores[t] / total;
        const float* v = values + t * kv_stride + static_cast<int64_t>(kvh) * p.head_dim;
        for (int d = 0; d < p.head_dim; ++d) o[d] += w * v[d];
      }
    }
  }
}

}  // namespace salut::backend::cpu
