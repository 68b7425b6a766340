#include "backend/cpu/quantized_matmul.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/error.h"

namespace salut::backend::cpu {
namespace {

// Decode splits a layer into chunks of rows holding at least this many bytes of weights: small
// enough to share a small layer, big enough that claiming a chunk costs nothing.
constexpr size_t kMinChunkBytes = 16 * 1024;
// From this many activation rows the GEMM path beats one matvec per row.
constexpr int64_t kMinGemmRows = 4;
// GEMM panels: kPanelRows weight rows x kPanelCols inputs of f32 (32 KiB: one core's L1).
constexpr int64_t kPanelRows = 32;
constexpr int64_t kPanelCols = 256;  // a multiple of every group size

ScaleFormat scale_format_of(weights::DType t) {
  switch (t) {
    case weights::DType::F32: return ScaleFormat::f32;
    case weights::DType::F16: return ScaleFormat::f16;
    case weights::DType::BF16: return ScaleFormat::bf16;
    default: return ScaleFormat::none;
  }
}

PackedMatrix pack(const weights::LinearView& v, int64_t first_row, int64_t rows) {
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

// The SIMD tables need whole 32-input blocks and a bounded row; anything else takes the
// reference path (no model seen so far needs it).
const Kernels& kernels_for(const Kernels& wanted, const PackedMatrix& w) {
  const bool blocks = w.cols % 32 == 0 || !w.quantized();
  return blocks && w.cols <= kMaxSimdCols ? wanted : scalar_kernels();
}

// Grown once and kept: the hot path allocates nothing.
std::vector<float>& scratch(int slot, size_t floats) {
  thread_local std::vector<float> buffers[2];
  if (buffers[slot].size() < floats) buffers[slot].resize(floats);
  return buffers[slot];
}

void matvec_rows(const Kernels& k, ThreadPool& pool, const float* x, int64_t rows, const PackedMatrix& w,
                 float* out) {
  float* prepared = scratch(0, size_t(prepared_size(w))).data();
  // chunks of at least kMinChunkBytes of weights, each a contiguous run of rows
  const int64_t grain = std::max<int64_t>(1, int64_t(kMinChunkBytes / std::max<size_t>(w.weight_stride, 1)));
  for (int64_t r = 0; r < rows; ++r) {
    k.prepare_matvec(w, x + r * w.cols, prepared);
    float* y = out + r * w.rows;
    pool.run_range(w.rows, grain, [&](int64_t first, int64_t last) { k.matvec(w, prepared, first, last, y + first); });
  }
}

void gemm_rows(const Kernels& k, ThreadPool& pool, const float* x, int64_t rows, const PackedMatrix& w, float* out) {
  // Activations in the kernels' order, all columns at once: [rows, cols].
  float* a = scratch(1, size_t(rows * w.cols)).data();
  pool.run_range(rows, 4, [&](int64_t first, int64_t last) {
    k.prepare_gemm(w, x + first * w.cols, last - first, 0, w.cols, a + first * w.cols);
    std::fill(out + first * w.rows, out + last * w.rows, 0.0f);
  });
  const int64_t tiles = (w.rows + kPanelRows - 1) / kPanelRows;
  pool.run(tiles, [&](int64_t tile) {
    float* panel = scratch(0, size_t(kPanelRows * kPanelCols)).data();
    const int64_t o0 = tile * kPanelRows, count = std::min(kPanelRows, w.rows - o0);
    for (int64_t k0 = 0; k0 < w.cols; k0 += kPanelCols) {
      const int64_t kc = std::min(kPanelCols, w.cols - k0);
      k.dequantize(w, o0, count, k0, kc, panel);
      k.gemm(rows, count, kc, a + k0, w.cols, panel, kc, out + o0, w.rows);
    }
  });
}

}  // namespace

CpuLinear CpuLinear::from_view(const weights::LinearView& view) {
  return CpuLinear{view, 0, view.out_features, pack(view, 0, view.out_features)};
}

CpuLinear CpuLinear::rows(int64_t first, int64_t count) const {
  if (first < 0 || count <= 0 || first + count > out_features)
    throw Error(Errc::not_a_model, fmt::format("{}: rows [{}, {}) are outside its {} outputs", view.module, first,
                                               first + count, out_features));
  return CpuLinear{view, first_row + first, count, pack(view, first_row + first, count)};
}

// Unrounded, as the kernels compute: embeddings feed float32 activations.
void CpuLinear::dequantize_row(int64_t row, float* out) const {
  weights::dequantize_row(view, first_row + row, out, weights::Rounding::none);
}

void linear(const Kernels& wanted, ThreadPool& pool, const float* x, int64_t rows, const CpuLinear& w, float* out) {
  const PackedMatrix& m = w.packed;
  const Kernels& k = kernels_for(wanted, m);
  // The GEMM path works on whole 32-input blocks (dense layers of other widths: one row at a time).
  if (rows >= kMinGemmRows && m.cols % 32 == 0)
    gemm_rows(k, pool, x, rows, m, out);
  else
    matvec_rows(k, pool, x, rows, m, out);
}

}  // namespace salut::backend::cpu
