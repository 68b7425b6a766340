// A token drawn on the GPU (backend/token_draw.h's draw), by one block: only the token comes back.
// The filters become thresholds found by radix selection over the logits' bits (top_p by mass,
// top_k by count, 8 bits a pass), so nothing is sorted. Masses and weights are summed as fixed-point
// integers (2^40 = probability 1 of the top token): integer sums do not depend on the order the
// threads add in, so a seed draws the same token every time. Written by hand: no CUDA library
// samples from a filtered distribution.

#include <cfloat>
#include <cstdint>

#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"

namespace salut::backend::cuda {
namespace {

constexpr int kDrawThreads = 1024;
constexpr double kOne = 1099511627776.0;  // 2^40: a weight of 1 in fixed point

// Keys that order the logits from the largest (key 0 side) down; NaN last of all.
__device__ __forceinline__ unsigned descending_key(float v) {
  if (v != v) return 0xFFFFFFFFu;
  if (v == 0.0f) v = 0.0f;  // -0 is 0, as the host's comparisons have it
  const unsigned bits = __float_as_uint(v);
  return ~((bits & 0x80000000u) ? ~bits : bits | 0x80000000u);
}

__device__ __forceinline__ unsigned long long fixed(float w) { return (unsigned long long)(double(w) * kOne); }

// Passes over the logits, four floats a load and four loads in flight: one SM reads the whole
// vocabulary each pass, and a load at a time left it waiting on L2 (~37 us a pass for 128k).
__device__ __forceinline__ bool aligned16(const float* x) { return (reinterpret_cast<uintptr_t>(x) & 15) == 0; }

// f(i, x[i]) for every i < n, strided over the block.
template <class F>
__device__ __forceinline__ void for_each_logit(const float* x, int n, F f) {
  if (!aligned16(x)) {
    for (int t = threadIdx.x; t < n; t += blockDim.x) f(t, x[t]);
    return;
  }
  const float4* x4 = reinterpret_cast<const float4*>(x);
  const int n4 = n / 4, s = blockDim.x;
  int j = threadIdx.x;
  for (; j + 3 * s < n4; j += 4 * s) {
    float4 v[4];
#pragma unroll
    for (int u = 0; u < 4; ++u) v[u] = x4[j + u * s];
#pragma unroll
    for (int u = 0; u < 4; ++u) {
      const int b = 4 * (j + u * s);
      f(b, v[u].x), f(b + 1, v[u].y), f(b + 2, v[u].z), f(b + 3, v[u].w);
    }
  }
  for (; j < n4; j += s) {
    const float4 v = x4[j];
    f(4 * j, v.x), f(4 * j + 1, v.y), f(4 * j + 2, v.z), f(4 * j + 3, v.w);
  }
  for (int t = 4 * n4 + int(threadIdx.x); t < n; t += s) f(t, x[t]);
}

// f(i, x[i]) for i in [first, last), in order (first a multiple of 4).
template <class F>
__device__ __forceinline__ void for_each_logit_in_run(const float* x, int first, int last, F f) {
  int i = first;
  if (aligned16(x)) {
    const float4* x4 = reinterpret_cast<const float4*>(x);
    int j = first / 4;
    const int end4 = last / 4;
    for (; j + 3 < end4; j += 4) {
      float4 v[4];
#pragma unroll
      for (int u = 0; u < 4; ++u) v[u] = x4[j + u];
#pragma unroll
      for (int u = 0; u < 4; ++u) {
        const int b = 4 * (j + u);
        f(b, v[u].x), f(b + 1, v[u].y), f(b + 2, v[u].z), f(b + 3, v[u].w);
      }
    }
    for (; j < end4; ++j) {
      const float4 v = x4[j];
      f(4 * j, v.x), f(4 * j + 1, v.y), f(4 * j + 2, v.z), f(4 * j + 3, v.w);
    }
    i = max(first, 4 * end4);
  }
  for (; i < last; ++i) f(i, x[i]);
}

template <class T>
__device__ __forceinline__ T warp_total(T v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// Σ v over the block, for every thread.
__device__ unsigned long long block_total(unsigned long long v) {
  __shared__ unsigned long long partial[32];
  v = warp_total(v);
  if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = v;
  __syncthreads();
  v = warp_total((threadIdx.x & 31) < (blockDim.x >> 5) ? partial[threadIdx.x & 31] : 0ull);
  __syncthreads();
  return v;
}

// Σ of v over the threads before this one (every thread calls it); *total gets the whole sum.
__device__ unsigned long long block_exclusive_scan(unsigned long long v, unsigned long long* total) {
  __shared__ unsigned long long warp_sums[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  unsigned long long inclusive = v;
#pragma unroll
  for (int offset = 1; offset < 32; offset <<= 1) {
    const unsigned long long other = __shfl_up_sync(0xffffffffu, inclusive, offset);
    if (lane >= offset) inclusive += other;
  }
  if (lane == 31) warp_sums[warp] = inclusive;
  __syncthreads();
  if (warp == 0) {
    unsigned long long s = lane < int(blockDim.x >> 5) ? warp_sums[lane] : 0ull;
#pragma unroll
    for (int offset = 1; offset < 32; offset <<= 1) {
      const unsigned long long other = __shfl_up_sync(0xffffffffu, s, offset);
      if (lane >= offset) s += other;
    }
    warp_sums[lane] = s;  // inclusive over warps
  }
  __syncthreads();
  const unsigned long long before = (warp > 0 ? warp_sums[warp - 1] : 0ull) + inclusive - v;
  *total = warp_sums[(blockDim.x >> 5) - 1];
  __syncthreads();
  return before;
}

// bin += m as a 64-bit sum kept in two words: the low word's carry goes to the high word (two
// 32-bit shared atomics instead of one 64-bit one: 8B decode with top_p 0.9 on an H200 328 -> 344 tok/s).
__device__ __forceinline__ void add_to(unsigned* low, unsigned* high, unsigned bin, unsigned long long m) {
  const unsigned m_low = unsigned(m), m_high = unsigned(m >> 32);
  const unsigned old = atomicAdd(&low[bin], m_low);
  const unsigned carry = old + m_low < old ? 1u : 0u;
  if (m_high + carry) atomicAdd(&high[bin], m_high + carry);
}

// The largest key K whose tokens (those of keys <= K, most likely first) first reach `target` of
// `measure` (mass or count), by 8 bits a pass; also the measure of the tokens of keys < K. With
// target above the whole measure: K = 0xFFFFFFFF.
template <class Measure>
__device__ unsigned select_key(const float* x, int n, double target, Measure measure, unsigned long long* before_key) {
  __shared__ unsigned histogram_low[256], histogram_high[256];  // 64-bit sums by two native 32-bit atomics
  __shared__ unsigned prefix_s;
  __shared__ unsigned long long before_s;
  unsigned prefix = 0;
  unsigned long long before = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int i = threadIdx.x; i < 256; i += blockDim.x) histogram_low[i] = histogram_high[i] = 0;
    __syncthreads();
    const unsigned high_mask = shift == 24 ? 0u : ~0u << (shift + 8);
    // Each thread sums into a few digits of its own before adding to the shared histogram: the
    // first pass's digits (sign and exponent) are a handful for the whole vocabulary, and one
    // atomic per token on them serialised the block (8B decode with top_p 0.9 on an H200: 268 ->
    // 328 tok/s with these and the four-float loads).
    // (four entries as plain scalars: an array indexed inside the pass's lambda lived on the stack)
    unsigned d0 = ~0u, d1 = ~0u, d2 = ~0u, d3 = ~0u;
    unsigned long long s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int next_out = 0;
    auto flush = [&](unsigned d, unsigned long long sum) {
      if (sum) add_to(histogram_low, histogram_high, d, sum);
    };
    for_each_logit(x, n, [&](int, float v) {
      const unsigned key = descending_key(v);
      if ((key & high_mask) != (prefix & high_mask)) return;
      const unsigned long long m = measure(v);
      if (!m) return;
      const unsigned digit = (key >> shift) & 255u;
      if (digit == d0) s0 += m;
      else if (digit == d1) s1 += m;
      else if (digit == d2) s2 += m;
      else if (digit == d3) s3 += m;
      else {  // the oldest entry makes room
        switch (next_out) {
          case 0: flush(d0, s0), d0 = digit, s0 = m; break;
          case 1: flush(d1, s1), d1 = digit, s1 = m; break;
          case 2: flush(d2, s2), d2 = digit, s2 = m; break;
          default: flush(d3, s3), d3 = digit, s3 = m; break;
        }
        next_out = (next_out + 1) & 3;
      }
    });
    flush(d0, s0), flush(d1, s1), flush(d2, s2), flush(d3, s3);
    __syncthreads();
    if (threadIdx.x < 32) {  // the first warp finds the digit: a lane per 8 digits, their sums scanned
      const unsigned lane = threadIdx.x;
      auto bin = [&](unsigned d) {
        return (static_cast<unsigned long long>(histogram_high[d]) << 32) | histogram_low[d];
      };
      unsigned long long mine = 0;
#pragma unroll
      for (unsigned k = 0; k < 8; ++k) mine += bin(8 * lane + k);
      unsigned long long inclusive = mine;
#pragma unroll
      for (int offset = 1; offset < 32; offset <<= 1) {
        const unsigned long long other = __shfl_up_sync(0xffffffffu, inclusive, offset);
        if (lane >= unsigned(offset)) inclusive += other;
      }
      const unsigned crossing = __ballot_sync(0xffffffffu, double(before + inclusive) >= target);
      if (crossing == 0) {
        if (lane == 0) prefix_s = 0xFFFFFFFFu, before_s = before;
      } else if (lane == unsigned(__ffs(crossing) - 1)) {
        unsigned long long reached = before + inclusive - mine;
        unsigned digit = 8 * lane;
        for (; digit < 8 * lane + 7 && double(reached + bin(digit)) < target; ++digit) reached += bin(digit);
        prefix_s = prefix | (digit << shift);
        before_s = reached;
      }
    }
    __syncthreads();
    prefix = prefix_s;
    before = before_s;
    __syncthreads();
    if (prefix == 0xFFFFFFFFu) break;
  }
  *before_key = before;
  return prefix;
}

__global__ void __launch_bounds__(kDrawThreads) draw_kernel(float* x, int n, const LogitAdjustment* adjustments,
                                                            int adjustment_count, DrawParams p, int32_t* token) {
  wait_for_inputs();
  for (int i = threadIdx.x; i < adjustment_count; i += blockDim.x) {  // the Sampler's tokens are distinct
    const LogitAdjustment a = adjustments[i];
    float v = x[a.token] + a.add_before;
    if (a.penalty != 1.0f) v = v < 0 ? v * a.penalty : v / a.penalty;
    x[a.token] = v + a.add_after;
  }
  __syncthreads();

  // the largest logit (the first of equals: the answer when the temperature is 0)
  __shared__ unsigned long long best_s;
  if (threadIdx.x == 0) best_s = 0;
  __syncthreads();
  unsigned long long best = 0;
  for_each_logit(x, n, [&](int i, float v) {
    if (v == v) best = max(best, (static_cast<unsigned long long>(~descending_key(v)) << 32) | (0xFFFFFFFFu - unsigned(i)));
  });
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) best = max(best, __shfl_xor_sync(0xffffffffu, best, offset));
  if ((threadIdx.x & 31) == 0) atomicMax(&best_s, best);
  __syncthreads();
  const int best_index = best_s == 0 ? 0 : int(0xFFFFFFFFu - unsigned(best_s & 0xFFFFFFFFu));
  if (p.temperature == 0 || best_s == 0) {
    if (threadIdx.x == 0) *token = best_index;
    return;
  }
  const float top = x[best_index];

