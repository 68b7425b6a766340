// The AVX2 + FMA + F16C kernel table (this file is compiled with -mavx2 -mfma -mf16c and only
// called after the CPU says it has them). 8 floats per vector: a 32-input block is 4 vectors.

#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "backend/cpu/block_order.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/ops_avx2.h"
#include "weights/dtype.h"

namespace salut::backend::cpu::avx2_linear {
namespace {

template <int Bits>
inline constexpr ShuffleControl<8> kShuffle = make_shuffle<8>(Bits);

struct Isa {
  static constexpr int L = 8;
  static constexpr int kGemmM = 6;  // prefill's GEMM tile: 6 x 2 accumulators + 2 + 1 operands of 16 registers
  static constexpr int kGemmN = 2;
  using F = __m256;
  using I = __m256i;

  static F zero() { return _mm256_setzero_ps(); }
  static F set1(float v) { return _mm256_set1_ps(v); }
  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, F v) { _mm256_storeu_ps(p, v); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F blend(F a, F b, I mask) { return _mm256_blendv_ps(a, b, _mm256_castsi256_ps(mask)); }
  static float hsum(F v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float hmax(F v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static I load_i(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  static I and_i(I a, I b) { return _mm256_and_si256(a, b); }
  template <int N>
  static I srli(I a) { return _mm256_srli_epi32(a, N); }
  static F cvt(I a) { return _mm256_cvtepi32_ps(a); }

  static __m128i load16(const std::byte* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }

  // The 8 lanes of an affine block of 32 values (block_order.h): lane k = values 4k .. 4k+3.
  template <int Bits>
  static I affine_lanes(const std::byte* p) {
    if constexpr (Bits == 2) {
      return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    } else if constexpr (Bits == 4) {
      return _mm256_cvtepu16_epi32(load16(p));
    } else if constexpr (Bits == 8) {
      return load_i(p);
    } else {
      constexpr AffineLanes g{Bits, 8};
      const __m128i lo = load16(p);
      const __m128i hi = g.window(4) == 0 ? lo : load16(p + g.window(4));
      return _mm256_shuffle_epi8(_mm256_set_m128i(hi, lo), load_i(kShuffle<Bits>.bytes));
    }
  }

  // 32 E2M1 values times 2: low nibbles (even inputs) then high nibbles (odd inputs).
  static void fp4_values(const std::byte* p, F v[4]) {
    const __m128i lut = _mm_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
    const __m128i nibble = _mm_set1_epi8(0x0f);
    const __m128i bytes = load16(p);
    const __m128i lo = _mm_shuffle_epi8(lut, _mm_and_si128(bytes, nibble));
    const __m128i hi = _mm_shuffle_epi8(lut, _mm_and_si128(_mm_srli_epi16(bytes, 4), nibble));
    v[0] = cvt(_mm256_cvtepi8_epi32(lo));
    v[1] = cvt(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(lo, lo)));
    v[2] = cvt(_mm256_cvtepi8_epi32(hi));
    v[3] = cvt(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(hi, hi)));
  }

  // 32 E4M3 values times 2^-8, in order: each byte's bits moved into an f16 (same mantissa,
  // exponent rebiased by the f16 bias alone), E4M3's NaN kept NaN.
  static void fp8_values(const std::byte* p, F v[4]) {
    for (int h = 0; h < 2; ++h) {
      const __m256i w = _mm256_cvtepu8_epi16(load16(p + 16 * h));
      const __m256i magnitude = _mm256_and_si256(w, _mm256_set1_epi16(0x7f));
      __m256i half = _mm256_or_si256(_mm256_slli_epi16(magnitude, 7),
                                     _mm256_slli_epi16(_mm256_and_si256(w, _mm256_set1_epi16(0x80)), 8));
      const __m256i nan = _mm256_cmpeq_epi16(magnitude, _mm256_set1_epi16(0x7f));
      half = _mm256_or_si256(half, _mm256_and_si256(nan, _mm256_set1_epi16(0x7e00)));
      v[2 * h] = _mm256_cvtph_ps(_mm256_castsi256_si128(half));
      v[2 * h + 1] = _mm256_cvtph_ps(_mm256_extracti128_si256(half, 1));
    }
  }

  static F load_f32(const std::byte* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }
  static F load_f16(const std::byte* p) { return _mm256_cvtph_ps(load16(p)); }
  static F load_bf16(const std::byte* p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load16(p)), 16));
  }
};

