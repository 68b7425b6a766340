// salut_kernels_bench: the decode kernel (quantized matrix-vector) of each CPU kernel table, in
// GB/s of weights streamed, next to a plain streaming read of the same bytes in the same run.
// The matrices together exceed the last-level cache, as a model's layers do.
//
//   build/salut_kernels_bench --benchmark_counters_tabular=true

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/thread_pool.h"
#include "backend/token_draw.h"

namespace cpu = salut::backend::cpu;

namespace {

// well past any L3 (SALUT_BENCH_MB overrides, e.g. to see the in-cache speed)
const size_t kWorkingSetBytes = size_t(std::getenv("SALUT_BENCH_MB") ? std::atoi(std::getenv("SALUT_BENCH_MB")) : 256) << 20;

struct Matrices {
  std::vector<std::vector<std::byte>> weights, scales, biases;
  std::vector<cpu::PackedMatrix> packed;
  size_t bytes_each = 0;
};

// Random affine matrices (bf16 scales and biases) of rows x cols, enough to fill the working set.
Matrices make_affine(int64_t rows, int64_t cols, int bits, int group) {
  Matrices m;
  std::mt19937 rng(7);
  const size_t row_bytes = size_t(cols) * bits / 8, groups = size_t(cols / group);
  m.bytes_each = size_t(rows) * (row_bytes + 4 * groups);
  const size_t count = std::max<size_t>(2, kWorkingSetBytes / m.bytes_each);
  for (size_t i = 0; i < count; ++i) {
    auto fill = [&](size_t n, bool scale) {
      std::vector<std::byte> v(n);
      for (size_t j = 0; j < n; j += 2) {
        // bf16 around 0.01 for scales; random bits for packed values
        const uint16_t word = scale ? uint16_t(0x3c20 + (rng() & 0x3f)) : uint16_t(rng());
        std::memcpy(v.data() + j, &word, std::min<size_t>(2, n - j));
      }
      return v;
    };
    m.weights.push_back(fill(size_t(rows) * row_bytes, false));
    m.scales.push_back(fill(size_t(rows) * groups * 2, true));
    m.biases.push_back(fill(size_t(rows) * groups * 2, true));
    cpu::PackedMatrix p;
    p.format = cpu::WeightFormat::affine;
    p.bits = bits;
    p.group_size = group;
    p.scale_format = cpu::ScaleFormat::bf16;
    p.rows = rows;
    p.cols = cols;
    p.weight = m.weights.back().data();
    p.weight_stride = row_bytes;
    p.weight_end = p.weight + m.weights.back().size();
    p.scales = m.scales.back().data();
    p.biases = m.biases.back().data();
    p.scale_stride = groups * 2;
    m.packed.push_back(p);
  }
  return m;
}

const cpu::Kernels* table(int index) {
  const cpu::Kernels* all[3] = {};
  const int n = cpu::runnable_kernels(all);
  return index < n ? all[index] : nullptr;
}

void Matvec(benchmark::State& state) {
  const cpu::Kernels* k = table(int(state.range(0)));
  if (!k) return state.SkipWithError("kernel table not runnable here");
  const int64_t rows = state.range(1), cols = state.range(2);
  const int bits = int(state.range(3)), group = int(state.range(4));
  Matrices m = make_affine(rows, cols, bits, group);
  std::vector<float> x(static_cast<size_t>(cols)), y(static_cast<size_t>(rows));
  std::vector<float> prepared(static_cast<size_t>(cpu::prepared_size(m.packed[0])));
  for (int64_t i = 0; i < cols; ++i) x[size_t(i)] = std::sin(float(i));
  k->prepare_matvec(m.packed[0], x.data(), prepared.data());
  size_t i = 0;
  for (auto _ : state) {
    const cpu::PackedMatrix& w = m.packed[i++ % m.packed.size()];
    k->matvec(w, prepared.data(), 0, rows, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(k->name);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(m.bytes_each));
}

// All cores on one matrix at a time, split into row ranges as the engine splits a layer.
void MatvecAllCores(benchmark::State& state) {
  const cpu::Kernels* k = table(int(state.range(0)));
  if (!k) return state.SkipWithError("kernel table not runnable here");
  const int64_t rows = state.range(1), cols = state.range(2);
  Matrices m = make_affine(rows, cols, int(state.range(3)), int(state.range(4)));
  std::vector<float> x(static_cast<size_t>(cols)), y(static_cast<size_t>(rows));
  std::vector<float> prepared(static_cast<size_t>(cpu::prepared_size(m.packed[0])));
  for (int64_t i = 0; i < cols; ++i) x[size_t(i)] = std::sin(float(i));
  k->prepare_matvec(m.packed[0], x.data(), prepared.data());
  cpu::ThreadPool pool;
  const int64_t grain = std::max<int64_t>(1, int64_t(16384 / m.packed[0].weight_stride));
  size_t i = 0;
  for (auto _ : state) {
    const cpu::PackedMatrix& w = m.packed[i++ % m.packed.size()];
    pool.run_range(rows, grain, [&](int64_t first, int64_t last) {
      k->matvec(w, prepared.data(), first, last, y.data() + first);
    });
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(std::string(k->name) + ", " + std::to_string(pool.threads()) + " threads");
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(m.bytes_each));
}

void ReadAllCores(benchmark::State& state) {
  std::vector<uint64_t> a(kWorkingSetBytes / 8);
  for (size_t i = 0; i < a.size(); ++i) a[i] = i;
  cpu::ThreadPool pool;
  const size_t chunk = std::min(size_t(8) << 20, kWorkingSetBytes) / 8;
  size_t at = 0;
  for (auto _ : state) {
    const uint64_t* p = a.data() + at;
    pool.run_range(int64_t(chunk), 4096, [&](int64_t first, int64_t last) {
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (int64_t j = first; j + 4 <= last; j += 4) s0 += p[j], s1 += p[j + 1], s2 += p[j + 2], s3 += p[j + 3];
      benchmark::DoNotOptimize(s0 + s1 + s2 + s3);
    });
    at = (at + chunk) % a.size();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(chunk * 8));
}

// Decode attention (all cores, as the engine runs it) over f32 caches of SmolLM2's shape (9 query
// heads on 3 KV heads of 64 dims) at `positions`, one cache per layer, cycling through more layers
// than any cache holds: GB/s of keys and values read. Caches row-major or head-major (the CPU
// backend's).
void DecodeAttention(benchmark::State& state) {
  const cpu::Kernels* k = table(int(state.range(0)));
  if (!k) return state.SkipWithError("kernel table not runnable here");
  const salut::backend::AttentionParams p{9, 3, 64, 0.125f};
  const int64_t positions = state.range(1), width = int64_t(p.kv_heads) * p.head_dim;
  const size_t per_layer = size_t(positions * width);
  const size_t layers = std::max<size_t>(2, kWorkingSetBytes / (2 * per_layer * sizeof(float)));
  std::vector<float> keys(layers * per_layer), values(layers * per_layer), q(9 * 64), out(9 * 64);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  for (auto* v : {&keys, &values, &q})
    for (auto& x : *v) x = value(rng);
  cpu::ThreadPool pool(int(state.range(2)));
  const cpu::KvLayout layout = state.range(3) ? cpu::KvLayout::heads(p, positions) : cpu::KvLayout::rows(p);
  size_t i = 0;
  for (auto _ : state) {
    const size_t layer = i++ % layers;
    cpu::causal_attention(*k, pool, q.data(), 1, keys.data() + layer * per_layer, values.data() + layer * per_layer,
                          layout, positions - 1, p, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(std::string(k->name) + ", " + std::to_string(pool.threads()) + " threads");
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(2 * per_layer * sizeof(float)));
}

// Prefill's GEMM on one core, as the CPU backend runs a layer (quantized_matmul.cpp): x prepared,
// then per panel of weight rows x inputs, the panel dequantized to f32 and multiplied by every
// activation row. Counted in flops (2 per weight and row): set against the core's FMA peak.
void Gemm(benchmark::State& state) {
  const cpu::Kernels* k = table(int(state.range(0)));
  if (!k) return state.SkipWithError("kernel table not runnable here");
  const int64_t rows = state.range(1), outs = state.range(2), cols = state.range(3);
  const int64_t panel_rows = state.range(4), panel_cols = state.range(5);
  Matrices m = make_affine(outs, cols, 4, 64);
  const cpu::PackedMatrix& w = m.packed[0];
  std::vector<float> x(size_t(rows * cols)), a(size_t(rows * cols)), y(size_t(rows * outs));
  std::vector<float> panel(size_t(panel_rows * panel_cols));
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(float(i));
  for (auto _ : state) {
    k->prepare_gemm(w, x.data(), rows, 0, cols, a.data());
    std::fill(y.begin(), y.end(), 0.0f);
    for (int64_t o0 = 0; o0 < outs; o0 += panel_rows)
      for (int64_t k0 = 0; k0 < cols; k0 += panel_cols) {
        k->dequantize(w, o0, panel_rows, k0, panel_cols, panel.data());
        k->gemm(rows, panel_rows, panel_cols, a.data() + k0, cols, panel.data(), panel_cols, y.data() + o0, outs);
      }
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(k->name);
  state.counters["GFLOP/s"] = benchmark::Counter(double(state.iterations()) * 2.0 * double(rows * outs * cols) / 1e9,
                                                 benchmark::Counter::kIsRate);
}

// One sampled token from Llama 3's 128256 logits (backend/token_draw.h) with each table's exp:
// a draw's cost per token next to the decode step it follows. Filters: 0 none (temperature 0.7),
// 1 top_p 0.9, 2 top_k 40 + top_p 0.95 + min_p 0.05 (temperature 0.8).
void Draw(benchmark::State& state) {
  const cpu::Kernels* k = table(int(state.range(0)));
  if (!k) return state.SkipWithError("kernel table not runnable here");
  std::vector<float> logits(128256), work, scratch;
  std::mt19937 rng(5);
  std::normal_distribution<float> logit(0.0f, 3.0f);
  for (auto& v : logits) v = logit(rng);
  salut::backend::TokenDraw draw;
  draw.temperature = 0.7f;
  if (state.range(1) == 1) draw.top_p = 0.9f;
  if (state.range(1) == 2) draw.temperature = 0.8f, draw.top_k = 40, draw.top_p = 0.95f, draw.min_p = 0.05f;
  std::uniform_real_distribution<double> uniform(0, 1);
  for (auto _ : state) {
    state.PauseTiming();
    work = logits;
    draw.uniform = uniform(rng);
    state.ResumeTiming();
    benchmark::DoNotOptimize(salut::backend::draw_token(work, draw, scratch, k->exp_shifted));
  }
  state.SetLabel(k->name);
}

// The reference: a streaming read of the same working set (four independent sums).
void Read(benchmark::State& state) {
  std::vector<uint64_t> a(kWorkingSetBytes / 8);
  for (size_t i = 0; i < a.size(); ++i) a[i] = i;
  const size_t chunk = std::min(size_t(8) << 20, kWorkingSetBytes) / 8;
  size_t at = 0;
  for (auto _ : state) {
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    const uint64_t* p = a.data() + at;
    for (size_t j = 0; j < chunk; j += 4) s0 += p[j], s1 += p[j + 1], s2 += p[j + 2], s3 += p[j + 3];
    benchmark::DoNotOptimize(s0 + s1 + s2 + s3);
    at = (at + chunk) % a.size();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(chunk * 8));
}

}  // namespace

BENCHMARK(Read)->UseRealTime();
BENCHMARK(ReadAllCores)->UseRealTime();
BENCHMARK(MatvecAllCores)
    ->ArgNames({"table", "rows", "cols", "bits", "group"})
    ->Args({1, 2048, 2048, 4, 64})
    ->Args({1, 8192, 2048, 4, 64})
    ->Args({1, 1536, 576, 4, 32})
    ->UseRealTime();
// table, positions, threads (0: all cores), head-major
BENCHMARK(DecodeAttention)
    ->ArgNames({"table", "positions", "threads", "heads"})
    ->Args({1, 576, 0, 0})
    ->Args({1, 576, 0, 1})
    ->Args({1, 576, 1, 1})
    ->Args({1, 4096, 0, 0})
    ->Args({1, 4096, 0, 1})
    ->UseRealTime();
// table, filters
BENCHMARK(Draw)->ArgNames({"table", "filters"})->ArgsProduct({{0, 1}, {0, 1, 2}})->Unit(benchmark::kMicrosecond);
// table, activation rows, outputs, inputs, panel rows, panel inputs (the backend's: 64 x 256)
BENCHMARK(Gemm)
    ->ArgNames({"table", "rows", "outs", "cols", "panel_rows", "panel_cols"})
    ->Args({1, 512, 256, 2048, 32, 256})
    ->Args({1, 512, 256, 2048, 64, 256})
    ->UseRealTime();
// table (0 scalar, 1 avx2, 2 avx512), rows, cols, bits, group
BENCHMARK(Matvec)
    ->ArgNames({"table", "rows", "cols", "bits", "group"})
    ->Args({1, 4096, 4096, 4, 64})
    ->Args({1, 1536, 576, 4, 32})
    ->Args({1, 49152, 576, 4, 32})
    ->Args({1, 256, 576, 4, 32})
    ->Args({1, 4096, 4096, 8, 64})
    ->Args({1, 4096, 4096, 2, 64})
    ->Args({1, 4096, 4096, 3, 64})
    ->Args({1, 4096, 4096, 6, 64})
    ->Args({2, 4096, 4096, 4, 64})
    ->UseRealTime();

BENCHMARK_MAIN();
