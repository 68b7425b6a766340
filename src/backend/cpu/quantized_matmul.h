#pragma once
// Linear layers on the CPU: out[r] = W · x[r] for dense (F32/F16/BF16) and MLX-quantized
// weights read in place from the mapped file.

#include <cstdint>

#include "weights/quantization.h"

namespace salut::backend::cpu {

// A linear layer as the CPU backend keeps it: the store's view plus a window of output rows
// (phi3's fused projections are split into such windows).
struct CpuLinear {
  weights::LinearView view;
  int64_t first_row = 0;
  int64_t out_features = 0;

  static CpuLinear from_view(const weights::LinearView& view);
  CpuLinear rows(int64_t first, int64_t count) const;
  // Row `row` of this window as `view.in_features` floats.
  void dequantize_row(int64_t row, float* out) const;
};

// out [rows, w.out_features] = x [rows, in] · Wᵀ.
void linear(const float* x, int64_t rows, const CpuLinear& w, float* out);

}  // namespace salut::backend::cpu
