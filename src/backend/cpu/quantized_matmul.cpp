#include "backend/cpu/quantized_matmul.h"

#include <fmt/format.h>

#include <vector>

#include "core/error.h"

namespace salut::backend::cpu {

CpuLinear CpuLinear::from_view(const weights::LinearView& view) {
  return CpuLinear{view, 0, view.out_features};
}

CpuLinear CpuLinear::rows(int64_t first, int64_t count) const {
  if (first < 0 || count <= 0 || first + count > out_features)
    throw Error(Errc::not_a_model, fmt::format("{}: rows [{}, {}) are outside its {} outputs", view.module, first,
                                               first + count, out_features));
  return CpuLinear{view, first_row + first, count};
}

void CpuLinear::dequantize_row(int64_t row, float* out) const { weights::dequantize_row(view, first_row + row, out); }

void linear(const float* x, int64_t rows, const CpuLinear& w, float* out) {
  const int64_t in = w.view.in_features;
  const int64_t outs = w.out_features;
#pragma omp parallel
  {
    std::vector<float> row(in);
#pragma omp for schedule(static)
    for (int64_t o = 0; o < outs; ++o) {
      w.dequantize_row(o, row.data());
      for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * in;
        float sum = 0;
        for (int64_t i = 0; i < in; ++i) sum += row[i] * xr[i];
        out[r * outs + o] = sum;
      }
    }
  }
}

}  // namespace salut::backend::cpu
