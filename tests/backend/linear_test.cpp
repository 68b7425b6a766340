// Every kernel table this CPU runs (scalar, AVX2, AVX-512), on linear layers of every format,
// against the exact product computed in double.
//
// Tolerance: |y - exact| <= 1e-5 * Σ_j |w_j x_j|. Σ|w x| is what rounding errors of a dot
// product scale with; each f32 addition adds at most 2^-24 (6e-8) of the running sum, and no
// kernel sums more than ~160 terms in a chain (8- or 16-lane accumulators, per-group sums,
// 256-input GEMM panels), so the worst case stays under 1e-5 and typical errors are ~1e-7. A
// wrong value, order, scale or bias is off by orders of magnitude more.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "backend/cpu/kernels.h"
#include "backend/cpu/quantized_matmul.h"
#include "test_layers.h"

namespace salut::backend::cpu {
namespace {

using testing::LayerSpec;
using testing::TestLayer;

constexpr double kTolerance = 1e-5;

std::vector<LayerSpec> all_specs() {
  std::vector<LayerSpec> specs;
  for (int bits : {2, 3, 4, 5, 6, 8})
    for (int group : {32, 64, 128})
      for (auto dtype : {weights::DType::F32, weights::DType::F16, weights::DType::BF16})
        specs.push_back({weights::QuantMode::affine, bits, group, dtype});
  specs.push_back({weights::QuantMode::mxfp4, 4, 32});
  specs.push_back({weights::QuantMode::nvfp4, 4, 16});
  specs.push_back({weights::QuantMode::nvfp4, 4, 16, weights::DType::F16, true});
  specs.push_back({weights::QuantMode::mxfp8, 8, 32});
  for (auto dtype : {weights::DType::F32, weights::DType::F16, weights::DType::BF16})
    specs.push_back({std::nullopt, 16, 32, dtype});
  return specs;
}

std::vector<const Kernels*> tables() {
  const Kernels* k[3];
  const int n = runnable_kernels(k);
  return {k, k + n};
}

// out [rows, outs] against the exact products; stops at the first few failures. A table that
// rounds decode's activations to int16 (kernels.h) may also be off by that rounding: at most
// max|x_g| / 65534 per input, times |w|.
void expect_exact(const TestLayer& layer, const float* x, int64_t rows, const float* out, int64_t outs,
                  const Kernels& k, int64_t first_out = 0) {
  const char* table = k.name;
  const int64_t in = layer.view().in_features;
  const PackedMatrix& packed = layer.linear().packed;
  const bool int16 = k.int16_activations && int16_activations_apply(packed) && rows < 4;
  int failures = 0;
  for (int64_t o = 0; o < outs && failures < 5; ++o) {
    const std::vector<double> w = layer.exact_row(first_out + o);
    for (int64_t r = 0; r < rows && failures < 5; ++r) {
      double exact = 0, magnitude = 0, rounding = 0;
      for (int64_t j = 0; j < in; ++j) {
        exact += w[size_t(j)] * x[r * in + j];
        magnitude += std::fabs(w[size_t(j)] * x[r * in + j]);
        if (int16) {
          const int64_t g0 = j / packed.group_size * packed.group_size;
          double top = 0;
          for (int64_t t = g0; t < g0 + packed.group_size; ++t) top = std::max(top, double(std::fabs(x[r * in + t])));
          rounding += std::fabs(w[size_t(j)]) * top / 65534.0;
        }
      }
      const double got = out[r * outs + o];
      if (!(std::fabs(got - exact) <= kTolerance * magnitude + 1.001 * rounding + 1e-30)) {
        ++failures;
        ADD_FAILURE() << table << ": row " << r << " output " << o << " of " << outs << " (" << rows << " rows, " << in
                      << " inputs): " << got << " vs exact " << exact << ", error " << std::fabs(got - exact) / magnitude
                      << " of Σ|wx|";
      }
    }
  }
}

class LinearKernels : public ::testing::TestWithParam<LayerSpec> {};

TEST_P(LinearKernels, EveryTableMatchesTheExactProduct) {
  const LayerSpec spec = GetParam();
  // one group; a few groups with outputs not a multiple of any vector width; enough bytes to
  // split between threads
  struct Shape {
    int64_t out, in;
  };
  std::vector<Shape> shapes = {{37, spec.group}, {70, 384}, {300, 1152}};
  if (!spec.mode) shapes.push_back({19, 100});  // dense rows of any width
  uint32_t seed = 1;
  for (const Shape& shape : shapes) {
    const TestLayer layer(spec, shape.out, shape.in, seed++);
    const CpuLinear linear_layer = layer.linear();
    for (int64_t rows : {1, 3, 17, 64}) {
      SCOPED_TRACE(::testing::Message() << shape.out << "x" << shape.in << ", " << rows << " rows");
      const std::vector<float> x = testing::random_floats(size_t(rows * shape.in), seed++);
      for (const Kernels* k : tables()) {
        std::vector<float> out(size_t(rows * shape.out), NAN);
        linear(*k, testing::pool(), x.data(), rows, linear_layer, out.data());
        expect_exact(layer, x.data(), rows, out.data(), shape.out, *k);
      }
    }
  }
}

TEST_P(LinearKernels, SlicedRowsAreTheirShareOfTheLayer) {
  const LayerSpec spec = GetParam();
  const TestLayer layer(spec, 90, 256, 7);
  const CpuLinear slice = layer.linear().rows(13, 50);  // phi3's fused projections are cut so
  ASSERT_EQ(slice.out_features, 50);
  for (int64_t rows : {1, 17}) {
    const std::vector<float> x = testing::random_floats(size_t(rows * 256), 8);
    for (const Kernels* k : tables()) {
      std::vector<float> out(size_t(rows * 50), NAN);
      linear(*k, testing::pool(), x.data(), rows, slice, out.data());
      expect_exact(layer, x.data(), rows, out.data(), 50, *k, 13);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllFormats, LinearKernels, ::testing::ValuesIn(all_specs()),
                         [](const ::testing::TestParamInfo<LayerSpec>& info) { return info.param.name(); });

TEST(KernelTables, ThisMachineRunsTheFastestItSupports) {
  const auto runnable = tables();
  ASSERT_GE(runnable.size(), 1u);
  EXPECT_STREQ(runnable.front()->name, "scalar");
  if (std::getenv("SALUT_CPU_KERNELS") == nullptr) {
    EXPECT_STREQ(active_kernels().name, runnable.back()->name);
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
    EXPECT_GE(runnable.size(), 2u);
  }
  if (!__builtin_cpu_supports("avx512bw")) {
    GTEST_SKIP() << "no AVX-512 on this CPU: that table is built but not run";
  }
}

}  // namespace
}  // namespace salut::backend::cpu
