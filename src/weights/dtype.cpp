#include "weights/dtype.h"

#include <array>
#include <bit>
#include <cmath>
#include <cstring>

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

namespace salut::weights {
namespace {

struct DTypeInfo {
  DType type;
  std::string_view name;
  size_t size;
};

constexpr std::array<DTypeInfo, 15> kTypes = {{
    {DType::F32, "F32", 4},     {DType::F16, "F16", 2},         {DType::BF16, "BF16", 2},
    {DType::F64, "F64", 8},     {DType::U8, "U8", 1},           {DType::U16, "U16", 2},
    {DType::U32, "U32", 4},     {DType::U64, "U64", 8},         {DType::I8, "I8", 1},
    {DType::I16, "I16", 2},     {DType::I32, "I32", 4},         {DType::I64, "I64", 8},
    {DType::BOOL, "BOOL", 1},   {DType::F8_E4M3, "F8_E4M3", 1}, {DType::F8_E8M0, "F8_E8M0", 1},
}};

const DTypeInfo& info(DType t) { return kTypes[static_cast<size_t>(t)]; }

}  // namespace

size_t item_size(DType t) { return info(t).size; }
std::string_view name(DType t) { return info(t).name; }

std::optional<DType> parse_dtype(std::string_view safetensors_name) {
  for (const auto& t : kTypes)
    if (t.name == safetensors_name) return t.type;
  return std::nullopt;
}

bool is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64; }

float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000 | (mant << 13);  // inf, NaN (payload kept)
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    int e = 113;
    while (!(mant & 0x400)) {
      mant <<= 1;
      --e;
    }
    bits = sign | (uint32_t(e) << 23) | ((mant & 0x3ff) << 13);
  }
  return std::bit_cast<float>(bits);
}

uint16_t f32_to_f16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000);
  const uint32_t ax = x & 0x7fffffff;
  if (ax > 0x7f800000) return sign | 0x7e00 | uint16_t((ax >> 13) & 0x3ff);  // NaN, stays quiet
  if (ax >= 0x477ff000) return sign | 0x7c00;                                 // rounds to >= 65536: inf
  if (ax < 0x38800000) {  // below 2^-14: subnormal half (or zero); scale to units of 2^-24
    if (ax < 0x33000000) return sign;  // below 2^-25: rounds to zero (exactly 2^-25 ties to 0)
    const uint32_t mant = (ax & 0x7fffff) | 0x800000;
    const int shift = 126 - int(ax >> 23);  // 14..24
    uint32_t q = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;
    return sign | uint16_t(q);
  }
  uint32_t r = ax - 0x38000000;  // rebias 127 -> 15
  r += 0xfff + ((r >> 13) & 1);  // round to nearest even
  return sign | uint16_t(r >> 13);
}

float bf16_to_f32(uint16_t b) { return std::bit_cast<float>(uint32_t(b) << 16); }

uint16_t f32_to_bf16(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffff) > 0x7f800000) return uint16_t((x >> 16) | 0x40);  // quiet NaN
  x += 0x7fff + ((x >> 16) & 1);
  return uint16_t(x >> 16);
}

float e4m3_to_f32(uint8_t v) {
  // 1 sign, 4 exponent (bias 7), 3 mantissa bits; subnormals at exponent 0; no infinities.
  if ((v & 0x7f) == 0x7f) return (v & 0x80) ? -NAN : NAN;
  const int exp = (v >> 3) & 0xf;
  const int mant = v & 0x7;
  const float mag = exp == 0 ? std::ldexp(float(mant), -9) : std::ldexp(float(8 + mant), exp - 10);
  return (v & 0x80) ? -mag : mag;
}

float e8m0_to_f32(uint8_t v) {
  if (v == 255) return INFINITY;
  if (v == 0) return std::bit_cast<float>(uint32_t(0x00400000));  // 2^-127, a float subnormal
  return std::bit_cast<float>(uint32_t(v) << 23);
}

float e2m1_to_f32(uint8_t v) {
  static constexpr float kLut[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                                     -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};
  return kLut[v & 0xf];
}

uint16_t load_u16(const std::byte* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

uint32_t load_u32(const std::byte* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

float load_f32(const std::byte* p) {
  float v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

float load_float(DType t, const std::byte* p) {
  switch (t) {
    case DType::F32: return load_f32(p);
    case DType::F16: return f16_to_f32(load_u16(p));
    case DType::BF16: return bf16_to_f32(load_u16(p));
    default: return NAN;
  }
}

}  // namespace salut::weights