  // The filters as one key: tokens of keys <= limit stay (of those equal to it, the first `ties`
  // in index order when top_k set it).
  unsigned limit = 0xFFFFFFFEu;
  long long ties = -1;
  unsigned long long unused;
  if (p.top_p > 0 && p.top_p < 1) {
    auto mass = [top](float v) { return fixed(__expf(v - top)); };
    unsigned long long mine = 0;
    for_each_logit(x, n, [&](int, float v) { mine += mass(v); });
    const double total = double(block_total(mine));
    limit = min(limit, select_key(x, n, double(p.top_p) * total, mass, &unused));
  }
  if (p.min_p > 0) limit = min(limit, descending_key(top + logf(p.min_p)));
  if (p.top_k > 0 && p.top_k < n) {
    unsigned long long above;
    const unsigned kth = select_key(x, n, double(p.top_k), [](float v) { return v == v ? 1ull : 0ull; }, &above);
    if (kth <= limit) {
      limit = kth;
      ties = p.top_k - (long long)above;
    }
  }

  // softmax(x / temperature) over the kept tokens; the token where uniform · total falls, in index
  // order: each thread a contiguous run, their sums scanned, the run holding the point walked.
  const int per = (n + 4 * blockDim.x - 1) / (4 * blockDim.x) * 4;  // runs start at multiples of 4
  const int first = min(n, int(threadIdx.x) * per), last = min(n, first + per);
  const float inverse_temperature = 1.0f / p.temperature;
  long long ties_before = 0;
  if (ties >= 0) {
    unsigned long long mine = 0, unused_total;
    for_each_logit_in_run(x, first, last, [&](int, float v) { mine += descending_key(v) == limit; });
    ties_before = (long long)block_exclusive_scan(mine, &unused_total);
  }
  auto weight = [&](float v, long long& tie_rank) -> unsigned long long {
    const unsigned key = descending_key(v);
    if (key > limit) return 0;
    if (key == limit && ties >= 0 && tie_rank++ >= ties) return 0;
    return fixed(__expf((v - top) * inverse_temperature));
  };
  unsigned long long mine = 0;
  long long rank = ties_before;
  for_each_logit_in_run(x, first, last, [&](int, float v) { mine += weight(v, rank); });
  unsigned long long total;
  const unsigned long long before = block_exclusive_scan(mine, &total);
  if (threadIdx.x == 0) *token = best_index;  // stands if rounding put the point past every run
  if (total == 0) return;
  __syncthreads();  // before the run that holds the point writes over it
  const unsigned long long point = min((unsigned long long)(p.uniform * double(total)), total - 1);
  if (before <= point && point < before + mine) {
    unsigned long long reached = before;
    rank = ties_before;
    for (int i = first; i < last; ++i) {
      reached += weight(x[i], rank);
      if (reached > point) {
        *token = i;
        return;
      }
    }
  }
}

}  // namespace

void draw(float* x, int64_t n, const LogitAdjustment* adjustments, int adjustment_count, const DrawParams& params,
          int32_t* token, cudaStream_t stream) {
  launch(draw_kernel, 1, kDrawThreads, 0, stream, x, int(n), adjustments, adjustment_count, params, token);
}

}  // namespace salut::backend::cuda
