#pragma once
// One linear layer (or embedding table) of a model, dense or MLX-quantized, found in a store and
// checked against its quantization. The weights stay where they are mapped.
//
// Quantized layout (mx.quantize): `weight` is U32 [out, in * bits / 32]; each row's words are one
// little-endian bit stream and element j sits at bits [j*bits, j*bits + bits) (3-, 5- and 6-bit
// values cross word boundaries). `scales` is [out, in / group_size]: F32/F16/BF16 for affine
// (with `biases` of the same shape and dtype: w = scale * q + bias), U8 holding E8M0 (mxfp4,
// mxfp8) or E4M3 (nvfp4) otherwise. Values are E2M1 nibbles (mxfp4, nvfp4) or E4M3 bytes (mxfp8).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "weights/model_config.h"
#include "weights/quant_spec.h"
#include "weights/weight_store.h"

namespace salut::weights {

struct LinearView {
  std::string module;  // "model.layers.0.mlp.down_proj"
  int64_t out_features = 0;
  int64_t in_features = 0;
  std::optional<QuantSpec> quant;       // nullopt: dense
  const TensorView* weight = nullptr;   // dense: F32/F16/BF16 [out, in]; quantized: U32 [out, in*bits/32]
  const TensorView* scales = nullptr;   // quantized only
  const TensorView* biases = nullptr;   // affine only
  const TensorView* bias = nullptr;     // the layer's own bias [out] (e.g. qwen2 q/k/v), if any
  std::optional<float> global_scale;    // nvfp4 with a `<module>.global_scale` tensor

  bool quantized() const { return quant.has_value(); }
  size_t row_bytes() const;  // bytes of one row of `weight`
};

// As mlx-lm's load_model decides: a module the config names is quantized as its override says (a
// spec, or `false` for dense); otherwise it is quantized iff `<module>.scales` exists, with the
// group size, bits and mode read from the shapes when `in_features` is given (as mlx-lm's
// infer_quant_config does), else with the config's global spec. Every shape and dtype is checked;
// throws salut::Error (not_a_model) naming the file, the tensor and what was expected.
LinearView resolve_linear(const WeightStore& store, const ModelConfig& config, std::string_view module_path,
                          std::optional<int64_t> in_features = std::nullopt);

// How dequantize_row rounds affine values.
enum class Rounding {
  like_mlx,  // as mx.dequantize in the scales' dtype: scale * q rounded to it, + bias rounded again
  none,      // in float32 throughout, as the engine computes (mlx-lm with float32 parameters)
};

// Row `row` of the layer's weight as float, `in_features` values, exactly as mx.dequantize gives it
// (`rounding` says in which dtype for affine); the fp modes give what mx.dequantize(...,
// dtype=float32) gives. The scalar reference that the kernels are tested against.
void dequantize_row(const LinearView& layer, int64_t row, float* out, Rounding rounding = Rounding::like_mlx);

}  // namespace salut::weights
