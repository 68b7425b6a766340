#pragma once
// Scalar access to one value, scale or bias of a PackedMatrix, exactly as the reference
// dequantization (weights::dequantize_row) reads them. Every function here is `static` so that
// each kernel file, whatever instruction set it is compiled for, gets its own copy: the linker
// must never pick an AVX-512 build of a helper for code that runs on an AVX2 machine.

#include <cstring>

#include "backend/cpu/kernels.h"
#include "weights/dtype.h"

namespace salut::backend::cpu {

// Element j of a row of packed values: bits [j*bits, j*bits + bits) of the little-endian stream.
static inline uint32_t packed_value(const std::byte* row, int64_t j, int bits) {
  const uint64_t bit = uint64_t(j) * uint64_t(bits);
  uint64_t word = 0;
  std::memcpy(&word, row + (bit / 32) * 4, (bit % 32) + bits > 32 ? 8 : 4);
  return uint32_t((word >> (bit % 32)) & ((1u << bits) - 1));
}

// Group g's scale of row r as f32 (the nvfp4 global scale applied).
static inline float group_scale(const PackedMatrix& w, int64_t r, int64_t g) {
  const std::byte* s = w.scale_row(r);
  switch (w.scale_format) {
    case ScaleFormat::f32: return weights::load_f32(s + 4 * g);
    case ScaleFormat::f16: return weights::f16_to_f32(weights::load_u16(s + 2 * g));
    case ScaleFormat::bf16: return weights::bf16_to_f32(weights::load_u16(s + 2 * g));
    case ScaleFormat::e8m0: return weights::e8m0_to_f32(std::to_integer<uint8_t>(s[g]));
    case ScaleFormat::e4m3: return weights::e4m3_to_f32(std::to_integer<uint8_t>(s[g])) * w.global_scale;
    case ScaleFormat::none: return 1.0f;
  }
  return 1.0f;
}

// Group g's bias of row r (affine only).
static inline float group_bias(const PackedMatrix& w, int64_t r, int64_t g) {
  const std::byte* b = w.bias_row(r);
  switch (w.scale_format) {
    case ScaleFormat::f32: return weights::load_f32(b + 4 * g);
    case ScaleFormat::f16: return weights::f16_to_f32(weights::load_u16(b + 2 * g));
    case ScaleFormat::bf16: return weights::bf16_to_f32(weights::load_u16(b + 2 * g));
    default: return 0.0f;
  }
}

// The unscaled value of element j of row r: q for affine, the E2M1/E4M3 value for the fp
// modes, the weight itself when dense.
static inline float raw_value(const PackedMatrix& w, int64_t r, int64_t j) {
  const std::byte* row = w.weight_row(r);
  switch (w.format) {
    case WeightFormat::f32: return weights::load_f32(row + 4 * j);
    case WeightFormat::f16: return weights::f16_to_f32(weights::load_u16(row + 2 * j));
    case WeightFormat::bf16: return weights::bf16_to_f32(weights::load_u16(row + 2 * j));
    case WeightFormat::affine: return float(packed_value(row, j, w.bits));
    case WeightFormat::mxfp4:
    case WeightFormat::nvfp4: return weights::e2m1_to_f32(uint8_t(packed_value(row, j, 4)));
    case WeightFormat::mxfp8: return weights::e4m3_to_f32(std::to_integer<uint8_t>(row[j]));
  }
  return 0.0f;
}

}  // namespace salut::backend::cpu