#include "backend/cpu/simd_linear.inl"

// ---- Decode with int16 activations (4- and 8-bit affine; see int16_activations_apply) ----
//
// vpmaddwd multiplies 16 weights by 16 activations and adds pairs in one op, and the weights
// need no conversion to float: about half the vector ops of the f32 path per weight, which is
// what decode is short of on a core that shares its FP pipes. Sums stay exact in int32 (at most
// 255 · 32767 · 16 per lane and group of 128) and are scaled once per group.

// x16 order per 32-input block: 4-bit: even inputs, then odd (the low and high nibbles of the 16
// bytes); 8-bit: natural.
// 16 int16 of 16 floats a (8) and b (8) times `inverse`, rounded to nearest even, in order.
inline __m256i round_to_int16(__m256 a, __m256 b, __m256 inverse) {
  const __m256i packed = _mm256_packs_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(a, inverse)),
                                            _mm256_cvtps_epi32(_mm256_mul_ps(b, inverse)));
  return _mm256_permute4x64_epi64(packed, 0xD8);  // packs works per 128-bit half
}

template <int Bits>
void prepare_int16(const PackedMatrix& w, const float* x, float* prepared) {
  const int64_t groups = w.groups(), gs = w.group_size;
  float* sums = prepared + w.cols;
  float* x_scale = sums + groups;
  auto* x16 = reinterpret_cast<std::byte*>(prepared);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t g = 0; g < groups; ++g) {
    const float* xg = x + g * gs;
    __m256 top = _mm256_setzero_ps();
    __m256 finite = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    for (int64_t j = 0; j < gs; j += 8) {
      const __m256 magnitude = _mm256_andnot_ps(sign, _mm256_loadu_ps(xg + j));
      top = _mm256_max_ps(top, magnitude);
      finite = _mm256_and_ps(finite, _mm256_cmp_ps(magnitude, _mm256_set1_ps(FLT_MAX), _CMP_LE_OQ));  // NaN: false
    }
    const float largest = Isa::hmax(top);
    const bool all_finite = _mm256_movemask_ps(finite) == 0xff;
    // a NaN or infinite input makes the group's products NaN, as the f32 path's would be
    x_scale[g] = all_finite ? largest / 32767.0f : NAN;
    const __m256 inverse = _mm256_set1_ps(all_finite && largest > 0 ? 32767.0f / largest : 0.0f);
    sums[g] = sum_of(xg, gs);
    for (int64_t b = 0; b < gs; b += 32) {
      const float* xb = xg + b;
      __m256 v[4];
      for (int i = 0; i < 4; ++i) v[i] = _mm256_loadu_ps(xb + 8 * i);
      __m256i lo, hi;
      if constexpr (Bits == 4) {  // even inputs, then odd
        auto pick = [](__m256 a, __m256 c, bool odd) {
          const __m256 mixed = odd ? _mm256_shuffle_ps(a, c, _MM_SHUFFLE(3, 1, 3, 1)) : _mm256_shuffle_ps(a, c, _MM_SHUFFLE(2, 0, 2, 0));
          return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(mixed), 0xD8));
        };
        lo = round_to_int16(pick(v[0], v[1], false), pick(v[2], v[3], false), inverse);
        hi = round_to_int16(pick(v[0], v[1], true), pick(v[2], v[3], true), inverse);
      } else {
        lo = round_to_int16(v[0], v[1], inverse);
        hi = round_to_int16(v[2], v[3], inverse);
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(x16 + 2 * (g * gs + b)), lo);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(x16 + 2 * (g * gs + b) + 32), hi);
    }
  }
}

