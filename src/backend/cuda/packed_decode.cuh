#pragma once
// Device-side decoding of MLX's packed formats (see weights/quantization.h for the layout): a
// unit is 32 consecutive values of a row, `bits` words of the little-endian bit stream, and always
// lies inside one group (nvfp4's groups of 16: two per unit).

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "backend/packed_matrix.h"

namespace salut::backend::cuda {

__device__ __forceinline__ float e8m0_value(uint8_t v) {
  if (v == 255) return __int_as_float(0x7f800000);
  if (v == 0) return __int_as_float(0x00400000);  // 2^-127
  return __int_as_float(int(v) << 23);
}

__device__ __forceinline__ float e4m3_value(uint8_t v) {
  if ((v & 0x7f) == 0x7f) return __int_as_float(0x7fc00000);
  const int exp = (v >> 3) & 0xf, mant = v & 0x7;
  const float mag = exp == 0 ? ldexpf(float(mant), -9) : ldexpf(float(8 + mant), exp - 10);
  return (v & 0x80) ? -mag : mag;
}

__device__ __forceinline__ float e2m1_value(uint32_t v) {
  // 0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives
  const uint32_t m = v & 7;
  const float mag = m < 4 ? 0.5f * float(m) : float(1u << ((m >> 1) - 1)) * (1.0f + 0.5f * float(m & 1));
  return (v & 8) ? -mag : mag;
}

// Group g's scale (nvfp4's global scale applied) and bias of one row.
__device__ __forceinline__ float scale_at(const PackedMatrix& w, const std::byte* scales, int64_t g) {
  switch (w.scale_format) {
    case ScaleFormat::f32: return reinterpret_cast<const float*>(scales)[g];
    case ScaleFormat::f16: return __half2float(reinterpret_cast<const __half*>(scales)[g]);
    case ScaleFormat::bf16: return __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(scales)[g]);
    case ScaleFormat::e8m0: return e8m0_value(uint8_t(scales[g]));
    case ScaleFormat::e4m3: return e4m3_value(uint8_t(scales[g])) * w.global_scale;
    default: return 1.0f;
  }
}

__device__ __forceinline__ float bias_at(const PackedMatrix& w, const std::byte* biases, int64_t g) {
  switch (w.scale_format) {
    case ScaleFormat::f32: return reinterpret_cast<const float*>(biases)[g];
    case ScaleFormat::f16: return __half2float(reinterpret_cast<const __half*>(biases)[g]);
    case ScaleFormat::bf16: return __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(biases)[g]);
    default: return 0.0f;
  }
}

// Value k (0..31) of a unit whose words are `words` (Bits of them), unscaled: q for affine, the
// E2M1/E4M3 value for the fp formats.
template <int Bits, WeightFormat Format>
__device__ __forceinline__ float unit_value(const uint32_t* words, int k) {
  const int bit = k * Bits, word = bit >> 5, shift = bit & 31;
  uint32_t v = words[word] >> shift;
  if (shift + Bits > 32) v |= words[word + 1] << (32 - shift);
  v &= (1u << Bits) - 1;
  if constexpr (Format == WeightFormat::affine) return float(v);
  else if constexpr (Format == WeightFormat::mxfp8) return e4m3_value(uint8_t(v));
  else return e2m1_value(v);
}

// The words of unit u of row `row` (Bits words, 4-byte aligned).
template <int Bits>
__device__ __forceinline__ void load_unit(const std::byte* row, int64_t u, uint32_t* words) {
  const uint32_t* p = reinterpret_cast<const uint32_t*>(row) + u * Bits;
  if constexpr (Bits % 4 == 0) {
#pragma unroll
    for (int i = 0; i < Bits / 4; ++i) {
      const uint4 q = __ldg(reinterpret_cast<const uint4*>(p) + i);
      words[4 * i] = q.x, words[4 * i + 1] = q.y, words[4 * i + 2] = q.z, words[4 * i + 3] = q.w;
    }
  } else if constexpr (Bits % 2 == 0) {
#pragma unroll
    for (int i = 0; i < Bits / 2; ++i) {
      const uint2 q = __ldg(reinterpret_cast<const uint2*>(p) + i);
      words[2 * i] = q.x, words[2 * i + 1] = q.y;
    }
  } else {
#pragma unroll
    for (int i = 0; i < Bits; ++i) words[i] = __ldg(p + i);
  }
}

}  // namespace salut::backend::cuda
