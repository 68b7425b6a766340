// RMSNorm, SwiGLU and one head's attention with AVX2 + FMA (compiled with those flags; called
// only when the CPU has them).

#include "backend/cpu/ops_avx2.h"

#include <immintrin.h>

#include <cmath>
#include <initializer_list>

namespace salut::backend::cpu::avx2 {
namespace {

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// e^x to within an ulp or two: e^x = 2^n · e^r with n = round(x / ln 2) and |r| <= ln 2 / 2
// (ln 2 split in two so r is exact), e^r by its Taylor series to degree 7 (error < 1e-8).
// Below -87.3 the result is 0; above 88 it saturates at e^88.
[[gnu::always_inline]] inline __m256 exp8(__m256 x) {
  const __m256 underflow = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040);
  for (float c : {1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f}) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(underflow, _mm256_mul_ps(p, _mm256_castsi256_ps(bits)));
}

// Lane j = the sum of a[j]'s lanes.
__m256 sum8(const __m256 a[8]) {
  const __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
  const __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(a[4], a[5]), _mm256_hadd_ps(a[6], a[7]));
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

float dot(const float* a, const float* b, int n) {
  __m256 acc = _mm256_setzero_ps();
  int d = 0;
  for (; d + 8 <= n; d += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), acc);
  float s = hsum(acc);
  for (; d < n; ++d) s += a[d] * b[d];
  return s;
}

// out[0, 8N) = inv · Σ_t weight[t] · values[t][0, 8N).
template <int N>
void weighted_sum(const float* weight, const float* values, int64_t stride, int64_t visible, float inv, float* out) {
  __m256 acc[N];
  _Pragma("GCC unroll 8")
  for (int j = 0; j < N; ++j) acc[j] = _mm256_setzero_ps();
  for (int64_t t = 0; t < visible; ++t) {
    const __m256 p = _mm256_set1_ps(weight[t]);
    _Pragma("GCC unroll 8")
    for (int j = 0; j < N; ++j) acc[j] = _mm256_fmadd_ps(p, _mm256_loadu_ps(values + t * stride + 8 * j), acc[j]);
  }
  _Pragma("GCC unroll 8")
  for (int j = 0; j < N; ++j) _mm256_storeu_ps(out + 8 * j, _mm256_mul_ps(acc[j], _mm256_set1_ps(inv)));
}

}  // namespace

void rms_norm(const float* x, int64_t cols, const float* weight, float eps, float* out) {
  __m256 acc = _mm256_setzero_ps();
  int64_t c = 0;
  for (; c + 8 <= cols; c += 8) {
    const __m256 v = _mm256_loadu_ps(x + c);
    acc = _mm256_fmadd_ps(v, v, acc);
  }
  float sum = hsum(acc);
  for (; c < cols; ++c) sum += x[c] * x[c];
  const float inv = 1.0f / std::sqrt(sum / float(cols) + eps);
  const __m256 vinv = _mm256_set1_ps(inv);
  for (c = 0; c + 8 <= cols; c += 8)
    _mm256_storeu_ps(out + c, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + c), vinv), _mm256_loadu_ps(weight + c)));
  for (; c < cols; ++c) out[c] = x[c] * inv * weight[c];
}

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  const __m256 one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 silu = _mm256_div_ps(g, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), g))));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
  }
  for (; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

double exp_shifted(const float* x, int64_t n, float shift, float scale, float* out) {
  const __m256 s = _mm256_set1_ps(shift), k = _mm256_set1_ps(scale);
  __m256 sum = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp8(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), s), k));
    _mm256_storeu_ps(out + i, e);
    sum = _mm256_add_ps(sum, e);
  }
  double total = hsum(sum);
  for (; i < n; ++i) total += out[i] = std::exp((x[i] - shift) * scale);
  return total;
}

float attend(const float* q, const float* keys, const float* values, int64_t stride, int64_t visible, int head_dim,
             float scale, float* scores, float* out, float* total_out) {
  // Scores, eight keys at a time so that one transpose-add finishes eight dot products.
  const __m256 vscale = _mm256_set1_ps(scale);
  int64_t t = 0;
  if (head_dim % 8 == 0) {
    for (; t + 8 <= visible; t += 8) {
      __m256 acc[8];
      _Pragma("GCC unroll 8")
      for (int j = 0; j < 8; ++j) acc[j] = _mm256_setzero_ps();
      for (int d = 0; d < head_dim; d += 8) {
        const __m256 qv = _mm256_loadu_ps(q + d);
        _Pragma("GCC unroll 8")
        for (int j = 0; j < 8; ++j) acc[j] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(keys + (t + j) * stride + d), acc[j]);
      }
      _mm256_storeu_ps(scores + t, _mm256_mul_ps(sum8(acc), vscale));
    }
  }
  for (; t < visible; ++t) scores[t] = dot(q, keys + t * stride, head_dim) * scale;

  // Softmax weights, unnormalised: e^(s - max).
  __m256 vmax = _mm256_set1_ps(-INFINITY);
  for (t = 0; t + 8 <= visible; t += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(scores + t));
  float max_score = hmax(vmax);
  for (; t < visible; ++t) max_score = std::fmax(max_score, scores[t]);
  const __m256 shift = _mm256_set1_ps(max_score);
  __m256 vtotal = _mm256_setzero_ps();
  for (t = 0; t + 8 <= visible; t += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(scores + t), shift));
    _mm256_storeu_ps(scores + t, e);
    vtotal = _mm256_add_ps(vtotal, e);
  }
  float total = hsum(vtotal);
  for (; t < visible; ++t) total += scores[t] = std::exp(scores[t] - max_score);

  // Weighted sum of the values (the caller normalises); up to 64 dims at a time in registers.
  *total_out = total;
  const float inv = 1.0f;
  int d = 0;
  if (head_dim % 8 == 0) {
    for (; d + 64 <= head_dim; d += 64) weighted_sum<8>(scores, values + d, stride, visible, inv, out + d);
    switch ((head_dim - d) / 8) {
      case 1: weighted_sum<1>(scores, values + d, stride, visible, inv, out + d); break;
      case 2: weighted_sum<2>(scores, values + d, stride, visible, inv, out + d); break;
      case 3: weighted_sum<3>(scores, values + d, stride, visible, inv, out + d); break;
      case 4: weighted_sum<4>(scores, values + d, stride, visible, inv, out + d); break;
      case 5: weighted_sum<5>(scores, values + d, stride, visible, inv, out + d); break;
      case 6: weighted_sum<6>(scores, values + d, stride, visible, inv, out + d); break;
      case 7: weighted_sum<7>(scores, values + d, stride, visible, inv, out + d); break;
    }
    return max_score;
  }
  for (; d < head_dim; ++d) {
    float sum = 0;
    for (t = 0; t < visible; ++t) sum += scores[t] * values[t * stride + d];
    out[d] = sum * inv;
  }
  return max_score;
}

}  // namespace salut::backend::cpu::avx2