// 8 int32 partial sums of a 32-input block's q · x16.
template <int Bits>
inline __m256i block_dot_int16(const std::byte* p, __m256i xa, __m256i xb) {
  if constexpr (Bits == 4) {
    const __m256i bytes = _mm256_cvtepu8_epi16(Isa::load16(p));
    const __m256i low = _mm256_and_si256(bytes, _mm256_set1_epi16(0x0f));
    const __m256i high = _mm256_srli_epi16(bytes, 4);
    return _mm256_add_epi32(_mm256_madd_epi16(low, xa), _mm256_madd_epi16(high, xb));
  } else {
    const __m256i a = _mm256_cvtepu8_epi16(Isa::load16(p)), b = _mm256_cvtepu8_epi16(Isa::load16(p + 16));
    return _mm256_add_epi32(_mm256_madd_epi16(a, xa), _mm256_madd_epi16(b, xb));
  }
}

// sum[i] += row i's (of kRows, `stride` bytes apart from p) int32 products with x16 over one group
// of kBlocks blocks; each x block is loaded once for all the rows.
template <int Bits, int kBlocks, int kRows>
inline void add_group_int16(const std::byte* p, size_t stride, const std::byte* x16, __m256i (&sum)[kRows]) {
  _Pragma("GCC unroll 4")
  for (int b = 0; b < kBlocks; ++b) {
    const __m256i xa = Isa::load_i(x16 + 64 * b), xb = Isa::load_i(x16 + 64 * b + 32);
    _Pragma("GCC unroll 4")
    for (int i = 0; i < kRows; ++i)
      sum[i] = _mm256_add_epi32(sum[i], block_dot_int16<Bits>(p + i * stride + b * 4 * Bits, xa, xb));
  }
}

// Each group's sum of q · x16 is in units of scale_g · x_scale_g: `scale` holds those products.
// kRows rows at once: each x block is loaded once for all of them, and their chains overlap
// (SmolLM2's 576-input rows are 18 groups: one row alone is mostly latency). dots[i] = row i's.
template <int Bits, int kBlocks, int kRows>
inline void rows_dot_int16(const std::byte* p, size_t stride, const std::byte* x16, const float* scale,
                           int64_t groups, float* dots) {
  constexpr int kBlockBytes = 4 * Bits;
  if constexpr (kRows == 1) {
    // One row: groups in pairs on two accumulators (one FMA chain's latency per group was the
    // bound) and one prefetch per pair (a pair of 64-input groups is one cache line).
    constexpr int kGroupBytes = kBlocks * kBlockBytes;
    auto group_sum = [&](const std::byte* q, const std::byte* x) {
      __m256i sum[1] = {_mm256_setzero_si256()};
      add_group_int16<Bits, kBlocks, 1>(q, 0, x, sum);
      return _mm256_cvtepi32_ps(sum[0]);
    };
    F acc0 = Isa::zero(), acc1 = Isa::zero();
    int64_t g = 0;
    for (; g + 2 <= groups; g += 2) {
      prefetch_ahead<2 * kGroupBytes>(p);
      acc0 = Isa::fma(group_sum(p, x16), Isa::set1(scale[g]), acc0);
      acc1 = Isa::fma(group_sum(p + kGroupBytes, x16 + 64 * kBlocks), Isa::set1(scale[g + 1]), acc1);
      p += 2 * kGroupBytes;
      x16 += 128 * kBlocks;
    }
    if (g < groups) acc0 = Isa::fma(group_sum(p, x16), Isa::set1(scale[g]), acc0);
    dots[0] = Isa::hsum(Isa::add(acc0, acc1));
    return;
  }
  F acc[kRows];
  _Pragma("GCC unroll 4")
  for (int i = 0; i < kRows; ++i) acc[i] = Isa::zero();
  for (int64_t g = 0; g < groups; ++g) {
    __m256i sum[kRows];
    _Pragma("GCC unroll 4")
    for (int i = 0; i < kRows; ++i) {
      prefetch_ahead<kBlocks * kBlockBytes>(p + i * stride);
      sum[i] = _mm256_setzero_si256();
    }
    add_group_int16<Bits, kBlocks, kRows>(p, stride, x16, sum);
    p += kBlocks * kBlockBytes;
    x16 += 64 * kBlocks;
    _Pragma("GCC unroll 4")
    for (int i = 0; i < kRows; ++i)
      acc[i] = Isa::fma(_mm256_cvtepi32_ps(sum[i]), Isa::set1(scale[i * groups + g]), acc[i]);
  }
  _Pragma("GCC unroll 4")
  for (int i = 0; i < kRows; ++i) dots[i] = Isa::hsum(acc[i]);
}

