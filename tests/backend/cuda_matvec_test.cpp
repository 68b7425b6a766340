// The CUDA backend's decode products (the tiled tensor-core matvec and the streamed one, which
// large layers take) on affine 4- and 8-bit layers of every group size and scale type, against
// the exact product in double: single layers, three layers as one job (q/k/v: bands of tiles
// that meet a layer's end), and the product added into a residual. Both paths run on the same
// layers by lowering the size from which products stream. Skips without a GPU.
//
// Tolerance: |y - exact| <= 1e-4 * Σ|w x|. The matvec feeds the tensor cores x as two f16 parts
// (~22 bits) and 1024 + q for the weights, then subtracts 1024 * Σx per group in f32: a few
// units of 2^-24 of (1024 + 15) * Σ|x| per group. A wrong value, scale, bias, order or tile is
// off by far more.

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "backend/backend.h"
#include "backend/cuda/kernels.h"
#include "gpu_backend.h"
#include "test_layers.h"

namespace salut::backend {
namespace {

using testing::LayerSpec;
using testing::TestLayer;

// x · Wᵀ exactly, with Σ|w x| per output: [rows][outs].
struct Exact {
  std::vector<double> value, magnitude;
};
Exact exact_product(const TestLayer& layer, const std::vector<float>& x, int64_t rows, int64_t outs, int64_t in) {
  Exact e{std::vector<double>(size_t(rows * outs)), std::vector<double>(size_t(rows * outs))};
  for (int64_t o = 0; o < outs; ++o) {
    const std::vector<double> w = layer.exact_row(o);
    for (int64_t r = 0; r < rows; ++r) {
      double sum = 0, magnitude = 0;
      for (int64_t j = 0; j < in; ++j) {
        const double p = w[size_t(j)] * x[size_t(r * in + j)];
        sum += p;
        magnitude += std::fabs(p);
      }
      e.value[size_t(r * outs + o)] = sum;
      e.magnitude[size_t(r * outs + o)] = magnitude;
    }
  }
  return e;
}

void expect_close(const std::vector<float>& got, const Exact& want, const std::vector<float>& added, const char* what) {
  int failures = 0;
  for (size_t i = 0; i < got.size() && failures < 5; ++i) {
    const double exact = want.value[i] + (added.empty() ? 0.0 : double(added[i]));
    if (!(std::fabs(double(got[i]) - exact) <= 1e-4 * want.magnitude[i] + 1e-30)) {
      ++failures;
      ADD_FAILURE() << what << ": value " << i << " is " << got[i] << ", exact " << exact << " (Σ|wx| "
                    << want.magnitude[i] << ")";
    }
  }
}

struct Product {
  std::unique_ptr<Backend> backend;
  explicit Product(std::unique_ptr<Backend> b) : backend(std::move(b)) {}
  std::vector<float> read(const Tensor& t) {
    std::vector<float> v(size_t(t.rows * t.cols));
    backend->read_rows(t, 0, t.rows, v.data());
    return v;
  }
  Tensor upload(const std::vector<float>& host, int64_t rows, int64_t cols) {
    Tensor t = backend->alloc(rows, cols);
    backend->write_rows(t, 0, host.data(), rows);
    return t;
  }
};

class CudaMatvec : public ::testing::TestWithParam<LayerSpec> {
 protected:
  void TearDown() override { cuda::set_streamed_min_bytes(cuda::kStreamedMinBytes); }
};

TEST_P(CudaMatvec, BothPathsMatchTheExactProduct) {
  auto backend = testing::cuda_backend_or_none();
  if (!backend) GTEST_SKIP() << "no CUDA GPU here";
  Product p(std::move(backend));
  const LayerSpec spec = GetParam();
  // 300 tiles (blocks of two or three, bands of two and one) over 4608 inputs (stages of a run of
  // groups and a shorter last one), and a layer narrower than one stage
  struct Shape {
    int64_t out, in;
  };
  uint32_t seed = 11;
  for (const Shape shape : {Shape{4800, 4608}, Shape{272, 640}}) {
    const TestLayer layer(spec, shape.out, shape.in, seed++);
    const LinearWeights w = p.backend->load_linear(layer.view());
    for (int64_t rows : {1, 7}) {  // decode; two passes of the matvec (4 rows, then 3)
      const std::vector<float> x = testing::random_floats(size_t(rows * shape.in), seed++);
      const Exact want = exact_product(layer, x, rows, shape.out, shape.in);
      const std::vector<float> residual = testing::random_floats(size_t(rows * shape.out), seed++);
      Tensor xt = p.upload(x, rows, shape.in);
      for (size_t streamed_from : {size_t(0), SIZE_MAX}) {
        cuda::set_streamed_min_bytes(streamed_from);
        SCOPED_TRACE(::testing::Message() << shape.out << "x" << shape.in << ", " << rows << " rows, "
                                          << (streamed_from == 0 ? "streamed" : "tiled"));
        Tensor out = p.backend->alloc(rows, shape.out);
        p.backend->linear(xt, w, out);
        expect_close(p.read(out), want, {}, "linear");
        Tensor sum = p.upload(residual, rows, shape.out), product = p.backend->alloc(rows, shape.out);
        p.backend->linear_add(xt, w, product, sum);
        expect_close(p.read(sum), want, residual, "linear_add");
        p.backend->free(out);
        p.backend->free(sum);
        p.backend->free(product);
      }
      p.backend->free(xt);
    }
  }
}

TEST_P(CudaMatvec, ThreeLayersAsOneJob) {
  auto backend = testing::cuda_backend_or_none();
  if (!backend) GTEST_SKIP() << "no CUDA GPU here";
  Product p(std::move(backend));
  const LayerSpec spec = GetParam();
  const int64_t in = 1024;
  const TestLayer q(spec, 2064, in, 3), k(spec, 528, in, 4), v(spec, 528, in, 5);  // odd tile counts
  const LinearWeights wq = p.backend->load_linear(q.view()), wk = p.backend->load_linear(k.view()),
                      wv = p.backend->load_linear(v.view());
  const std::vector<float> x = testing::random_floats(size_t(2 * in), 6);
  Tensor xt = p.upload(x, 2, in);
  for (size_t streamed_from : {size_t(0), SIZE_MAX}) {
    cuda::set_streamed_min_bytes(streamed_from);
    SCOPED_TRACE(streamed_from == 0 ? "streamed" : "tiled");
    Tensor oq = p.backend->alloc(2, 2064), ok = p.backend->alloc(2, 528), ov = p.backend->alloc(2, 528);
    const LinearWeights* layers[] = {&wq, &wk, &wv};
    Tensor* outs[] = {&oq, &ok, &ov};
    p.backend->linear_many(xt, layers, outs);
    expect_close(p.read(oq), exact_product(q, x, 2, 2064, in), {}, "q");
    expect_close(p.read(ok), exact_product(k, x, 2, 528, in), {}, "k");
    expect_close(p.read(ov), exact_product(v, x, 2, 528, in), {}, "v");
    p.backend->free(oq);
    p.backend->free(ok);
    p.backend->free(ov);
  }
  p.backend->free(xt);
}

// The gated matvec (gate and up in one streamed pass, the SwiGLU at its bands' ends, its output
// prepared for the next product by whichever block completes each group) against the parts it
// replaces: both products, the SwiGLU, then the down projection, which must find the same input
// prepared. Bit for bit. 72 tiles: most groups span blocks; 304: most lie within one block;
// 7 rows: more than it takes (the parts run instead).
TEST_P(CudaMatvec, GatedHalfOfTheMlpIsItsPartsExactly) {
  auto backend = testing::cuda_backend_or_none();
  if (!backend) GTEST_SKIP() << "no CUDA GPU here";
  Product p(std::move(backend));
  const LayerSpec spec = GetParam();
  cuda::set_streamed_min_bytes(0);
  const int64_t in = 1024, out = 512;
  uint32_t seed = 31;
  for (const int64_t hidden : {int64_t(1152), int64_t(4864)}) {
    const TestLayer gate(spec, hidden, in, seed++), up(spec, hidden, in, seed++), down(spec, out, hidden, seed++);
    const LinearWeights wg = p.backend->load_linear(gate.view()), wu = p.backend->load_linear(up.view()),
                        wd = p.backend->load_linear(down.view());
    for (const int64_t rows : {1, 3, 7}) {
      SCOPED_TRACE(::testing::Message() << hidden << " hidden, " << rows << " rows");
      Tensor xt = p.upload(testing::random_floats(size_t(rows * in), seed++), rows, in);
      std::vector<float> h[2], y[2];
      for (int fused = 0; fused < 2; ++fused) {
        Tensor g = p.backend->alloc(rows, hidden), u = p.backend->alloc(rows, hidden), d = p.backend->alloc(rows, out);
        if (fused) p.backend->gated_linear(xt, wg, wu, g, u, g);
        else p.backend->Backend::gated_linear(xt, wg, wu, g, u, g);
        p.backend->linear(g, wd, d);
        h[fused] = p.read(g);
        y[fused] = p.read(d);
        for (Tensor* t : {&g, &u, &d}) p.backend->free(*t);
      }
      EXPECT_EQ(h[0], h[1]);
      EXPECT_EQ(y[0], y[1]);
      p.backend->free(xt);
    }
  }
}

std::vector<LayerSpec> tiled_specs() {
  std::vector<LayerSpec> specs;
  for (int bits : {4, 8})
    for (int group : {32, 64, 128})
      for (auto dtype : {weights::DType::F32, weights::DType::F16, weights::DType::BF16})
        specs.push_back({weights::QuantMode::affine, bits, group, dtype});
  return specs;
}

INSTANTIATE_TEST_SUITE_P(TiledFormats, CudaMatvec, ::testing::ValuesIn(tiled_specs()),
                         [](const ::testing::TestParamInfo<LayerSpec>& info) { return info.param.name(); });

}  // namespace
}  // namespace salut::backend
