#include "weights/quantization.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"

namespace salut::weights {
namespace {

class Resolver {
 public:
  Resolver(const WeightStore& store, std::string_view module) : store_(store), module_(module) {}

  const TensorView* find(std::string_view suffix) const { return store_.find(module_ + std::string(suffix)); }

  [[noreturn]] void fail(const TensorView* t, const std::string& reason) const {
    const auto where = t ? (store_.folder() / store_.file_of(t->name)).string() : store_.folder().string();
    throw Error(Errc::not_a_model, fmt::format("{}: {}", where, reason));
  }

  void expect_shape(const TensorView* t, std::vector<int64_t> want, const QuantSpec* spec) const {
    if (t->shape == want) return;
    fail(t, fmt::format("{} has shape [{}], expected [{}]{}", t->name, fmt::join(t->shape, ", "), fmt::join(want, ", "),
                        spec ? fmt::format(" for {} (wrong quantization shape)", to_string(*spec)) : ""));
  }

  void expect_2d(const TensorView* t) const {
    if (t->shape.size() != 2)
      fail(t, fmt::format("{} has shape [{}], expected a matrix", t->name, fmt::join(t->shape, ", ")));
  }

  const WeightStore& store_;
  std::string module_;
};

bool fits_mode(QuantMode mode, DType scales) {
  switch (mode) {
    case QuantMode::affine: return scales == DType::F32 || scales == DType::F16 || scales == DType::BF16;
    case QuantMode::mxfp4:
    case QuantMode::mxfp8: return scales == DType::U8 || scales == DType::F8_E8M0;
    case QuantMode::nvfp4: return scales == DType::U8 || scales == DType::F8_E4M3;
  }
  return false;
}

// mlx-lm's infer_quant_config: group and bits from the shapes, the mode from the scales' dtype.
std::optional<QuantSpec> infer_spec(const TensorView& weight, const TensorView& scales, int64_t in) {
  const int64_t packed = weight.shape[1], groups = scales.shape[1];
  if (in <= 0 || groups <= 0 || in % groups != 0 || (packed * 32) % in != 0) return std::nullopt;
  QuantSpec spec{QuantMode::affine, int(packed * 32 / in), int(in / groups)};
  if (scales.dtype == DType::F32 || scales.dtype == DType::F16 || scales.dtype == DType::BF16) return spec;
  for (auto mode : {QuantMode::nvfp4, QuantMode::mxfp4, QuantMode::mxfp8}) {
    const QuantSpec d = default_spec(mode);
    if (d.bits == spec.bits && d.group_size == spec.group_size) return d;
  }
  return std::nullopt;
}

}  // namespace

size_t LinearView::row_bytes() const { return out_features > 0 ? weight->nbytes / size_t(out_features) : 0; }

LinearView resolve_linear(const WeightStore& store, const ModelConfig& config, std::string_view module_path,
                          std::optional<int64_t> in_features) {
  Resolver r(store, module_path);
  LinearView v;
  v.module = std::string(module_path);
  v.weight = r.find(".weight");
  if (!v.weight) r.fail(nullptr, fmt::format("missing tensor '{}.weight'", module_path));
  r.expect_2d(v.weight);
  v.out_features = v.weight->shape[0];
  v.scales = r.find(".scales");
  v.biases = r.find(".biases");
  v.bias = r.find(".bias");

  const std::optional<QuantSpec>* override = config.override_for(module_path);
  const bool quantized = override ? override->has_value() : v.scales != nullptr;

  if (!quantized) {
    if (v.scales)
      r.fail(v.scales, fmt::format("{} exists but the config's quantization leaves {} unquantized", v.scales->name,
                                   module_path));
    if (v.biases) r.fail(v.biases, fmt::format("{} exists but {} is not quantized", v.biases->name, module_path));
    if (!is_float(v.weight->dtype) || v.weight->dtype == DType::F64)
      r.fail(v.weight, fmt::format("{} is {}, expected F32, F16 or BF16 (or quantized, with .scales)", v.weight->name,
                                   name(v.weight->dtype)));
    v.in_features = v.weight->shape[1];
    if (in_features && *in_features != v.in_features) r.expect_shape(v.weight, {v.out_features, *in_features}, nullptr);
  } else {
    if (!v.scales) r.fail(v.weight, fmt::format("missing tensor '{}.scales' (the config quantizes {})", module_path,
                                                module_path));
    if (v.weight->dtype != DType::U32)
      r.fail(v.weight, fmt::format("{} is {}, expected U32 (packed quantized weights)", v.weight->name,
                                   name(v.weight->dtype)));
    r.expect_2d(v.scales);
    QuantSpec spec;
    if (override) {
      spec = **override;
    } else if (in_features) {
      auto inferred = infer_spec(*v.weight, *v.scales, *in_features);
      if (!inferred)
        r.fail(v.scales, fmt::format("{} [{}] and {} [{}] fit no quantization of {} inputs (wrong quantization shape)",
                                     v.weight->name, fmt::join(v.weight->shape, ", "), v.scales->name,
                                     fmt::join(v.scales->shape, ", "), *in_features));
      spec = *inferred;
    } else {
      spec = config.quantization ? config.quantization->global : default_spec(QuantMode::affine);
      if (!fits_mode(spec.mode, v.scales->dtype) && !fits_mode(QuantMode::affine, v.scales->dtype)) {
        // U8 scales under an affine global spec: the one fp mode with the same bits and group
        for (auto mode : {QuantMode::nvfp4, QuantMode::mxfp4, QuantMode::mxfp8}) {
          const QuantSpec d = default_spec(mode);
          if (d.bits == spec.bits && d.group_size == spec.group_size) spec = d;
        }
      }
    }
    if (auto why = unsupported_reason(spec); !why.empty()) r.fail(v.weight, fmt::format("{}: {}", module_path, why));
    if (!fits_mode(spec.mode, v.scales->dtype))
      r.fail(v.scales, fmt::format("{} is {}, expected {} scales for {}", v.scales->name, name(v.scales->dtype),
                                   spec.mode == QuantMode::affine ? "F32, F16 or BF16" : "U8", to_string(spec)));
    const int64_t packed = v.weight->shape[1];
    if ((packed * 32) % spec.bits != 0)
      r.fail(v.weight, fmt::format("{} has {} words per row, not a whole number of {}-bit values (wrong "
                                   "quantization shape)",
                                   v.weight->name, packed, spec.bits));
    v.in_features = packed * 32 / spec.bits;
    if (in_features && *in_features != v.in_features)
      r.expect_shape(v.weight, {v.out_features, *in_features * spec.bits / 32}, &spec);
    if (v.in_features % spec.group_size != 0)
      r.fail(v.weight, fmt::format("{} holds {} inputs per row, not a multiple of the group size {} (wrong "
                                   "quantization shape)",
                                   v.weight->name, v.in_features, spec.group_size));
    r.expect_shape(v.scales, {v.out_features, v.in_features / spec.group_size}, &spec);
    if (spec.mode == QuantMode::affine) {
      if (!v.biases) r.fail(v.scales, fmt::format("missing tensor '{}.biases' (affine quantization)", module_path));
      if (v.biases->dtype != v.scales->dtype)
        r.fail(v.biases, fmt::format("{} is {} but the scales are {}", v.biases->name, name(v.biases->dtype),
                                     name(v.scales->dtype)));
      r.expect_shape(v.biases, v.scales->shape, &spec);
    } else if (v.biases) {
      r.fail(v.biases, fmt::format("{} exists but {} quantization has no biases", v.biases->name, name(spec.mode)));
    }
    if (const TensorView* g = r.find(".global_scale"); g && spec.mode == QuantMode::nvfp4) {
      if (g->numel() != 1 || !is_float(g->dtype) || g->dtype == DType::F64)
        r.fail(g, fmt::format("{} is {} [{}], expected one F32, F16 or BF16 value", g->name, name(g->dtype),
                              fmt::join(g->shape, ", ")));
      v.global_scale = load_float(g->dtype, g->data);
    }
    v.quant = spec;
  }
  if (v.bias) {
    if (!is_float(v.bias->dtype) || v.bias->dtype == DType::F64)
      r.fail(v.bias, fmt::format("{} is {}, expected F32, F16 or BF16", v.bias->name, name(v.bias->dtype)));
    r.expect_shape(v.bias, {v.out_features}, nullptr);
  }
  return v;
}

namespace {

// Element j of a row of packed values: bits [j*bits, j*bits + bits) of the little-endian stream.
uint32_t extract(const std::byte* row, int64_t j, int bits) {
  const uint64_t bit = uint64_t(j) * uint64_t(bits);
  const std::byte* word = row + (bit / 32) * 4;
  const unsigned shift = bit % 32;
  uint64_t v = load_u32(word) >> shift;
  if (shift + bits > 32) v |= uint64_t(load_u32(word + 4)) << (32 - shift);
  return uint32_t(v & ((1u << bits) - 1));
}

// One MLX arithmetic step in `t` (computed in float, rounded to t): what a bf16/f16 array op does.
float round_to(DType t, float x) {
  switch (t) {
    case DType::BF16: return bf16_to_f32(f32_to_bf16(x));
    case DType::F16: return f16_to_f32(f32_to_f16(x));
    default: return x;
  }
}

}  // namespace

void dequantize_row(const LinearView& layer, int64_t row, float* out, Rounding rounding) {
  if (row < 0 || row >= layer.out_features)
    throw Error(Errc::invalid_argument, fmt::format("{}: row {} of {}", layer.module, row, layer.out_features));
  const int64_t in = layer.in_features;
  const std::byte* w = layer.weight->data + size_t(row) * layer.row_bytes();
  if (!layer.quant) {
    const size_t item = item_size(layer.weight->dtype);
    for (int64_t j = 0; j < in; ++j) out[j] = load_float(layer.weight->dtype, w + size_t(j) * item);
    return;
  }
  const QuantSpec& q = *layer.quant;
  const int64_t groups = in / q.group_size;
  const DType sdt = layer.scales->dtype;
  const size_t sitem = item_size(sdt);
  const std::byte* s = layer.scales->data + size_t(row * groups) * sitem;

  switch (q.mode) {
    case QuantMode::affine: {
      const std::byte* b = layer.biases->data + size_t(row * groups) * sitem;
      const DType rdt = rounding == Rounding::like_mlx ? sdt : DType::F32;
      for (int64_t g = 0; g < groups; ++g) {
        const float scale = load_float(sdt, s + size_t(g) * sitem);
        const float bias = load_float(sdt, b + size_t(g) * sitem);
        for (int64_t k = 0; k < q.group_size; ++k) {
          const int64_t j = g * q.group_size + k;
          const float scaled = round_to(rdt, float(extract(w, j, q.bits)) * scale);
          out[j] = round_to(rdt, scaled + bias);
        }
      }
      return;
    }
    case QuantMode::mxfp4:
    case QuantMode::mxfp8:
    case QuantMode::nvfp4: {
      // nvfp4: scale = e4m3 * (global_scale / (448 * 6)) when a global scale exists (mlx ops.cpp).
      const float inv_global = layer.global_scale ? *layer.global_scale / (448.0f * 6.0f) : 1.0f;
      for (int64_t g = 0; g < groups; ++g) {
        const uint8_t sbyte = std::to_integer<uint8_t>(s[g]);
        const float scale = q.mode == QuantMode::nvfp4 ? e4m3_to_f32(sbyte) * inv_global : e8m0_to_f32(sbyte);
        for (int64_t k = 0; k < q.group_size; ++k) {
          const int64_t j = g * q.group_size + k;
          const uint32_t v = extract(w, j, q.bits);
          out[j] = (q.bits == 4 ? e2m1_to_f32(uint8_t(v)) : e4m3_to_f32(uint8_t(v))) * scale;
        }
      }
      return;
    }
  }
}

}  // namespace salut::weights
