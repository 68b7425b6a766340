// Causal attention over an f16 KV cache, softmax in f32 with the running-max trick (as the CPU
// backend), by hand:
// - prefill: a block per (32-query tile, head); K/V tiles staged in shared memory, each lane
//   scores one key of the tile against its warp's 4 queries, online softmax across tiles (flash
//   attention);
// - decode: split-K ("flash decoding"): a block per (KV head, key range) scores the range for
//   every query head of the GQA group, then one block per head merges the ranges. The ranges
//   are cut on the device from *first_position, so the grid is the same at every step (a captured
//   decode step replays as it is).

#include <cuda_fp16.h>

#include <algorithm>
#include <cfloat>

#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/warp.cuh"

namespace salut::backend::cuda {
namespace {

constexpr int kMaxHeadDim = 256;
constexpr int kMaxSplits = 32;         // key ranges per KV head in decode, at most
constexpr int kKeysPerSplit = 128;     // ...and at least this many keys of the context each
constexpr int kMaxGroup = 16;          // query heads per KV head
constexpr int kTileKeys = 32;          // prefill: keys per shared-memory tile
constexpr int kPrefillWarps = 8;       // prefill: warps per block
constexpr int kQueriesPerWarp = 4;     // prefill: queries per warp

__global__ void append_kernel(const float* __restrict__ k, const float* __restrict__ v, int64_t rows, int64_t width,
                              __half* keys, __half* values, const int64_t* first_position) {
  wait_for_inputs();
  let_dependents_start();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows * width) return;
  const int64_t at = *first_position * width + i;
  keys[at] = __float2half_rn(k[i]);
  values[at] = __float2half_rn(v[i]);
}

// Prefill. A block takes kPrefillWarps × kQueriesPerWarp consecutive queries of one head, so
// each K/V tile staged in shared memory serves all of them. Lane l scores key (tile + l) against
// its warp's queries; each lane then owns head_dim/32 output dims of each query and accumulates
// p · V over the tile.
__global__ void __launch_bounds__(kPrefillWarps * 32) prefill_kernel(
    const float* __restrict__ q, int64_t rows, const __half* __restrict__ keys, const __half* __restrict__ values,
    int64_t first_position, int heads, int kv_heads, int head_dim, float scale, float* out) {
  wait_for_inputs();
  let_dependents_start();
  extern __shared__ float smem[];
  constexpr int kQ = kQueriesPerWarp;
  static_assert(kQ == 4, "a dim of the warp's queries is read as one float4");
  constexpr int kBlockQueries = kPrefillWarps * kQ;
  const int padded_dim = head_dim + 1;  // K rows padded: lane l reads row l, column d -> distinct banks
  float* k_tile = smem;                                    // [kTileKeys][padded_dim]
  float* v_tile = k_tile + kTileKeys * padded_dim;         // [kTileKeys][head_dim]
  float* q_t = v_tile + kTileKeys * head_dim;              // [kPrefillWarps][head_dim][kQ]: a warp's queries by dim
  const int head = blockIdx.y, kv_head = head / (heads / kv_heads);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t block_row = int64_t(blockIdx.x) * kBlockQueries;
  const int64_t warp_row = block_row + warp * kQ;
  const int64_t kv_width = int64_t(kv_heads) * head_dim;
  float* my_q = q_t + warp * head_dim * kQ;
  for (int d = lane; d < head_dim; d += 32)
#pragma unroll
    for (int j = 0; j < kQ; ++j) {
      const int64_t row = warp_row + j;
      my_q[d * kQ + j] = row < rows ? q[(row * heads + head) * head_dim + d] * scale : 0.0f;
    }
  const int64_t block_last = min(rows, block_row + kBlockQueries) - 1;
  const int64_t keys_needed = first_position + block_last + 1;  // causal bound of the block's last query
  const int64_t warp_last = min(rows, warp_row + kQ) - 1;
  const int64_t warp_keys = warp_row < rows ? first_position + warp_last + 1 : 0;
  const int dims_per_lane = head_dim / 32;
  float acc[kQ][kMaxHeadDim / 32] = {};
  float running_max[kQ], running_sum[kQ];
#pragma unroll
  for (int j = 0; j < kQ; ++j) running_max[j] = -FLT_MAX, running_sum[j] = 0;
  for (int64_t tile = 0; tile < keys_needed; tile += kTileKeys) {
    __syncthreads();
    for (int i = threadIdx.x; i < kTileKeys * (head_dim / 2); i += blockDim.x) {
      const int key = i / (head_dim / 2), d = 2 * (i % (head_dim / 2));
      const int64_t at = (tile + key) * kv_width + int64_t(kv_head) * head_dim + d;
      const bool inside = tile + key < keys_needed;
      const float2 kk = inside ? __half22float2(*reinterpret_cast<const __half2*>(keys + at)) : make_float2(0, 0);
      const float2 vv = inside ? __half22float2(*reinterpret_cast<const __half2*>(values + at)) : make_float2(0, 0);
      k_tile[key * padded_dim + d] = kk.x, k_tile[key * padded_dim + d + 1] = kk.y;
      v_tile[key * head_dim + d] = vv.x, v_tile[key * head_dim + d + 1] = vv.y;
    }
    __syncthreads();
    if (tile >= warp_keys) continue;
    const int64_t key = tile + lane;
    float score[kQ] = {};
    const float* kr = k_tile + lane * padded_dim;
    for (int d = 0; d < head_dim; ++d) {
      const float kd = kr[d];
      const float4 qd = *reinterpret_cast<const float4*>(my_q + d * kQ);
      score[0] += qd.x * kd, score[1] += qd.y * kd, score[2] += qd.z * kd, score[3] += qd.w * kd;
    }
    float p[kQ];
#pragma unroll
    for (int j = 0; j < kQ; ++j) {
      const bool visible = key < first_position + warp_row + j + 1;
      const float sj = visible ? score[j] : -FLT_MAX;
      float tile_max = sj;
      tile_max = warp_max(tile_max);
      const float new_max = fmaxf(running_max[j], tile_max);
      const float correction = expf(running_max[j] - new_max);
      p[j] = visible ? expf(sj - new_max) : 0.0f;
      float p_sum = p[j];
      p_sum = warp_sum(p_sum);
      running_sum[j] = running_sum[j] * correction + p_sum;
      running_max[j] = new_max;
      for (int i = 0; i < dims_per_lane; ++i) acc[j][i] *= correction;
    }
    for (int k2 = 0; k2 < kTileKeys; ++k2) {
      float pk[kQ];
#pragma unroll
      for (int j = 0; j < kQ; ++j) pk[j] = __shfl_sync(0xffffffffu, p[j], k2);
      const float* vr = v_tile + k2 * head_dim + lane;
      for (int i = 0; i < dims_per_lane; ++i) {
        const float vv = vr[32 * i];
#pragma unroll
        for (int j = 0; j < kQ; ++j) acc[j][i] += pk[j] * vv;
      }
    }
  }
#pragma unroll
  for (int j = 0; j < kQ; ++j) {
    const int64_t row = warp_row + j;
    if (row < rows)
      for (int i = 0; i < dims_per_lane; ++i)
        out[(row * heads + head) * head_dim + lane + 32 * i] = acc[j][i] / running_sum[j];
  }
}

// Decode, pass 1: block (kv_head, split) over its key range, every query head of the group,
// kDecodeChunk keys at a time. Writes per (head, split): max, sum and the unnormalised outputs.
constexpr int kDecodeChunk = 128;
constexpr int kDecodeThreads = 128;

__global__ void __launch_bounds__(kDecodeThreads) decode_split_kernel(
    const float* __restrict__ q, const __half* __restrict__ keys, const __half* __restrict__ values,
    const int64_t* first_position, int heads, int kv_heads, int head_dim, float scale, float* partial) {
  wait_for_inputs();
  let_dependents_start();
  __shared__ float q_s[kMaxGroup * kMaxHeadDim];
  __shared__ float scores[kMaxGroup * kDecodeChunk];
  const int group = heads / kv_heads;
  const int kv_head = blockIdx.x, split = blockIdx.y;
  const int64_t n_keys = *first_position + 1;
  const int splits = gridDim.y;
  const int64_t per_split = (n_keys + splits - 1) / splits;
  const int64_t begin = min(n_keys, int64_t(split) * per_split), end = min(n_keys, begin + per_split);
  const int64_t kv_width = int64_t(kv_heads) * head_dim;
  const __half* k_base = keys + int64_t(kv_head) * head_dim;
  const __half* v_base = values + int64_t(kv_head) * head_dim;
  for (int i = threadIdx.x; i < group * head_dim; i += blockDim.x)
    q_s[i] = q[int64_t(kv_head) * group * head_dim + i] * scale;

  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  constexpr int kHeadsPerWarp = kMaxGroup / (kDecodeThreads / 32);
  constexpr int kPairsPerLane = kMaxHeadDim / 64;
  float m[kHeadsPerWarp], l[kHeadsPerWarp], o[kHeadsPerWarp][kPairsPerLane][2];
  for (int i = 0; i < kHeadsPerWarp; ++i) {
    m[i] = -FLT_MAX, l[i] = 0;
    for (int j = 0; j < kPairsPerLane; ++j) o[i][j][0] = o[i][j][1] = 0;
  }
  const int pairs = head_dim / 2;
  for (int64_t chunk = begin; chunk < end; chunk += kDecodeChunk) {
    const int n = int(min(int64_t(kDecodeChunk), end - chunk));
    __syncthreads();  // q_s written / the previous chunk's scores consumed
    for (int i = threadIdx.x; i < n * group; i += blockDim.x) {
      const int j = i / group, h = i % group;
      const __half2* kr = reinterpret_cast<const __half2*>(k_base + (chunk + j) * kv_width);
      const float* qh = q_s + h * head_dim;
      float s = 0;
      for (int d = 0; d < pairs; ++d) {
        const float2 kv = __half22float2(kr[d]);
        s += qh[2 * d] * kv.x + qh[2 * d + 1] * kv.y;
      }
      scores[h * kDecodeChunk + j] = s;
    }
    __syncthreads();
    for (int hi = 0; hi < kHeadsPerWarp; ++hi) {
      const int h = warp + hi * warps;
      if (h >= group) break;
      float* sc = scores + h * kDecodeChunk;
      float chunk_max = -FLT_MAX;
      for (int j = lane; j < n; j += 32) chunk_max = fmaxf(chunk_max, sc[j]);
      chunk_max = warp_max(chunk_max);
      const float new_max = fmaxf(m[hi], chunk_max);
      const float correction = expf(m[hi] - new_max);
      float sum = 0;
      for (int j = lane; j < n; j += 32) {
        const float e = expf(sc[j] - new_max);
        sc[j] = e;
        sum += e;
      }
      sum = warp_sum(sum);
      __syncwarp();
      l[hi] = l[hi] * correction + sum;
      m[hi] = new_max;
      for (int pj = 0; pj < kPairsPerLane; ++pj) {
        const int pair = lane + 32 * pj;
        if (pair >= pairs) break;
        float a0 = o[hi][pj][0] * correction, a1 = o[hi][pj][1] * correction;
        const __half2* vp = reinterpret_cast<const __half2*>(v_base + chunk * kv_width) + pair;
        for (int j = 0; j < n; ++j) {
          const float2 vv = __half22float2(vp[j * (kv_width / 2)]);
          a0 += sc[j] * vv.x;
          a1 += sc[j] * vv.y;
        }
        o[hi][pj][0] = a0, o[hi][pj][1] = a1;
      }
    }
  }
  for (int hi = 0; hi < kHeadsPerWarp; ++hi) {
    const int h = warp + hi * warps;
    if (h >= group) break;
    float* slot = partial + (int64_t(kv_head * group + h) * splits + split) * (head_dim + 2);
    if (lane == 0) slot[0] = m[hi], slot[1] = l[hi];
    for (int pj = 0; pj < kPairsPerLane; ++pj) {
      const int pair = lane + 32 * pj;
      if (pair >= pairs) break;
      slot[2 + 2 * pair] = o[hi][pj][0];
      slot[3 + 2 * pair] = o[hi][pj][1];
    }
  }
}

// Decode, pass 2: one block per query head merges its ranges.
__global__ void decode_merge_kernel(const float* __restrict__ partial, int head_dim, int splits, float* out) {
  wait_for_inputs();
  let_dependents_start();
  const int head = blockIdx.x;
  const float* slots = partial + int64_t(head) * splits * (head_dim + 2);
  float m = -FLT_MAX;
  for (int s = 0; s < splits; ++s) m = fmaxf(m, slots[s * (head_dim + 2)]);
  float total = 0;
  for (int s = 0; s < splits; ++s)
    if (slots[s * (head_dim + 2) + 1] > 0) total += slots[s * (head_dim + 2) + 1] * expf(slots[s * (head_dim + 2)] - m);
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float o = 0;
    for (int s = 0; s < splits; ++s) {
      const float* slot = slots + s * (head_dim + 2);
      if (slot[1] > 0) o += slot[2 + d] * expf(slot[0] - m);
    }
    out[int64_t(head) * head_dim + d] = o / total;
  }
}

}  // namespace

