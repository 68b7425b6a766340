// A token drawn on the GPU (backend/token_draw.h's draw), by a cooperative grid of blocks (one
// block where the device cannot launch one): only the token comes back.
// The filters become thresholds found by radix selection over the logits' bits (top_p by mass,
// top_k by count, 8 bits a pass), so nothing is sorted. Masses and weights are summed as fixed-point
// integers (2^40 = probability 1 of the top token): integer sums do not depend on the order the
// threads add in, so a seed draws the same token every time. Written by hand: no CUDA library
// samples from a filtered distribution.

#include <cooperative_groups.h>

#include <algorithm>
#include <cfloat>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/order_keys.cuh"

namespace salut::backend::cuda {
namespace {

constexpr int kDrawThreads = 1024;
constexpr double kOne = 1099511627776.0;  // 2^40: a weight of 1 in fixed point

__device__ __forceinline__ unsigned long long fixed(float w) { return (unsigned long long)(double(w) * kOne); }

// The threads that share a draw: one block, or a cooperative grid of blocks whose sums meet in
// `scratch` (zeroed by the kernel itself), a grid-wide sync between passes. One block is bound by
// one SM's latency over the vocabulary's 6-10 passes; 16 blocks (8B decode on an H100, ctx 512):
// top_p 0.9 334.3 -> 389.4 tok/s, top_k 40 + top_p 0.95 307.0 -> 385.8 (greedy 399.7; 32 and 64
// blocks measured the same).
constexpr int kDrawBlocks = 16;
constexpr int kMaxDrawBlocks = 64;
constexpr int kHistograms = 8;
struct GridScratch {
  unsigned long long best;
  unsigned long long sums[4];
  unsigned long long histogram[kHistograms][256];
  unsigned long long blocks[4][kMaxDrawBlocks];
};
struct Team {
  GridScratch* g = nullptr;
  __device__ int rank() const { return g ? int(blockIdx.x * blockDim.x + threadIdx.x) : int(threadIdx.x); }
  __device__ int size() const { return g ? int(gridDim.x * blockDim.x) : int(blockDim.x); }
  __device__ void sync() const {
    if (g) cooperative_groups::this_grid().sync();
    else __syncthreads();
  }
};

// Passes over the logits, four floats a load and four loads in flight: one SM reads the whole
// vocabulary each pass, and a load at a time left it waiting on L2 (~37 us a pass for 128k).
__device__ __forceinline__ bool aligned16(const float* x) { return (reinterpret_cast<uintptr_t>(x) & 15) == 0; }

// f(i, x[i]) for the floats of x4[j], x4[j + step], ... below x4[end], four loads in flight.
template <class F>
__device__ __forceinline__ void for_each_float4(const float4* x4, int j, int end, int step, F& f) {
  for (; j + 3 * step < end; j += 4 * step) {
    float4 v[4];
#pragma unroll
    for (int u = 0; u < 4; ++u) v[u] = x4[j + u * step];
#pragma unroll
    for (int u = 0; u < 4; ++u) {
      const int b = 4 * (j + u * step);
      f(b, v[u].x), f(b + 1, v[u].y), f(b + 2, v[u].z), f(b + 3, v[u].w);
    }
  }
  for (; j < end; j += step) {
    const float4 v = x4[j];
    f(4 * j, v.x), f(4 * j + 1, v.y), f(4 * j + 2, v.z), f(4 * j + 3, v.w);
  }
}

// f(i, x[i]) for every i < n, strided over the team.
template <class F>
__device__ __forceinline__ void for_each_logit(const Team& team, const float* x, int n, F f) {
  if (!aligned16(x)) {
    for (int t = team.rank(); t < n; t += team.size()) f(t, x[t]);
    return;
  }
  const int n4 = n / 4;
  for_each_float4(reinterpret_cast<const float4*>(x), team.rank(), n4, team.size(), f);
  for (int t = 4 * n4 + team.rank(); t < n; t += team.size()) f(t, x[t]);
}

// f(i, x[i]) for i in [first, last), in order (first a multiple of 4).
template <class F>
__device__ __forceinline__ void for_each_logit_in_run(const float* x, int first, int last, F f) {
  int i = first;
  if (aligned16(x)) {
    for_each_float4(reinterpret_cast<const float4*>(x), first / 4, last / 4, 1, f);
    i = max(first, 4 * (last / 4));
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

// Σ v over the team (every thread gets it); `slot` names a sum of the grid's scratch used once.
__device__ unsigned long long team_total(const Team& team, unsigned long long v, int slot) {
  v = block_total(v);
  if (!team.g) return v;
  if (threadIdx.x == 0) atomicAdd(&team.g->sums[slot], v);
  team.sync();
  return __ldcg(&team.g->sums[slot]);
}

// Σ v over the team's threads before this one, in rank order; *total the whole sum.
__device__ unsigned long long team_exclusive_scan(const Team& team, unsigned long long v, unsigned long long* total,
                                                  int slot) {
  unsigned long long block_sum;
  const unsigned long long within = block_exclusive_scan(v, &block_sum);
  if (!team.g) {
    *total = block_sum;
    return within;
  }
  __shared__ unsigned long long offset_s, total_s;
  if (threadIdx.x == 0) team.g->blocks[slot][blockIdx.x] = block_sum;
  team.sync();
  if (threadIdx.x < 32) {
    unsigned long long before = 0, all = 0;
    for (int b = threadIdx.x; b < int(gridDim.x); b += 32) {
      const unsigned long long s = __ldcg(&team.g->blocks[slot][b]);
      all += s;
      if (b < int(blockIdx.x)) before += s;
    }
    before = warp_total(before);
    all = warp_total(all);
    if (threadIdx.x == 0) offset_s = before, total_s = all;
  }
  __syncthreads();
  *total = total_s;
  return offset_s + within;
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
__device__ unsigned select_key(const Team& team, const float* x, int n, double target, Measure measure,
                               unsigned long long* before_key, int first_histogram) {
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
    for_each_logit(team, x, n, [&](int, float v) {
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
    unsigned long long* grid_histogram = team.g ? team.g->histogram[first_histogram + (24 - shift) / 8] : nullptr;
    if (grid_histogram) {  // the blocks' histograms summed in the grid's scratch
      for (int i = threadIdx.x; i < 256; i += blockDim.x) {
        const unsigned long long b = (static_cast<unsigned long long>(histogram_high[i]) << 32) | histogram_low[i];
        if (b) atomicAdd(&grid_histogram[i], b);
      }
      team.sync();
    }
    if (threadIdx.x < 32) {  // the first warp finds the digit: a lane per 8 digits, their sums scanned
      const unsigned lane = threadIdx.x;
      auto bin = [&](unsigned d) {
        if (grid_histogram) return __ldcg(&grid_histogram[d]);
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
                                                            int adjustment_count, DrawParams p, int32_t* token,
                                                            GridScratch* grid) {
  if (!grid) wait_for_inputs();
  const Team team{grid};
  if (grid) {  // the scratch's sums start at zero
    auto* words = reinterpret_cast<unsigned long long*>(grid);
    const int zeroed = int(offsetof(GridScratch, blocks) / sizeof(unsigned long long));
    for (int i = team.rank(); i < zeroed; i += team.size()) words[i] = 0;
  }
  for (int i = team.rank(); i < adjustment_count; i += team.size()) {  // the Sampler's tokens are distinct
    const LogitAdjustment a = adjustments[i];
    float v = x[a.token] + a.add_before;
    if (a.penalty != 1.0f) v = v < 0 ? v * a.penalty : v / a.penalty;
    x[a.token] = v + a.add_after;
  }
  team.sync();

  // the largest logit (the first of equals: the answer when the temperature is 0)
  __shared__ unsigned long long best_s;
  if (threadIdx.x == 0) best_s = 0;
  __syncthreads();
  unsigned long long best = 0;
  for_each_logit(team, x, n, [&](int i, float v) {
    best = max(best, argmax_key(v, i));
  });
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) best = max(best, __shfl_xor_sync(0xffffffffu, best, offset));
  if ((threadIdx.x & 31) == 0) atomicMax(grid ? &grid->best : &best_s, best);
  team.sync();
  if (grid && threadIdx.x == 0) best_s = __ldcg(&grid->best);
  __syncthreads();
  const int best_index = best_s == 0 ? 0 : int(0xFFFFFFFFu - unsigned(best_s & 0xFFFFFFFFu));
  if (p.temperature == 0 || best_s == 0) {
    if (team.rank() == 0) *token = best_index;
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
    for_each_logit(team, x, n, [&](int, float v) { mine += mass(v); });
    const double total = double(team_total(team, mine, 0));
    limit = min(limit, select_key(team, x, n, double(p.top_p) * total, mass, &unused, 0));
  }
  if (p.min_p > 0) limit = min(limit, descending_key(top + logf(p.min_p)));
  if (p.top_k > 0 && p.top_k < n) {
    unsigned long long above;
    const unsigned kth =
        select_key(team, x, n, double(p.top_k), [](float v) { return v == v ? 1ull : 0ull; }, &above, 4);
    if (kth <= limit) {
      limit = kth;
      ties = p.top_k - (long long)above;
    }
  }

  // softmax(x / temperature) over the kept tokens; the token where uniform · total falls, in index
  // order: each thread a contiguous run, their sums scanned, the run holding the point walked.
  const int per = (n + 4 * team.size() - 1) / (4 * team.size()) * 4;  // runs start at multiples of 4
  const int first = min(n, team.rank() * per), last = min(n, first + per);
  const float inverse_temperature = 1.0f / p.temperature;
  long long ties_before = 0;
  if (ties >= 0) {
    unsigned long long mine = 0, unused_total;
    for_each_logit_in_run(x, first, last, [&](int, float v) { mine += descending_key(v) == limit; });
    ties_before = (long long)team_exclusive_scan(team, mine, &unused_total, 0);
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
  const unsigned long long before = team_exclusive_scan(team, mine, &total, 1);
  if (team.rank() == 0) *token = best_index;  // stands if rounding put the point past every run
  if (total == 0) return;
  team.sync();  // before the run that holds the point writes over it
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

size_t draw_scratch_bytes() { return sizeof(GridScratch); }

void draw(float* x, int64_t n, const LogitAdjustment* adjustments, int adjustment_count, const DrawParams& params,
          int32_t* token, void* scratch, cudaStream_t stream) {
  // SALUT_CUDA_DRAW_BLOCKS=N sets the grid (1: one block, as without cooperative launches)
  static const int blocks = [] {
    int device = 0, cooperative = 0;
    cudaGetDevice(&device);
    cudaDeviceGetAttribute(&cooperative, cudaDevAttrCooperativeLaunch, device);
    const char* v = std::getenv("SALUT_CUDA_DRAW_BLOCKS");
    const int wanted = v ? std::atoi(v) : kDrawBlocks;
    return cooperative ? std::clamp(std::min(wanted, multiprocessors()), 1, kMaxDrawBlocks) : 1;
  }();
  if (blocks > 1 && scratch) {
    int count = int(n);
    GridScratch* grid = static_cast<GridScratch*>(scratch);
    void* args[] = {&x, &count, &adjustments, &adjustment_count, const_cast<DrawParams*>(&params), &token, &grid};
    if (cudaLaunchCooperativeKernel(reinterpret_cast<void*>(draw_kernel), dim3(blocks), dim3(kDrawThreads), args, 0,
                                    stream) == cudaSuccess)
      return;
    cudaGetLastError();  // a grid the device cannot hold at once (e.g. shared under MPS): one block draws
  }
  GridScratch* none = nullptr;
  launch(draw_kernel, 1, kDrawThreads, 0, stream, x, int(n), adjustments, adjustment_count, params, token, none);
}

}  // namespace salut::backend::cuda
