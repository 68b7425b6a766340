#pragma once
// Element types of safetensors files, and exact scalar conversions of the small float formats.
// These are the reference conversions (the tests hold the SIMD kernels against them).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace salut::weights {

enum class DType : uint8_t {
  F32, F16, BF16, F64,
  U8, U16, U32, U64,
  I8, I16, I32, I64,
  BOOL,
  F8_E4M3,  // MLX stores these as uint8; nvfp4 group scales, mxfp8 values
  F8_E8M0,  // power-of-two scales of the mx formats
};

size_t item_size(DType t);
std::string_view name(DType t);  // the safetensors spelling: "BF16"
std::optional<DType> parse_dtype(std::string_view safetensors_name);
bool is_float(DType t);  // F32, F16, BF16, F64

// IEEE binary16 and bfloat16. Narrowing rounds to nearest, ties to even; NaN stays NaN.
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
float bf16_to_f32(uint16_t b);
uint16_t f32_to_bf16(float f);

// The 8- and 4-bit formats, as MLX 0.32 decodes them (mx.from_fp8, mx.dequantize): E4M3 ("FN":
// no infinities; 0x7F and 0xFF are NaN, 448 is the largest value). E8M0 is 2^(e-127): 0 gives
// 2^-127 and 255 gives +inf (OCP says NaN; MLX computes 2^128). E2M1 is the low nibble of `v`.
float e4m3_to_f32(uint8_t v);
float e8m0_to_f32(uint8_t v);
float e2m1_to_f32(uint8_t v);

// Unaligned little-endian loads from mapped weights (MLX writes unpadded headers).
uint16_t load_u16(const std::byte* p);
uint32_t load_u32(const std::byte* p);
float load_f32(const std::byte* p);
// One element of a float tensor (F32, F16 or BF16) as float.
float load_float(DType t, const std::byte* p);

}  // namespace salut::weights
