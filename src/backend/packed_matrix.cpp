#include "backend/packed_matrix.h"

#include <fmt/format.h>

#include "backend/backend.h"
#include "core/error.h"
#include "weights/quantization.h"

namespace salut::backend {
namespace {

ScaleFormat scale_format_of(weights::DType t) {
  switch (t) {
    case weights::DType::F32: return ScaleFormat::f32;
    case weights::DType::F16: return ScaleFormat::f16;
    case weights::DType::BF16: return ScaleFormat::bf16;
    default: return ScaleFormat::none;
  }
}

}  // namespace

PackedMatrix pack_view(const weights::LinearView& v, int64_t first_row, int64_t rows) {
  PackedMatrix m;
  m.rows = rows;
  m.cols = v.in_features;
  m.weight_stride = v.row_bytes();
  m.weight = v.weight->data + size_t(first_row) * m.weight_stride;
  m.weight_end = v.weight->data + v.weight->nbytes;
  if (!v.quant) {
    switch (v.weight->dtype) {
      case weights::DType::F16: m.format = WeightFormat::f16, m.bits = 16; break;
      case weights::DType::BF16: m.format = WeightFormat::bf16, m.bits = 16; break;
      default: m.format = WeightFormat::f32, m.bits = 32; break;
    }
    return m;
  }
  m.bits = v.quant->bits;
  m.group_size = v.quant->group_size;
  m.scale_stride = v.scales->nbytes / size_t(v.out_features);
  m.scales = v.scales->data + size_t(first_row) * m.scale_stride;
  switch (v.quant->mode) {
    case weights::QuantMode::affine:
      m.format = WeightFormat::affine;
      m.scale_format = scale_format_of(v.scales->dtype);
      m.biases = v.biases->data + size_t(first_row) * m.scale_stride;
      break;
    case weights::QuantMode::mxfp4: m.format = WeightFormat::mxfp4, m.scale_format = ScaleFormat::e8m0; break;
    case weights::QuantMode::mxfp8: m.format = WeightFormat::mxfp8, m.scale_format = ScaleFormat::e8m0; break;
    case weights::QuantMode::nvfp4:
      m.format = WeightFormat::nvfp4;
      m.scale_format = ScaleFormat::e4m3;
      // as weights::dequantize_row: scale = e4m3 * global_scale / (448 * 6)
      if (v.global_scale) m.global_scale = *v.global_scale / (448.0f * 6.0f);
      break;
  }
  return m;
}

std::vector<float> float_values(const weights::TensorView& view) {
  if (!weights::is_float(view.dtype))
    throw Error(Errc::not_a_model, fmt::format("tensor {} has dtype {}, expected a float type", view.name,
                                               weights::name(view.dtype)));
  std::vector<float> values(size_t(view.numel()));
  const size_t item = weights::item_size(view.dtype);
  for (int64_t i = 0; i < view.numel(); ++i) values[size_t(i)] = weights::load_float(view.dtype, view.data + i * item);
  return values;
}

}  // namespace salut::backend
