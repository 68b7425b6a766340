// The AVX2 + FMA + F16C kernel table (this file is compiled with -mavx2 -mfma -mf16c and only
// called after the CPU says it has them). 8 floats per vector: a 32-input block is 4 vectors.

#include <immintrin.h>

#include <bit>
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
  static constexpr int kGemmM = 3;  // 3 x 4 accumulators + 3 + 1 operands = 16 registers
  static constexpr int kGemmN = 4;
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

}  // namespace

const Kernels table{"avx2", prepare_matvec, matvec, prepare_gemm, dequantize, gemm,
                    avx2::rms_norm, avx2::swiglu, avx2::attend};

}  // namespace salut::backend::cpu::avx2_linear

namespace salut::backend::cpu {
const Kernels* avx2_kernels() { return &avx2_linear::table; }
}  // namespace salut::backend::cpu