// Rows shorter than kShortRowBytes four at a time (SmolLM2's 288- and 768-byte rows: decode on one
// thread 79-84 -> 85-88 tok/s), longer rows one at a time: each row is then one stream the
// prefetchers follow, where two rows at once were two interleaved ones (1B decode, two cores:
// 24-27 -> 28-34 tok/s; the kernel bench's 4096 x 4096 on one core 7.3-8.0 -> 9.6-10.0 GB/s).
constexpr size_t kShortRowBytes = 1024;

template <int Bits, ScaleFormat S>
void matvec_int16(const PackedMatrix& w, const float* prepared, int64_t first, int64_t last, float* y) {
  const int64_t groups = w.groups();
  const float* sums = prepared + w.cols;
  const float* x_scale = sums + groups;
  const auto* x16 = reinterpret_cast<const std::byte*>(prepared);
  for_each_batch_scaled<S, true>(w, first, last, 1.0f, [&](int64_t r0, int64_t rows, const float* scale, const float* bias) {
    auto dot_rows = [&]<int kRows>(int64_t i) {
      float dots[kRows];
      const std::byte* p = w.weight_row(r0 + i);
      const float* s = scale + i * groups;
      switch (w.group_size) {
        case 32: rows_dot_int16<Bits, 1, kRows>(p, w.weight_stride, x16, s, groups, dots); break;
        case 64: rows_dot_int16<Bits, 2, kRows>(p, w.weight_stride, x16, s, groups, dots); break;
        default: rows_dot_int16<Bits, 4, kRows>(p, w.weight_stride, x16, s, groups, dots); break;  // 128
      }
      for (int k = 0; k < kRows; ++k) y[r0 + i + k - first] = dots[k] + bias_total(bias + (i + k) * groups, sums, groups);
    };
    int64_t i = 0;
    if (w.weight_stride < kShortRowBytes)
      for (; i + 4 <= rows; i += 4) dot_rows.template operator()<4>(i);
    for (; i < rows; ++i) dot_rows.template operator()<1>(i);
  }, x_scale);
}

template <int Bits>
void matvec_int16_scales(const PackedMatrix& w, const float* prepared, int64_t first, int64_t last, float* y) {
  switch (w.scale_format) {
    case ScaleFormat::f32: return matvec_int16<Bits, ScaleFormat::f32>(w, prepared, first, last, y);
    case ScaleFormat::f16: return matvec_int16<Bits, ScaleFormat::f16>(w, prepared, first, last, y);
    default: return matvec_int16<Bits, ScaleFormat::bf16>(w, prepared, first, last, y);
  }
}

void prepare_decode(const PackedMatrix& w, const float* x, float* prepared) {
  if (!int16_activations_apply(w)) return prepare_matvec(w, x, prepared);
  if (w.bits == 4) return prepare_int16<4>(w, x, prepared);
  return prepare_int16<8>(w, x, prepared);
}

void decode(const PackedMatrix& w, const float* prepared, int64_t first, int64_t last, float* y) {
  if (!int16_activations_apply(w)) return matvec(w, prepared, first, last, y);
  if (w.bits == 4) return matvec_int16_scales<4>(w, prepared, first, last, y);
  return matvec_int16_scales<8>(w, prepared, first, last, y);
}

}  // namespace

const Kernels table{"avx2", true, prepare_decode, decode, prepare_gemm, dequantize, gemm,
                    avx2::rms_norm, avx2::swiglu, avx2::exp_shifted, avx2::attend};

}  // namespace salut::backend::cpu::avx2_linear

namespace salut::backend::cpu {
const Kernels* avx2_kernels() { return &avx2_linear::table; }
}  // namespace salut::backend::cpu
