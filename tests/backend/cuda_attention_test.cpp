// The CUDA backend's decode attention over long caches (many key ranges, ranges that end inside
// a 32-key chunk, GQA groups of every register size) against a double-precision reference. The
// keys and values are multiples of 1/256 below 2, exact in the f16 cache, so only the kernels'
// f32 arithmetic is measured. Skips without a GPU.

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "backend/backend.h"
#include "gpu_backend.h"

namespace salut::backend {
namespace {

std::vector<float> f16_exact(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> step(-511, 511);
  std::vector<float> v(n);
  for (auto& x : v) x = float(step(rng)) / 256.0f;
  return v;
}

// Prefills `first` positions, then decodes `steps` single positions; checks every decode step.
void check_decode(int heads, int kv_heads, int head_dim, int64_t first, int steps, int64_t capacity) {
  auto backend = testing::cuda_backend_or_none();
  if (!backend) GTEST_SKIP() << "no CUDA GPU here";
  const AttentionParams p{heads, kv_heads, head_dim, float(1.0 / std::sqrt(double(head_dim)))};
  const int64_t total = first + steps, kv_dim = int64_t(kv_heads) * head_dim, q_dim = int64_t(heads) * head_dim;
  const auto keys = f16_exact(size_t(total * kv_dim), 7), values = f16_exact(size_t(total * kv_dim), 8);
  const auto queries = f16_exact(size_t(total * q_dim), 6);
  std::vector<KvLayer> caches = backend->alloc_kv(1, capacity, kv_dim);
  KvLayer& cache = caches[0];
  Tensor q = backend->alloc(first, q_dim), k = backend->alloc(first, kv_dim), v = backend->alloc(first, kv_dim),
         out = backend->alloc(first, q_dim);
  backend->write_rows(q, 0, queries.data(), first);
  backend->write_rows(k, 0, keys.data(), first);
  backend->write_rows(v, 0, values.data(), first);
  backend->attention(q, k, v, cache, 0, p, out);
  Tensor q1 = backend->alloc(1, q_dim), k1 = backend->alloc(1, kv_dim), v1 = backend->alloc(1, kv_dim),
         out1 = backend->alloc(1, q_dim);
  std::vector<float> got(static_cast<size_t>(q_dim));
  for (int64_t at = first; at < total; ++at) {
    backend->write_rows(q1, 0, queries.data() + at * q_dim, 1);
    backend->write_rows(k1, 0, keys.data() + at * kv_dim, 1);
    backend->write_rows(v1, 0, values.data() + at * kv_dim, 1);
    backend->attention(q1, k1, v1, cache, at, p, out1);
    backend->read_rows(out1, 0, 1, got.data());
    for (int h = 0; h < heads; ++h) {
      const int kvh = h / (heads / kv_heads);
      std::vector<double> score(size_t(at + 1));
      double max_score = -INFINITY, total_weight = 0;
      for (int64_t t = 0; t <= at; ++t) {
        double dot = 0;
        for (int d = 0; d < head_dim; ++d)
          dot += double(queries[at * q_dim + h * head_dim + d]) * keys[t * kv_dim + kvh * head_dim + d];
        score[size_t(t)] = dot * p.scale;
        max_score = std::max(max_score, score[size_t(t)]);
      }
      for (auto& s : score) total_weight += s = std::exp(s - max_score);
      for (int d = 0; d < head_dim; ++d) {
        double want = 0;
        for (int64_t t = 0; t <= at; ++t) want += score[size_t(t)] / total_weight * values[t * kv_dim + kvh * head_dim + d];
        ASSERT_NEAR(got[size_t(h * head_dim + d)], want, 1e-4)
            << "position " << at << " head " << h << " dim " << d << " (" << heads << "/" << kv_heads << " heads of "
            << head_dim << ", capacity " << capacity << ")";
      }
    }
  }
  for (Tensor* t : {&q, &k, &v, &out, &q1, &k1, &v1, &out1}) backend->free(*t);
  backend->free_kv(caches);
}

// rope_attention on the GPU (keys rotated as they are appended) against the CPU backend's (rope,
// then attention) for a prefill and then decode steps: the attention outputs, which the keys
// appended at every step feed (the GPU's cache is f16: compared at 2e-3).
void check_rotated(bool traditional, int rotary_dim) {
  auto gpu_backend = testing::cuda_backend_or_none();
  if (!gpu_backend) GTEST_SKIP() << "no CUDA GPU here";
  auto cpu_backend = make_cpu_backend(1);
  Backend* backends[2] = {gpu_backend.get(), cpu_backend.get()};
  const int heads = 8, kv_heads = 2, head_dim = 64;
  const AttentionParams p{heads, kv_heads, head_dim, 0.125f};
  RopeParams rope;
  rope.rotary_dim = rotary_dim;
  rope.traditional = traditional;
  rope.input_scale = 1.25f;
  for (int i = 0; i < rotary_dim / 2; ++i)
    rope.inv_freq.push_back(std::pow(10000.0f, -2.0f * float(i) / float(rotary_dim)));
  const int64_t q_dim = heads * head_dim, kv_dim = kv_heads * head_dim;
  std::vector<KvLayer> caches[2] = {backends[0]->alloc_kv(1, 64, kv_dim), backends[1]->alloc_kv(1, 64, kv_dim)};
  int64_t at = 0;
  for (int64_t rows : {7, 1, 1}) {
    const auto queries = f16_exact(size_t(rows * q_dim), uint32_t(10 + at));
    const auto keys = f16_exact(size_t(rows * kv_dim), uint32_t(20 + at));
    const auto values = f16_exact(size_t(rows * kv_dim), uint32_t(30 + at));
    std::vector<float> out[2];
    for (int s = 0; s < 2; ++s) {
      Backend& b = *backends[s];
      Tensor q = b.alloc(rows, q_dim), k = b.alloc(rows, kv_dim), v = b.alloc(rows, kv_dim), o = b.alloc(rows, q_dim);
      b.write_rows(q, 0, queries.data(), rows);
      b.write_rows(k, 0, keys.data(), rows);
      b.write_rows(v, 0, values.data(), rows);
      b.rope_attention(q, k, v, caches[s][0], at, rope, p, o);
      out[s].resize(queries.size());
      b.read_rows(o, 0, rows, out[s].data());
      for (Tensor* t : {&q, &k, &v, &o}) b.free(*t);
    }
    for (size_t i = 0; i < queries.size(); ++i) {
      ASSERT_NEAR(out[0][i], out[1][i], 2e-3) << "output " << i << " at position " << at;
    }
    at += rows;
  }
  for (int s = 0; s < 2; ++s) backends[s]->free_kv(caches[s]);
}

TEST(CudaAttention, KeysRotatedAsTheyAreAppended) { check_rotated(false, 64); }
TEST(CudaAttention, KeysRotatedPartlyAndInterleaved) {
  check_rotated(false, 32);
  check_rotated(true, 32);
}

TEST(CudaAttention, DecodeOverALongCacheWithManyRanges) { check_decode(32, 8, 128, 4093, 3, 4225); }
TEST(CudaAttention, DecodeInAShortCache) { check_decode(32, 8, 128, 5, 3, 641); }
TEST(CudaAttention, DecodeWithAGroupOfThree) { check_decode(9, 3, 64, 700, 3, 1100); }
TEST(CudaAttention, DecodeOfEveryGroupSize) {
  for (int group : {1, 2, 8, 16}) check_decode(2 * group, 2, 128, 333, 2, 600);
}
// Long caches take the tensor-core kernel (from kMmaDecodeMinCapacity): every group size, both of
// its head sizes.
TEST(CudaAttention, DecodeOfEveryGroupSizeOverALongCache) {
  for (int group : {1, 2, 4, 8, 16}) check_decode(2 * group, 2, 128, 1500, 2, 2100);
  check_decode(12, 4, 64, 1300, 2, 1400);
}
TEST(CudaAttention, DecodeOfHeadSize96) { check_decode(8, 4, 96, 1000, 2, 2000); }
TEST(CudaAttention, DecodeOfOtherHeadSizes) { check_decode(4, 2, 80, 500, 2, 900); }
// A server's cache is sized for its whole context: a few keys in it are cut into few ranges (the
// grid's other blocks return at once), on the tensor-core, CUDA-core and other-head-size kernels.
TEST(CudaAttention, DecodeOfAShortSequenceInALargeCache) {
  check_decode(32, 8, 128, 5, 3, 8192);
  check_decode(32, 8, 128, 300, 2, 8192);
  check_decode(32, 8, 64, 130, 2, 1000);
  check_decode(4, 2, 80, 3, 2, 4000);
}

}  // namespace
}  // namespace salut::backend
