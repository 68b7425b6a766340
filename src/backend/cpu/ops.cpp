#include "backend/cpu/ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace salut::backend::cpu {

// Elementwise work below this many values stays on one thread.
constexpr int64_t kMinParallelValues = 1 << 15;

void rms_norm_rows(const Kernels& k, ThreadPool& pool, const float* x, int64_t rows, int64_t cols, const float* weight,
                   float eps, float* out) {
  pool.run_range(rows, std::max<int64_t>(1, kMinParallelValues / std::max<int64_t>(cols, 1)), [&](int64_t a, int64_t b) {
    for (int64_t r = a; r < b; ++r) k.rms_norm(x + r * cols, cols, weight, eps, out + r * cols);
  });
}

void swiglu(const Kernels& k, ThreadPool& pool, const float* gate, const float* up, int64_t n, float* out) {
  pool.run_range(n, kMinParallelValues, [&](int64_t a, int64_t b) { k.swiglu(gate + a, up + a, b - a, out + a); });
}

void RopeTable::prepare(const RopeParams& rope, int64_t first_position, int64_t count) {
  if (first == first_position && rows == count && inv_freq == rope.inv_freq) return;
  const size_t half = rope.inv_freq.size();
  cos.resize(size_t(count) * half);
  sin.resize(size_t(count) * half);
  for (int64_t r = 0; r < count; ++r) {
    const float position = static_cast<float>(first_position + r);
    for (size_t i = 0; i < half; ++i) {
      const float angle = position * rope.inv_freq[i];
      cos[r * half + i] = std::cos(angle);
      sin[r * half + i] = std::sin(angle);
    }
  }
  first = first_position;
  rows = count;
  inv_freq = rope.inv_freq;
}

void rope_rows(ThreadPool& pool, float* x, int64_t rows, int heads, int head_dim, const RopeParams& rope,
               const RopeTable& table) {
  const int half = rope.rotary_dim / 2;
  const int64_t grain = std::max<int64_t>(1, kMinParallelValues / (int64_t(heads) * head_dim));
  pool.run_range(rows, grain, [&](int64_t first, int64_t last) {
  for (int64_t r = first; r < last; ++r) {
    const float* c = table.cos.data() + r * half;
    const float* s = table.sin.data() + r * half;
    for (int h = 0; h < heads; ++h) {
      float* v = x + (r * heads + h) * head_dim;
      if (rope.input_scale != 1.0f)
        for (int i = 0; i < rope.rotary_dim; ++i) v[i] *= rope.input_scale;
      // rotate-half pairs (i, i + half); traditional pairs (2i, 2i + 1)
      const int step = rope.traditional ? 2 : 1, partner = rope.traditional ? 1 : half;
      for (int i = 0; i < half; ++i) {
        float& a = v[i * step];
        float& b = v[i * step + partner];
        const float x0 = a, x1 = b;
        a = x0 * c[i] - x1 * s[i];
        b = x0 * s[i] + x1 * c[i];
      }
    }
  }
  });
}

// Decode (one query row) splits each KV head's keys into ranges of at least kMinKeysPerRange,
// enough of them to keep every thread busy: a chunk is one range of one KV head for all the
// query heads that share it (GQA). The range is taken kKeysPerBlock keys at a time, every head of
// the group over one block before the next, so that a key and value row comes from memory once
// and from L1 for the group's other heads (a whole range at a time came back from L2 for them:
// salut_kernels_bench DecodeAttention at 4096 positions, 2 threads, 7.2 -> 8.9 GB/s). The blocks'
// and ranges' unnormalised results are merged as they come (running maximum).
constexpr int64_t kMinKeysPerRange = 128;
constexpr int64_t kKeysPerBlock = 32;  // 32 keys' rows of 64 dims, keys and values: 16 KiB

namespace {
// Kept between calls on a thread (grown once, then no allocation per token).
struct AttentionScratch {
  std::vector<float> partial;  // decode: the ranges' results, merged by the caller's thread
  std::vector<float> scores;   // a chunk's scores
  std::vector<float> block;    // decode: a block's result before it is merged
};
thread_local AttentionScratch attention_scratch;
}  // namespace

void causal_attention(const Kernels& k, ThreadPool& pool, const float* q, int64_t rows, const float* keys,
                      const float* values, int64_t first_position, const AttentionParams& p, float* out) {
  causal_attention(k, pool, q, rows, keys, values, KvLayout::rows(p), first_position, p, out);
}

