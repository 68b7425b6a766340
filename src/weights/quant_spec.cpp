#include "weights/quant_spec.h"

#include <fmt/format.h>

namespace salut::weights {

std::string_view name(QuantMode mode) {
  switch (mode) {
    case QuantMode::affine: return "affine";
    case QuantMode::mxfp4: return "mxfp4";
    case QuantMode::nvfp4: return "nvfp4";
    case QuantMode::mxfp8: return "mxfp8";
  }
  return "?";
}

std::optional<QuantMode> parse_quant_mode(std::string_view text) {
  for (auto mode : {QuantMode::affine, QuantMode::mxfp4, QuantMode::nvfp4, QuantMode::mxfp8})
    if (name(mode) == text) return mode;
  return std::nullopt;
}

QuantSpec default_spec(QuantMode mode) {
  switch (mode) {
    case QuantMode::affine: return {mode, 4, 64};
    case QuantMode::mxfp4: return {mode, 4, 32};
    case QuantMode::nvfp4: return {mode, 4, 16};
    case QuantMode::mxfp8: return {mode, 8, 32};
  }
  return {};
}

std::string unsupported_reason(const QuantSpec& spec) {
  if (spec.mode == QuantMode::affine) {
    const int b = spec.bits;
    if (b != 2 && b != 3 && b != 4 && b != 5 && b != 6 && b != 8)
      return fmt::format("affine quantization with {} bits is not supported (2, 3, 4, 5, 6 or 8)", b);
    const int g = spec.group_size;
    if (g != 32 && g != 64 && g != 128)
      return fmt::format("affine quantization with group size {} is not supported (32, 64 or 128)", g);
    return {};
  }
  const QuantSpec want = default_spec(spec.mode);
  if (spec.bits != want.bits || spec.group_size != want.group_size)
    return fmt::format("{} quantization needs {} bits and group size {}, not {} and {}", name(spec.mode), want.bits,
                       want.group_size, spec.bits, spec.group_size);
  return {};
}

std::string to_string(const QuantSpec& spec) {
  return fmt::format("{} {}-bit, group {}", name(spec.mode), spec.bits, spec.group_size);
}

}  // namespace salut::weights
