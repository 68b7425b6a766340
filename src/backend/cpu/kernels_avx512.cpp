// The AVX-512 kernel table (compiled with -mavx512f -mavx512bw -mavx512vl plus the AVX2 set,
// and only called after the CPU says it has them). 16 floats per vector: a 32-input block is 2
// vectors. The row-wise ops are the AVX2 ones. The build machine of this file's first version
// had no AVX-512: the tests run it wherever the CPU has it.

#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "backend/cpu/block_order.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/ops_avx2.h"
#include "weights/dtype.h"

namespace salut::backend::cpu::avx512_linear {
namespace {

template <int Bits>
inline constexpr ShuffleControl<16> kShuffle = make_shuffle<16>(Bits);

struct Isa {
  static constexpr int L = 16;
  static constexpr int kGemmM = 12;  // prefill's GEMM tile: 12 x 2 accumulators + 2 + 1 operands of 32 registers
  static constexpr int kGemmN = 2;
  using F = __m512;
  using I = __m512i;

  static F zero() { return _mm512_setzero_ps(); }
  static F set1(float v) { return _mm512_set1_ps(v); }
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F blend(F a, F b, I mask) {
    return _mm512_mask_blend_ps(_mm512_cmplt_epi32_mask(mask, _mm512_setzero_si512()), a, b);
  }
  static float hsum(F v) { return _mm512_reduce_add_ps(v); }
  static I load_i(const void* p) { return _mm512_loadu_si512(p); }
  static I and_i(I a, I b) { return _mm512_and_si512(a, b); }
  template <int N>
  static I srli(I a) { return _mm512_srli_epi32(a, N); }
  static F cvt(I a) { return _mm512_cvtepi32_ps(a); }

  static __m128i load16(const std::byte* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
  static __m256i load32(const std::byte* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

  // The 16 lanes of an affine block of 32 values (block_order.h): lane k = values 2k, 2k+1.
  template <int Bits>
  static I affine_lanes(const std::byte* p) {
    if constexpr (Bits == 2) {
      const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
      return _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(bytes, bytes));  // lane k = byte k / 2
    } else if constexpr (Bits == 4) {
      return _mm512_cvtepu8_epi32(load16(p));
    } else if constexpr (Bits == 8) {
      return _mm512_cvtepu16_epi32(load32(p));
    } else {
      constexpr AffineLanes g{Bits, 16};
      const __m128i lo = load16(p);
      const __m128i hi = g.window(8) == 0 ? lo : load16(p + g.window(8));
      const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_broadcastsi128_si256(lo)),
                                              _mm256_broadcastsi128_si256(hi), 1);
      return _mm512_shuffle_epi8(both, load_i(kShuffle<Bits>.bytes));
    }
  }

  // 32 E2M1 values times 2: low nibbles (even inputs), then high nibbles (odd inputs).
  static void fp4_values(const std::byte* p, F v[2]) {
    const __m128i lut = _mm_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
    const __m128i nibble = _mm_set1_epi8(0x0f);
    const __m128i bytes = load16(p);
    v[0] = cvt(_mm512_cvtepi8_epi32(_mm_shuffle_epi8(lut, _mm_and_si128(bytes, nibble))));
    v[1] = cvt(_mm512_cvtepi8_epi32(_mm_shuffle_epi8(lut, _mm_and_si128(_mm_srli_epi16(bytes, 4), nibble))));
  }

  // 32 E4M3 values times 2^-8, in order, through f16 (see kernels_avx2.cpp).
  static void fp8_values(const std::byte* p, F v[2]) {
    const __m512i w = _mm512_cvtepu8_epi16(load32(p));
    const __m512i magnitude = _mm512_and_si512(w, _mm512_set1_epi16(0x7f));
    __m512i half = _mm512_or_si512(_mm512_slli_epi16(magnitude, 7),
                                   _mm512_slli_epi16(_mm512_and_si512(w, _mm512_set1_epi16(0x80)), 8));
    const __mmask32 nan = _mm512_cmpeq_epi16_mask(magnitude, _mm512_set1_epi16(0x7f));
    half = _mm512_mask_mov_epi16(half, nan, _mm512_or_si512(half, _mm512_set1_epi16(0x7e00)));
    v[0] = _mm512_cvtph_ps(_mm512_castsi512_si256(half));
    v[1] = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(half, 1));
  }

  static F load_f32(const std::byte* p) { return _mm512_loadu_ps(p); }
  static F load_f16(const std::byte* p) { return _mm512_cvtph_ps(load32(p)); }
  static F load_bf16(const std::byte* p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(load32(p)), 16));
  }
};

#include "backend/cpu/simd_linear.inl"

}  // namespace

const Kernels table{"avx512", false, prepare_matvec, matvec, prepare_gemm, dequantize, gemm,
                    avx2::rms_norm, avx2::swiglu, avx2::exp_shifted, avx2::attend};

}  // namespace salut::backend::cpu::avx512_linear

namespace salut::backend::cpu {
const Kernels* avx512_kernels() { return &avx512_linear::table; }
}  // namespace salut::backend::cpu
