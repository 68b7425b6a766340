// The scalar reference kernels: natural order, one value at a time, the arithmetic spelled out.
// The SIMD tables are tested against these; these are tested against double-precision sums.

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/kernels.h"
#include "backend/cpu/packed_values.h"

namespace salut::backend::cpu {
namespace {

void prepare_matvec(const PackedMatrix& w, const float* x, float* prepared) {
  std::memcpy(prepared, x, size_t(w.cols) * sizeof(float));
  float* sums = prepared + w.cols;
  for (int64_t g = 0; g < w.groups(); ++g) {
    float s = 0;
    for (int64_t j = 0; j < w.group_size; ++j) s += x[g * w.group_size + j];
    sums[g] = s;
  }
}

void matvec(const PackedMatrix& w, const float* prepared, int64_t first, int64_t last, float* y) {
  const float* x = prepared;
  const float* sums = prepared + w.cols;
  for (int64_t r = first; r < last; ++r) {
    float total = 0;
    if (!w.quantized()) {
      for (int64_t j = 0; j < w.cols; ++j) total += raw_value(w, r, j) * x[j];
    } else {
      for (int64_t g = 0; g < w.groups(); ++g) {
        float dot = 0;
        for (int64_t j = g * w.group_size; j < (g + 1) * w.group_size; ++j) dot += raw_value(w, r, j) * x[j];
        total += group_scale(w, r, g) * dot;
        if (w.format == WeightFormat::affine) total += group_bias(w, r, g) * sums[g];
      }
    }
    y[r - first] = total;
  }
}

void prepare_gemm(const PackedMatrix& w, const float* x, int64_t rows, int64_t k0, int64_t kc, float* out) {
  for (int64_t r = 0; r < rows; ++r) std::memcpy(out + r * kc, x + r * w.cols + k0, size_t(kc) * sizeof(float));
}

void dequantize(const PackedMatrix& w, int64_t first, int64_t count, int64_t k0, int64_t kc, float* out) {
  for (int64_t r = first; r < first + count; ++r) {
    float* o = out + (r - first) * kc;
    for (int64_t j = k0; j < k0 + kc; ++j) {
      const float v = raw_value(w, r, j);
      if (!w.quantized()) {
        o[j - k0] = v;
      } else {
        const int64_t g = j / w.group_size;
        const float scaled = group_scale(w, r, g) * v;
        o[j - k0] = w.format == WeightFormat::affine ? scaled + group_bias(w, r, g) : scaled;
      }
    }
  }
}

void gemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
          int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float sum = 0;
      for (int64_t p = 0; p < k; ++p) sum += a[i * lda + p] * b[j * ldb + p];
      c[i * ldc + j] += sum;
    }
}

void rms_norm(const float* x, int64_t cols, const float* weight, float eps, float* out) {
  float sum = 0;
  for (int64_t c = 0; c < cols; ++c) sum += x[c] * x[c];
  const float inv = 1.0f / std::sqrt(sum / float(cols) + eps);
  for (int64_t c = 0; c < cols; ++c) out[c] = x[c] * inv * weight[c];
}

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

float attend(const float* q, const float* keys, const float* values, int64_t stride, int64_t count, int head_dim,
             float scale, float* scores, float* out, float* total) {
  float max_score = -INFINITY;
  for (int64_t t = 0; t < count; ++t) {
    const float* k = keys + t * stride;
    float dot = 0;
    for (int d = 0; d < head_dim; ++d) dot += q[d] * k[d];
    scores[t] = dot * scale;
    max_score = std::max(max_score, scores[t]);
  }
  *total = 0;
  for (int64_t t = 0; t < count; ++t) {
    scores[t] = std::exp(scores[t] - max_score);
    *total += scores[t];
  }
  std::fill(out, out + head_dim, 0.0f);
  for (int64_t t = 0; t < count; ++t) {
    const float* v = values + t * stride;
    for (int d = 0; d < head_dim; ++d) out[d] += scores[t] * v[d];
  }
  return max_score;
}

}  // namespace

const Kernels& scalar_kernels() {
  static const Kernels table{"scalar", false, prepare_matvec, matvec, prepare_gemm, dequantize, gemm,
                             rms_norm, swiglu,         exp_shifted_scalar, attend};
  return table;
}

}  // namespace salut::backend::cpu