bool attention_supports(const AttentionParams& p) {
  return p.head_dim <= kMaxHeadDim && p.head_dim % 2 == 0 && p.kv_heads > 0 && p.heads % p.kv_heads == 0 &&
         p.heads / p.kv_heads <= kMaxGroup;
}

int64_t attention_scratch_floats(const AttentionParams& p) { return int64_t(p.heads) * kMaxSplits * (p.head_dim + 2); }

void attention(const float* q, const float* k, const float* v, int64_t rows, void* keys, void* values,
               int64_t capacity, const int64_t* first_position, int64_t host_first_position, const AttentionParams& p, float* out,
               float* scratch, cudaStream_t stream) {
  const int64_t width = int64_t(p.kv_heads) * p.head_dim;
  auto* k_cache = static_cast<__half*>(keys);
  auto* v_cache = static_cast<__half*>(values);
  launch(append_kernel, unsigned((rows * width + 255) / 256), 256, 0, stream, k, v, rows, width, k_cache, v_cache,
                                                                          first_position);
  if (rows == 1) {
    // ranges sized for the cache's capacity, so the grid is the same at every position
    const int splits = int(std::clamp<int64_t>(capacity / kKeysPerSplit, 1, kMaxSplits));
    launch(decode_split_kernel, dim3(p.kv_heads, splits), kDecodeThreads, 0, stream, q, k_cache, v_cache, first_position, p.heads,
                                                                         p.kv_heads, p.head_dim, p.scale, scratch);
    launch(decode_merge_kernel, p.heads, 128, 0, stream, scratch, p.head_dim, splits, out);
    return;
  }
  const size_t smem = (size_t(kTileKeys) * (p.head_dim + 1) + size_t(kTileKeys) * p.head_dim +
                       size_t(kPrefillWarps) * kQueriesPerWarp * p.head_dim) * sizeof(float);
  static const bool configured = [] {
    cudaFuncSetAttribute(prefill_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 160 * 1024);
    return true;
  }();
  (void)configured;
  const int block_queries = kPrefillWarps * kQueriesPerWarp;
  const dim3 grid(unsigned((rows + block_queries - 1) / block_queries), unsigned(p.heads));
  launch(prefill_kernel, grid, kPrefillWarps * 32, smem, stream, q, rows, k_cache, v_cache, host_first_position, p.heads,
                                                             p.kv_heads, p.head_dim, p.scale, out);
}

}  // namespace salut::backend::cuda