void causal_attention(const Kernels& k, ThreadPool& pool, const float* q, int64_t rows, const float* keys,
                      const float* values, KvLayout layout, int64_t first_position, const AttentionParams& p,
                      float* out) {
  const int group = p.heads / p.kv_heads;
  const int64_t kv_stride = layout.row_stride;
  const int64_t q_stride = int64_t(p.heads) * p.head_dim;
  const int64_t last_visible = first_position + rows;
  if (rows == 1) {
    const int64_t visible = last_visible;
    const int64_t wanted = (int64_t(pool.threads()) * 8 + p.kv_heads - 1) / p.kv_heads;
    const int64_t ranges = std::clamp<int64_t>(visible / kMinKeysPerRange, 1, wanted);
    // per (kv head, range, head of the group): head_dim outputs, then the maximum and the total
    const int64_t slot = p.head_dim + 2;
    std::vector<float>& partial = attention_scratch.partial;  // the caller's (workers write into it)
    partial.resize(size_t(p.kv_heads * ranges * group * slot));
    pool.run(p.kv_heads * ranges, [&](int64_t chunk) {
      std::vector<float>& scores = attention_scratch.scores;  // the running thread's
      std::vector<float>& block = attention_scratch.block;
      const int kvh = int(chunk / ranges);
      const int64_t range = chunk % ranges;
      const int64_t t0 = visible * range / ranges, t1 = visible * (range + 1) / ranges;
      if (scores.size() < size_t(kKeysPerBlock)) scores.resize(size_t(kKeysPerBlock));
      if (block.size() < size_t(slot)) block.resize(size_t(slot));
      float* results = partial.data() + (kvh * ranges + range) * group * slot;
      for (int64_t b0 = t0; b0 < t1; b0 += kKeysPerBlock) {
        const int64_t n = std::min(kKeysPerBlock, t1 - b0);
        for (int g = 0; g < group; ++g) {
          const int h = kvh * group + g;
          float* result = results + g * slot;
          float* into = b0 == t0 ? result : block.data();
          into[p.head_dim] = k.attend(q + int64_t(h) * p.head_dim, keys + b0 * kv_stride + kvh * layout.head_stride,
                                      values + b0 * kv_stride + kvh * layout.head_stride, kv_stride, n, p.head_dim,
                                      p.scale, scores.data(), into, &into[p.head_dim + 1]);
          if (b0 == t0) continue;
          // the running result and this block's, weighed by e^(their maximum - the larger)
          const float m = std::max(result[p.head_dim], block[p.head_dim]);
          const float a = std::exp(result[p.head_dim] - m), c = std::exp(block[p.head_dim] - m);
          for (int d = 0; d < p.head_dim; ++d) result[d] = result[d] * a + block[d] * c;
          result[p.head_dim] = m;
          result[p.head_dim + 1] = result[p.head_dim + 1] * a + block[p.head_dim + 1] * c;
        }
      }
    });
    // out = Σ_r e^(m_r - m) out_r / Σ_r e^(m_r - m) total_r
    for (int h = 0; h < p.heads; ++h) {
      const int kvh = h / group, g = h % group;
      auto at = [&](int64_t range) { return partial.data() + ((kvh * ranges + range) * group + g) * slot; };
      float m = -INFINITY;
      for (int64_t r = 0; r < ranges; ++r) m = std::max(m, at(r)[p.head_dim]);
      float* o = out + int64_t(h) * p.head_dim;
      std::fill(o, o + p.head_dim, 0.0f);
      float total = 0;
      for (int64_t r = 0; r < ranges; ++r) {
        const float* part = at(r);
        const float w = std::exp(part[p.head_dim] - m);
        total += w * part[p.head_dim + 1];
        for (int d = 0; d < p.head_dim; ++d) o[d] += w * part[d];
      }
      const float inv = 1.0f / total;
      for (int d = 0; d < p.head_dim; ++d) o[d] *= inv;
    }
    return;
  }

  const int64_t pairs = rows * p.heads;
  // one chunk per (row, head) pair, or per several when there are many; later rows see more
  // keys, so chunks are claimed as threads come free rather than dealt out in slices
  const int64_t chunks = std::min(pairs, ThreadPool::kMaxChunks);
  const bool tiny = pairs * last_visible * p.head_dim < kMinParallelValues;
  auto work = [&](int64_t chunk) {
    std::vector<float>& scores = attention_scratch.scores;  // the running thread's
    if (scores.size() < size_t(last_visible)) scores.resize(size_t(last_visible));
    for (int64_t pair = pairs * chunk / chunks; pair < pairs * (chunk + 1) / chunks; ++pair) {
      const int64_t r = pair / p.heads;
      const int h = int(pair % p.heads), kvh = h / group;
      float* o = out + r * q_stride + int64_t(h) * p.head_dim;
      float total = 0;
      k.attend(q + r * q_stride + int64_t(h) * p.head_dim, keys + kvh * layout.head_stride,
               values + kvh * layout.head_stride, kv_stride, first_position + r + 1, p.head_dim, p.scale,
               scores.data(), o, &total);
      const float inv = 1.0f / total;
      for (int d = 0; d < p.head_dim; ++d) o[d] *= inv;
    }
  };
  if (tiny)
    for (int64_t c = 0; c < chunks; ++c) work(c);
  else
    pool.run(chunks, work);
}

void release_attention_scratch() { attention_scratch = {}; }

}  // namespace salut::backend::cpu
