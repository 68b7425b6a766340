#pragma once
// How one layer is quantized, as MLX's mx.quantize names it: a mode, bits per weight, group size.

#include <optional>
#include <string>
#include <string_view>

namespace salut::weights {

enum class QuantMode {
  affine,  // w = scale * q + bias per group; scales and biases in F32/F16/BF16
  mxfp4,   // E2M1 values, E8M0 scale per 32
  nvfp4,   // E2M1 values, E4M3 scale per 16 (times an optional global scale)
  mxfp8,   // E4M3 values, E8M0 scale per 32
};

std::string_view name(QuantMode mode);
std::optional<QuantMode> parse_quant_mode(std::string_view name);

struct QuantSpec {
  QuantMode mode = QuantMode::affine;
  int bits = 4;
  int group_size = 64;

  bool operator==(const QuantSpec&) const = default;
};

// mx.quantize's defaults for a mode when group_size or bits are not given:
// affine 64/4, mxfp4 32/4, nvfp4 16/4, mxfp8 32/8.
QuantSpec default_spec(QuantMode mode);

// Empty when Salut supports the spec, else why not ("affine quantization with 7 bits is not
// supported (2, 3, 4, 5, 6 or 8)"). Affine: bits 2, 3, 4, 5, 6, 8 and groups 32, 64, 128; the other
// modes allow exactly their default.
std::string unsupported_reason(const QuantSpec& spec);

std::string to_string(const QuantSpec& spec);  // "affine 4-bit, group 64"

}  // namespace salut::weights
