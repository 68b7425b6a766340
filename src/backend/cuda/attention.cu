// Causal attention over an f16 KV cache, softmax in f32 with the running-max trick (as the CPU
// backend), by hand:
// - prefill: flash attention on the tensor cores for head sizes that are multiples of 16 (below),
//   else a CUDA-core kernel: a block per (32-query tile, head), K/V tiles staged in shared
//   memory, each lane scoring one key of the tile against its warp's 4 queries;
// - decode: split-K ("flash decoding"): a block per (KV head, key range) scores the range for
//   every query head of the GQA group (for the common head sizes a warp per 32 keys: over long
//   caches on the tensor cores, else a lane per key for the scores and lanes over dims for P·V;
//   at short contexts the group's heads are also split over blocks), then the last block of the
//   KV head to finish merges the ranges. The ranges are cut on the device from *first_position,
//   so the grid is the same at every step (a captured decode step replays as it is).

#include <cuda_fp16.h>

#include <algorithm>
#include <cfloat>

#include "backend/cuda/async_copy.cuh"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/mma.cuh"
#include "backend/cuda/rope.cuh"
#include "backend/cuda/warp.cuh"

namespace salut::backend::cuda {
namespace {

constexpr int kMaxHeadDim = 256;
constexpr int kMaxSplits = 128;        // key ranges per KV head in decode, at most
constexpr int kKeysPerSplit = 32;      // ...and at least this many keys of the context each
constexpr int kMaxGroup = 16;          // query heads per KV head
constexpr int kTileKeys = 32;          // prefill: keys per shared-memory tile
constexpr int kPrefillWarps = 8;       // prefill: warps per block
constexpr int kQueriesPerWarp = 4;     // prefill: queries per warp

__global__ void append_kernel(const float* k, const float* v, int64_t rows, int64_t width,
                              __half* keys, __half* values, const int64_t* first_position) {
  wait_for_inputs();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows * width) return;
  const int64_t at = *first_position * width + i;
  keys[at] = __float2half_rn(k[i]);
  values[at] = __float2half_rn(v[i]);
}

// append_kernel with the rotation of rope_kernel (rotate_pair, rope.cuh) folded in: a thread per
// rotated pair of a query head (in place), then a thread per dim pair of a KV head (the key's
// rotated pair or two unrotated dims, and two dims of the value, into the cache).
__global__ void rotate_append_kernel(float* q, const float* k, const float* v, int64_t rows, int heads, int kv_heads,
                                     int head_dim, int half, bool traditional, const float* inv_freq,
                                     float input_scale, __half* keys, __half* values,
                                     const int64_t* first_position) {
  wait_for_inputs();
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int step = traditional ? 2 : 1, partner = traditional ? 1 : half;
  auto rotated = [&](int64_t row, int pair, float a, float b, float& ra, float& rb) {
    rotate_pair(a, b, *first_position + row, inv_freq[pair], input_scale, ra, rb);
  };
  const int64_t q_pairs = rows * heads * half;
  if (i < q_pairs) {
    const int pair = int(i % half);
    const int64_t head = i / half;
    float* h = q + head * head_dim;
    float& a = h[pair * step];
    float& b = h[pair * step + partner];
    rotated(head / heads, pair, a, b, a, b);
    return;
  }
  i -= q_pairs;
  const int pairs_per_head = head_dim / 2;
  if (i >= rows * kv_heads * pairs_per_head) return;
  const int pair = int(i % pairs_per_head);
  const int64_t head = i / pairs_per_head, row = head / kv_heads;
  const int64_t width = int64_t(kv_heads) * head_dim;
  const float* kh = k + head * head_dim;
  __half* kc = keys + (*first_position + row) * width + (head % kv_heads) * head_dim;
  int d0, d1;  // the two dims of the key this thread writes
  float r0, r1;
  if (pair < half) {
    d0 = pair * step, d1 = pair * step + partner;
    rotated(row, pair, kh[d0], kh[d1], r0, r1);
  } else {  // past the rotary dims: copied as they are
    d0 = 2 * half + 2 * (pair - half), d1 = d0 + 1;
    r0 = kh[d0], r1 = kh[d1];
  }
  kc[d0] = __float2half_rn(r0);
  kc[d1] = __float2half_rn(r1);
  const float* vh = v + head * head_dim;
  __half* vc = values + (*first_position + row) * width + (head % kv_heads) * head_dim;
  vc[2 * pair] = __float2half_rn(vh[2 * pair]);
  vc[2 * pair + 1] = __float2half_rn(vh[2 * pair + 1]);
}

// Prefill. A block takes kPrefillWarps × kQueriesPerWarp consecutive queries of one head, so
// each K/V tile staged in shared memory serves all of them. Lane l scores key (tile + l) against
// its warp's queries; each lane then owns head_dim/32 output dims of each query and accumulates
// p · V over the tile.
__global__ void __launch_bounds__(kPrefillWarps * 32) prefill_kernel(
    const float* q, int64_t rows, const __half* keys, const __half* values,
    int64_t first_position, int heads, int kv_heads, int head_dim, float scale, float* out) {
  wait_for_inputs();
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

// The ranges a decode step's keys are cut into: one per `keys_per_range` keys the sequence holds,
// at most `most` (the grid's, sized for the cache's capacity so that one captured graph serves
// every position). Blocks past them return at once: a server's 8192-token cache at position 512
// would otherwise cut 513 keys into 64 ranges of 9 and merge them all (8B on an H100: 337 tok/s
// instead of 385).
__device__ __forceinline__ int ranges_for(int64_t n_keys, int keys_per_range, int most) {
  const int64_t wanted = (n_keys + keys_per_range - 1) / keys_per_range;
  return wanted < 1 ? 1 : wanted > most ? most : int(wanted);
}

// Keys [begin, end) of range `split` of `splits` equal ones over n_keys.
struct KeyRange {
  int64_t begin, end;
};
__device__ __forceinline__ KeyRange key_range(int64_t n_keys, int split, int splits) {
  const int64_t per_split = (n_keys + splits - 1) / splits;
  const int64_t begin = min(n_keys, int64_t(split) * per_split);
  return {begin, min(n_keys, begin + per_split)};
}

__global__ void __launch_bounds__(kDecodeThreads) decode_split_kernel(
    const float* q, const __half* keys, const __half* values,
    const int64_t* first_position, int heads, int kv_heads, int head_dim, float scale, float* partial) {
  wait_for_inputs();
  __shared__ float q_s[kMaxGroup * kMaxHeadDim];
  __shared__ float scores[kMaxGroup * kDecodeChunk];
  const int group = heads / kv_heads;
  const int kv_head = blockIdx.x, split = blockIdx.y;
  const int64_t n_keys = *first_position + 1;
  const int splits = ranges_for(n_keys, kKeysPerSplit, int(gridDim.y));
  if (split >= splits) return;
  const auto [begin, end] = key_range(n_keys, split, splits);
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

// Decode for head_dim a multiple of 32, one kernel for the whole step: block (kv_head, split) of
// kChunkWarps warps, each taking 32 keys of the range at a time. Scores: a lane per key, the whole
// row against every query head of the group (the queries in shared memory, read as broadcasts),
// so the running softmax needs one warp max per 32 keys rather than a warp sum per key. P·V: lanes
// over dims (lane l holds dims [l*D, l*D + D) of each head's output), each key's weight broadcast
// from the lane that scored it. The block's warps then combine their softmaxes into the range's
// slot; the last range of a KV head to finish merges the ranges (one launch, not three: at batch
// 1 the step is a chain of short kernels, and each boundary costs more than this work).
//
// The rest of the step is folded in too: the block rotates its queries as it loads them, and the
// block whose range holds the new position rotates the new key and appends it (and the value) to
// the cache, using them from shared memory. Every other row of the range is already in the cache
// before the step, so the first 32 keys' rows are requested before waiting on the kernel before.
constexpr int kChunkWarps = 4;  // 1, 2 and 4 measured alike on an H100 (8B, contexts 512 and 4096)
constexpr int kKeysPerChunkBlock = 32 * kChunkWarps;  // a range's keys per pass of the block

// What the decode kernel reads and writes besides the cache.
struct DecodeStep {
  const float* q;                 // the step's queries [heads * head_dim], rotated as they are read
  const float* k;                 // ...its key and value [kv_heads * head_dim], appended to the cache
  const float* v;
  int rotation_half;              // rotated pairs (0: no rotation)
  bool traditional;
  const float* inv_freq;
  float input_scale;
  float* out;                     // [heads * head_dim]
  float* partial;                 // the ranges' slots
  unsigned* arrivals;             // per block of query heads: ranges finished this step (zero between steps)
};

// D consecutive halves (D even: as pairs).
template <int D>
__device__ __forceinline__ void load_halves(const __half* p, __half (&out)[D]) {
  if constexpr (D % 2 == 0) {
#pragma unroll
    for (int d = 0; d < D; d += 2) *reinterpret_cast<__half2*>(&out[d]) = *reinterpret_cast<const __half2*>(p + d);
  } else {
#pragma unroll
    for (int d = 0; d < D; ++d) out[d] = p[d];
  }
}

// Dim d of a head `x` rotated at `position` as rope_kernel rotates it (dims past the rotary ones
// as they are).
__device__ __forceinline__ float rotated_dim(const float* x, int d, const DecodeStep& st, int64_t position) {
  const int half = st.rotation_half;
  if (d >= 2 * half) return x[d];
  int pair, a, b;
  if (st.traditional) pair = d >> 1, a = d & ~1, b = a + 1;
  else pair = d < half ? d : d - half, a = pair, b = pair + half;
  float ra, rb;
  rotate_pair(x[a], x[b], position, st.inv_freq[pair], st.input_scale, ra, rb);
  return d == a ? ra : rb;
}

// One warp weighs a query head's key ranges: weight[s] = e^(max_s - max) (0 for a range that saw
// no key), returning Σ total_s · weight[s] to every lane. Each lane's ranges' (max, total) pairs
// are read once, all before the first is used, through L2 (another block may have just written
// them: never a stale L1).
__device__ __forceinline__ float weigh_ranges(const float* slots, int64_t stride, int splits, float* weight) {
  constexpr int kPerLane = kMaxSplits / 32;
  const int lane = threadIdx.x & 31;
  float2 ml[kPerLane];
#pragma unroll
  for (int k = 0; k < kPerLane; ++k) {
    const int s = lane + 32 * k;
    ml[k] = s < splits ? make_float2(__ldcg(slots + s * stride), __ldcg(slots + s * stride + 1))
                       : make_float2(-FLT_MAX, 0.0f);
  }
  float m = -FLT_MAX;
#pragma unroll
  for (int k = 0; k < kPerLane; ++k) m = fmaxf(m, ml[k].x);
  m = warp_max(m);
  float total = 0;
#pragma unroll
  for (int k = 0; k < kPerLane; ++k) {
    const int s = lane + 32 * k;
    if (s >= splits) break;
    const float w = ml[k].y > 0 ? expf(ml[k].x - m) : 0.0f;
    weight[s] = w;
    total += ml[k].y * w;
  }
  total = warp_sum(total);
  __syncwarp();  // the weights, for the whole warp
  return total;
}

// A block's range done: its warps' running softmaxes (combine: max and total per warp and head;
// combine_o: the unnormalised outputs) combined in a fixed order into the range's slot; then the
// last range of the block's heads to arrive merges them all (its slots' writes made visible
// first; the others' are read through L2, never a stale L1). Every thread of the block calls it,
// after a __syncthreads. D: output dims per lane (the head is 32 * D).
template <int D, int G>
__device__ __forceinline__ void finish_range(const DecodeStep& st, const float (&combine)[kChunkWarps][G][2],
                                             const float (&combine_o)[kChunkWarps][G * 32 * D], int block_heads,
                                             int first_head, int kv_head, int split, int splits) {
  constexpr int kHeadDim = 32 * D;
  __shared__ float range_weight[kChunkWarps][kMaxSplits];
  __shared__ bool merges;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t stride = kHeadDim + 2;
  float* head_slots = st.partial + int64_t(first_head) * splits * stride;
  for (int i = threadIdx.x; i < block_heads * kHeadDim; i += blockDim.x) {
    const int h = i / kHeadDim, d = i % kHeadDim;
    float mx = -FLT_MAX;
    for (int w = 0; w < kChunkWarps; ++w)
      if (combine[w][h][1] > 0) mx = fmaxf(mx, combine[w][h][0]);
    float sum = 0, acc = 0;
    for (int w = 0; w < kChunkWarps; ++w) {
      if (combine[w][h][1] == 0) continue;  // a warp that saw no key
      const float f = expf(combine[w][h][0] - mx);
      sum += combine[w][h][1] * f;
      acc += combine_o[w][i] * f;
    }
    float* slot = head_slots + (int64_t(h) * splits + split) * stride;
    if (d == 0) slot[0] = mx, slot[1] = sum;
    slot[2 + d] = acc;
  }

  __threadfence();
  __syncthreads();
  unsigned* arrivals = st.arrivals + kv_head * gridDim.z + blockIdx.z;
  if (threadIdx.x == 0) merges = atomicAdd(arrivals, 1u) == unsigned(splits - 1);
  __syncthreads();
  if (!merges) return;
  __threadfence();
  for (int h = warp; h < block_heads; h += kChunkWarps) {
    const float* slots = head_slots + int64_t(h) * splits * stride;
    const float total = weigh_ranges(slots, stride, splits, range_weight[warp]);
    float acc[D] = {};
#pragma unroll 8
    for (int sp = 0; sp < splits; ++sp) {
      const float w = range_weight[warp][sp];
#pragma unroll
      for (int d = 0; d < D; ++d) acc[d] = fmaf(__ldcg(slots + sp * stride + 2 + lane * D + d), w, acc[d]);
    }
    float* o_head = st.out + (int64_t(first_head) + h) * kHeadDim + lane * D;
#pragma unroll
    for (int d = 0; d < D; ++d) o_head[d] = acc[d] / total;
    __syncwarp();
  }
  if (threadIdx.x == 0) *arrivals = 0;  // for the next step
}

// G: query heads per KV head the registers are sized for (the group, or more).
template <int D, int G>
__global__ void __launch_bounds__(kChunkWarps * 32) decode_kernel(DecodeStep st, __half* keys, __half* values,
                                                                   const int64_t* first_position, int heads,
                                                                   int kv_heads, float scale) {
  constexpr int kHeadDim = 32 * D;
  constexpr bool kEarlyValues = G <= 8;  // the chunk's value rows requested with its keys
  __shared__ __align__(16) float q_s[G][kHeadDim];
  __shared__ __align__(16) __half new_key[kHeadDim];
  __shared__ __align__(16) __half new_value[kHeadDim];
  __shared__ float combine[kChunkWarps][G][2];
  __shared__ float combine_o[kChunkWarps][G * kHeadDim];
  const int group = heads / kv_heads;
  // the position was set before the step began: it may be read before waiting
  const int64_t position = *first_position, n_keys = position + 1;
  const int kv_head = blockIdx.x, split = blockIdx.y, splits = ranges_for(n_keys, kKeysPerChunkBlock, int(gridDim.y));
  if (split >= splits) return;
  // a small grid also splits the group's query heads over blocks (blockIdx.z): more warps at work
  const int block_heads = group / int(gridDim.z), first_head = kv_head * group + int(blockIdx.z) * block_heads;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const auto [begin, end] = key_range(n_keys, split, splits);
  const int64_t kv_width = int64_t(kv_heads) * kHeadDim, last = end - 1;
  const bool holds_new = begin <= position && position < end;
  const __half* v_base = values + int64_t(kv_head) * kHeadDim + lane * D;

  // A chunk's key row (a lane's key) and value rows (the lane's dims of all 32), requested together:
  // latency, not bandwidth, is what a warp waits on. Past the range's end: the last key's row
  // again, with weight 0 (rows past the cache's length hold whatever the memory held).
  uint4 raw[kHeadDim / 8];
  __half vraw[kEarlyValues ? 32 : 1][D];
  auto load_chunk = [&](int64_t c0) {
    const int64_t j = c0 + lane < end ? c0 + lane : c0;
    const __half* k_row = keys + j * kv_width + int64_t(kv_head) * kHeadDim;
#pragma unroll
    for (int c = 0; c < kHeadDim / 8; ++c) raw[c] = *reinterpret_cast<const uint4*>(k_row + 8 * c);
    if constexpr (kEarlyValues) {
#pragma unroll
      for (int t = 0; t < 32; ++t) load_halves<D>(v_base + min(c0 + t, last) * kv_width, vraw[t]);
    }
  };
  int64_t c0 = begin + 32 * warp;
  if (c0 < end) load_chunk(c0);  // the new row among them is replaced below
  wait_for_inputs();

  for (int i = threadIdx.x; i < G * kHeadDim; i += blockDim.x) {
    const int h = i / kHeadDim, d = i % kHeadDim;
    q_s[h][d] = h < block_heads ? rotated_dim(st.q + (int64_t(first_head) + h) * kHeadDim, d, st, position) * scale : 0.0f;
  }
  if (holds_new) {
    for (int d = threadIdx.x; d < kHeadDim; d += blockDim.x) {
      const int64_t at = int64_t(kv_head) * kHeadDim + d;
      new_key[d] = __float2half_rn(rotated_dim(st.k + int64_t(kv_head) * kHeadDim, d, st, position));
      new_value[d] = __float2half_rn(st.v[at]);
      if (blockIdx.z == 0) {  // one block of the KV head appends
        keys[position * kv_width + at] = new_key[d];
        values[position * kv_width + at] = new_value[d];
      }
    }
  }
  __syncthreads();

  float m[G], l[G], o[G][D];  // l: this lane's keys' share (summed over the warp at the end)
#pragma unroll
  for (int h = 0; h < G; ++h) {
    m[h] = -FLT_MAX, l[h] = 0;
#pragma unroll
    for (int d = 0; d < D; ++d) o[h][d] = 0;
  }
  for (bool first = true; c0 < end; c0 += kKeysPerChunkBlock, first = false) {
    if (!first) load_chunk(c0);
    const int64_t j = c0 + lane;
    const bool valid = j < end;
    if (j == position) {
#pragma unroll
      for (int c = 0; c < kHeadDim / 8; ++c) raw[c] = reinterpret_cast<const uint4*>(new_key)[c];
    }
    float s[G];
#pragma unroll
    for (int h = 0; h < G; ++h) s[h] = 0;
#pragma unroll
    for (int c = 0; c < kHeadDim / 8; ++c) {
      const __half2* pairs = reinterpret_cast<const __half2*>(&raw[c]);
      float kf[8];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float2 f = __half22float2(pairs[i]);
        kf[2 * i] = f.x, kf[2 * i + 1] = f.y;
      }
#pragma unroll
      for (int h = 0; h < G; ++h) {
        const float4 qa = *reinterpret_cast<const float4*>(&q_s[h][8 * c]);
        const float4 qb = *reinterpret_cast<const float4*>(&q_s[h][8 * c + 4]);
        s[h] = fmaf(qa.x, kf[0], fmaf(qa.y, kf[1], fmaf(qa.z, kf[2], fmaf(qa.w, kf[3], s[h]))));
        s[h] = fmaf(qb.x, kf[4], fmaf(qb.y, kf[5], fmaf(qb.z, kf[6], fmaf(qb.w, kf[7], s[h]))));
      }
    }
    float p[G];
#pragma unroll
    for (int h = 0; h < G; ++h) {
      const float chunk_max = warp_max(valid ? s[h] : -FLT_MAX);
      const float new_max = fmaxf(m[h], chunk_max);
      const float correction = expf(m[h] - new_max);
      p[h] = valid ? expf(s[h] - new_max) : 0.0f;
      l[h] = l[h] * correction + p[h];
      m[h] = new_max;
#pragma unroll
      for (int d = 0; d < D; ++d) o[h][d] *= correction;
    }
    auto accumulate = [&](int t, const __half (&cached)[D]) {
      __half row[D];
      if (min(c0 + t, last) == position) load_halves<D>(new_value + lane * D, row);
      else load_halves<D>(cached, row);
      float vr[D];
#pragma unroll
      for (int d = 0; d < D; ++d) vr[d] = __half2float(row[d]);
#pragma unroll
      for (int h = 0; h < G; ++h) {
        const float pt = __shfl_sync(0xffffffffu, p[h], t);
#pragma unroll
        for (int d = 0; d < D; ++d) o[h][d] = fmaf(pt, vr[d], o[h][d]);
      }
    };
    if constexpr (kEarlyValues) {
#pragma unroll
      for (int t = 0; t < 32; ++t) accumulate(t, vraw[t]);
    } else {
#pragma unroll 16
      for (int t = 0; t < 32; ++t) {
        __half row[D];
        load_halves<D>(v_base + min(c0 + t, last) * kv_width, row);
        accumulate(t, row);
      }
    }
  }
  // the warps' running softmaxes, combined in a fixed order into the range's slot
#pragma unroll
  for (int h = 0; h < G; ++h) {
    l[h] = warp_sum(l[h]);
    if (h >= block_heads) continue;
    if (lane == 0) combine[warp][h][0] = m[h], combine[warp][h][1] = l[h];
#pragma unroll
    for (int d = 0; d < D; ++d) combine_o[warp][h * kHeadDim + lane * D + d] = o[h][d];
  }
  __syncthreads();
  finish_range<D, G>(st, combine, combine_o, block_heads, first_head, kv_head, split, splits);
}

// Decode, pass 2: one block per query head merges its ranges: the first warp weighs the ranges
// (all at once, a lane per range), then each thread sums its dims over them.
__global__ void decode_merge_kernel(const float* partial, int head_dim, int most_splits, const int64_t* first_position,
                                    float* out) {
  wait_for_inputs();
  const int splits = ranges_for(*first_position + 1, kKeysPerSplit, most_splits);
  __shared__ float weight[kMaxSplits];
  __shared__ float total;
  const int head = blockIdx.x, stride = head_dim + 2;
  const float* slots = partial + int64_t(head) * splits * stride;
  if (threadIdx.x < 32) {
    const float sum = weigh_ranges(slots, stride, splits, weight);
    if (threadIdx.x == 0) total = sum;
  }
  __syncthreads();
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
    // two sums, 16 ranges' loads issued at a time: the ranges are few and the loads latency-bound
    float o0 = 0, o1 = 0;
#pragma unroll 16
    for (int s = 0; s < splits; s += 2) {
      o0 += slots[s * stride + 2 + d] * weight[s];
      if (s + 1 < splits) o1 += slots[(s + 1) * stride + 2 + d] * weight[s + 1];
    }
    out[int64_t(head) * head_dim + d] = (o0 + o1) / total;
  }
}


// ---- Prefill on the tensor cores (head_dim a multiple of 16, up to 256) ----
//
// FlashAttention-2's scheme with mma.m16n8k16 (f16 inputs, f32 sums): a block per (64 queries,
// head), a warp per 16 of them; K/V tiles of 64 keys staged in shared memory (rows padded by 16
// bytes so that ldmatrix's 8 rows fall in distinct banks). Q enters as an f16 high part plus
// an f16 remainder (two products into one f32 sum: scores as exact as f32 queries give), the
// softmax runs in f32 (base 2, the scale folded in), and P goes to f16 for P·V as the C
// fragments of S reused as A fragments.
constexpr int kFlashWarps = 4;
constexpr int kFlashQueries = 16 * kFlashWarps;
constexpr int kFlashKeys = 64;

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const __half* p) {
  const unsigned a = unsigned(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const __half* p) {
  const unsigned a = unsigned(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
}

// S [16 rows, kKeys keys] = Q · Kᵀ for a warp: its 16 query rows (from row q_row of q_high/q_rest,
// the f16 high part and remainder: two products into one f32 sum) against the tile's kKeys keys,
// head size HD; rows of kStride halves in shared memory.
template <int kKeys, int HD, int kStride>
__device__ __forceinline__ void score_tile(const __half* q_high, const __half* q_rest, int q_row, const __half* k_tile,
                                           float (&s)[kKeys / 8][4]) {
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int i = 0; i < kKeys / 8; ++i) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0;
#pragma unroll
  for (int kk = 0; kk < HD / 16; ++kk) {
    uint32_t high[4], rest[4];
    const int q_offset = (q_row + (lane & 15)) * kStride + kk * 16 + (lane >> 4) * 8;
    ldmatrix_x4(high, q_high + q_offset);
    ldmatrix_x4(rest, q_rest + q_offset);
#pragma unroll
    for (int nt = 0; nt < kKeys / 8; nt += 2) {
      uint32_t b[4];
      ldmatrix_x4(b, k_tile + ((nt + (lane >> 4)) * 8 + (lane & 7)) * kStride + kk * 16 + ((lane >> 3) & 1) * 8);
      mma_16816(s[nt], high, b[0], b[1]);
      mma_16816(s[nt], rest, b[0], b[1]);
      mma_16816(s[nt + 1], high, b[2], b[3]);
      mma_16816(s[nt + 1], rest, b[2], b[3]);
    }
  }
}

// One tile's step of the online softmax for a warp's two rows per lane (g and g + 8): the rows'
// running maxima take the tile's (masked keys are -inf), the outputs and sums so far are rescaled,
// and s becomes the tile's unnormalised weights, added to the running sums. Base 2 (exp2f) when
// the scores were scaled for it, else e.
template <bool kBase2, int kKeys, int kDimTiles>
__device__ __forceinline__ void softmax_tile(float (&s)[kKeys / 8][4], float (&running_max)[2], float (&running_sum)[2],
                                             float (&o)[kDimTiles][4]) {
  auto exp_of = [](float x) { return kBase2 ? exp2f(x) : expf(x); };
  float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
  for (int nt = 0; nt < kKeys / 8; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) tile_max[e >> 1] = fmaxf(tile_max[e >> 1], s[nt][e]);
  float correction[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    tile_max[h] = fmaxf(tile_max[h], __shfl_xor_sync(0xffffffffu, tile_max[h], 1));
    tile_max[h] = fmaxf(tile_max[h], __shfl_xor_sync(0xffffffffu, tile_max[h], 2));
    const float new_max = fmaxf(running_max[h], tile_max[h]);
    // a row that has seen no key yet keeps -inf: nothing to correct, and no inf - inf
    correction[h] = new_max == -INFINITY ? 1.0f : exp_of(running_max[h] - new_max);
    running_max[h] = new_max;
    running_sum[h] *= correction[h];
  }
#pragma unroll
  for (int i = 0; i < kDimTiles; ++i) {
    o[i][0] *= correction[0], o[i][1] *= correction[0];
    o[i][2] *= correction[1], o[i][3] *= correction[1];
  }
#pragma unroll
  for (int nt = 0; nt < kKeys / 8; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const float m = running_max[e >> 1];
      const float p = m == -INFINITY ? 0.0f : exp_of(s[nt][e] - m);
      s[nt][e] = p;
      running_sum[e >> 1] += p;
    }
}

template <int D>
size_t flash_shared_bytes() { return size_t(2 * kFlashQueries + 2 * kFlashKeys) * (D + 8) * sizeof(__half); }

template <int D>
__global__ void __launch_bounds__(kFlashWarps * 32) flash_prefill_kernel(
    const float* q, int64_t rows, const __half* keys, const __half* values,
    int64_t first_position, int heads, int kv_heads, float scale, float* out) {
  wait_for_inputs();
  constexpr int kStride = D + 8;  // halves per shared row
  constexpr int kDimTiles = D / 8;
  extern __shared__ __align__(16) __half shared[];
  __half* q_high = shared;
  __half* q_rest = q_high + kFlashQueries * kStride;
  __half* k_tile = q_rest + kFlashQueries * kStride;
  __half* v_tile = k_tile + kFlashKeys * kStride;
  const int head = blockIdx.y, kv_head = head / (heads / kv_heads);
  const int64_t q0 = int64_t(blockIdx.x) * kFlashQueries;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int64_t kv_width = int64_t(kv_heads) * D;

  for (int i = threadIdx.x; i < kFlashQueries * D / 2; i += blockDim.x) {
    const int r = i / (D / 2), c = (i % (D / 2)) * 2;
    float2 v = make_float2(0, 0);
    if (q0 + r < rows) v = *reinterpret_cast<const float2*>(q + ((q0 + r) * heads + head) * D + c);
    const __half2 high = __floats2half2_rn(v.x, v.y);
    const float2 h = __half22float2(high);
    *reinterpret_cast<__half2*>(q_high + r * kStride + c) = high;
    *reinterpret_cast<__half2*>(q_rest + r * kStride + c) = __floats2half2_rn(v.x - h.x, v.y - h.y);
  }

  float o[kDimTiles][4];
#pragma unroll
  for (int i = 0; i < kDimTiles; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0;
  float running_max[2] = {-INFINITY, -INFINITY}, running_sum[2] = {0, 0};
  const float log2_scale = scale * 1.4426950408889634f;
  const int64_t last_row = min(rows, q0 + kFlashQueries) - 1;
  const int64_t key_end = first_position + last_row + 1;
  const int64_t position[2] = {first_position + q0 + warp * 16 + g, first_position + q0 + warp * 16 + g + 8};

  for (int64_t k0 = 0; k0 < key_end; k0 += kFlashKeys) {
    __syncthreads();  // the previous tile is consumed (the first time: Q is written)
    for (int i = threadIdx.x; i < kFlashKeys * D / 8; i += blockDim.x) {
      const int r = i / (D / 8), c = (i % (D / 8)) * 8;
      uint4 kv = make_uint4(0, 0, 0, 0), vv = make_uint4(0, 0, 0, 0);
      if (k0 + r < key_end) {
        kv = *reinterpret_cast<const uint4*>(keys + (k0 + r) * kv_width + kv_head * D + c);
        vv = *reinterpret_cast<const uint4*>(values + (k0 + r) * kv_width + kv_head * D + c);
      }
      *reinterpret_cast<uint4*>(k_tile + r * kStride + c) = kv;
      *reinterpret_cast<uint4*>(v_tile + r * kStride + c) = vv;
    }
    __syncthreads();

    float s[kFlashKeys / 8][4];
    score_tile<kFlashKeys, D, kStride>(q_high, q_rest, warp * 16, k_tile, s);
#pragma unroll
    for (int nt = 0; nt < kFlashKeys / 8; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int64_t key = k0 + nt * 8 + 2 * t + (e & 1);
        s[nt][e] = key <= position[e >> 1] ? s[nt][e] * log2_scale : -INFINITY;
      }
    softmax_tile<true, kFlashKeys>(s, running_max, running_sum, o);
#pragma unroll
    for (int kk = 0; kk < kFlashKeys / 16; ++kk) {
      const uint32_t a[4] = {pack_half2(s[2 * kk][0], s[2 * kk][1]), pack_half2(s[2 * kk][2], s[2 * kk][3]),
                             pack_half2(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                             pack_half2(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
      for (int nd = 0; nd < kDimTiles; nd += 2) {
        uint32_t b[4];
        ldmatrix_x4_trans(b, v_tile + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * kStride + (nd + (lane >> 4)) * 8);
        mma_16816(o[nd], a, b[0], b[1]);
        mma_16816(o[nd + 1], a, b[2], b[3]);
      }
    }
  }

#pragma unroll
  for (int h = 0; h < 2; ++h) {
    running_sum[h] += __shfl_xor_sync(0xffffffffu, running_sum[h], 1);
    running_sum[h] += __shfl_xor_sync(0xffffffffu, running_sum[h], 2);
  }
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int64_t row = q0 + warp * 16 + g + 8 * h;
    if (row >= rows) continue;
    float* o_row = out + (row * heads + head) * D;
    const float inverse = 1.0f / running_sum[h];
#pragma unroll
    for (int nd = 0; nd < kDimTiles; ++nd)
      *reinterpret_cast<float2*>(o_row + nd * 8 + 2 * t) = make_float2(o[nd][2 * h] * inverse, o[nd][2 * h + 1] * inverse);
  }
}

template <int D>
void launch_flash_prefill(const float* q, int64_t rows, const __half* keys, const __half* values, int64_t first_position,
                          const AttentionParams& p, float* out, cudaStream_t stream) {
  static const bool configured = [] {
    cudaFuncSetAttribute(flash_prefill_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(flash_shared_bytes<D>()));
    return true;
  }();
  (void)configured;
  const dim3 grid(unsigned((rows + kFlashQueries - 1) / kFlashQueries), unsigned(p.heads));
  launch(flash_prefill_kernel<D>, grid, kFlashWarps * 32, flash_shared_bytes<D>(), stream, q, rows, keys, values,
         first_position, p.heads, p.kv_heads, p.scale, out);
}

// ---- Decode over long contexts on the tensor cores (head sizes 64 and 128) ----
//
// Block (kv_head, range) of kChunkWarps warps, as decode_kernel; each warp takes kMmaKeys keys of
// the range at a time, copied into tiles of its own in shared memory (cp.async: the first ones
// before waiting on the kernel before), and scores them against the group's query heads as the 16
// rows of an mma (rows past the group are zeros), the way flash_prefill_kernel scores queries: Q
// as an f16 high part and an f16 remainder, the softmax in f32, P·V with P split the same way. decode_kernel
// spends ~3,800 dependent instructions a warp per 32 keys on a 4-head group (ncu, H100); this
// kernel ~40 mma. The ranges then finish as decode_kernel's do (finish_range).
constexpr int kMmaKeys = 32;
// Contexts (the cache's capacity, which fixes the grid) from which decode takes this kernel.
constexpr int64_t kMmaDecodeMinCapacity = 1024;

template <int HD>
constexpr size_t mma_decode_shared_bytes() { return size_t(2 * 16 + kChunkWarps * 2 * kMmaKeys) * (HD + 8) * sizeof(__half); }

template <int HD, int G>
__global__ void __launch_bounds__(kChunkWarps * 32) decode_mma_kernel(DecodeStep st, __half* keys, __half* values,
                                                                       const int64_t* first_position, int heads,
                                                                       int kv_heads, float scale) {
  constexpr int kStride = HD + 8, kDimTiles = HD / 8;
  extern __shared__ __align__(16) __half mma_shared[];
  __shared__ __align__(16) __half new_key[HD];
  __shared__ __align__(16) __half new_value[HD];
  __shared__ float combine[kChunkWarps][G][2];
  __shared__ float combine_o[kChunkWarps][G * HD];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  __half* q_high = mma_shared;
  __half* q_rest = q_high + 16 * kStride;
  __half* k_tile = q_rest + 16 * kStride + warp * 2 * kMmaKeys * kStride;
  __half* v_tile = k_tile + kMmaKeys * kStride;

  const int group = heads / kv_heads;
  const int64_t position = *first_position, n_keys = position + 1;  // set before the step began
  const int kv_head = blockIdx.x, split = blockIdx.y, splits = ranges_for(n_keys, kKeysPerChunkBlock, int(gridDim.y));
  if (split >= splits) return;
  const int block_heads = group / int(gridDim.z), first_head = kv_head * group + int(blockIdx.z) * block_heads;
  const auto [begin, end] = key_range(n_keys, split, splits);
  const int64_t kv_width = int64_t(kv_heads) * HD;
  const bool holds_new = begin <= position && position < end;

  // A tile's rows; past the range's end zeros (masked below: a stale row's NaN times a zero weight
  // would still be NaN).
  auto load_tile = [&](int64_t t0) {
    for (int i = lane; i < kMmaKeys * HD / 8; i += 32) {
      const int r = i / (HD / 8), c = (i % (HD / 8)) * 8;
      __half* k_to = k_tile + r * kStride + c;
      __half* v_to = v_tile + r * kStride + c;
      if (t0 + r < end) {
        const int64_t at = (t0 + r) * kv_width + int64_t(kv_head) * HD + c;
        copy_async_16(k_to, keys + at);
        copy_async_16(v_to, values + at);
      } else {
        *reinterpret_cast<uint4*>(k_to) = *reinterpret_cast<uint4*>(v_to) = make_uint4(0, 0, 0, 0);
      }
    }
  };
  int64_t t0 = begin + int64_t(warp) * kMmaKeys;
  if (t0 < end) load_tile(t0);  // every row but the new one is in the cache before the step
  wait_for_inputs();

  for (int i = threadIdx.x; i < 16 * HD / 2; i += blockDim.x) {
    const int r = i / (HD / 2), c = (i % (HD / 2)) * 2;
    float a = 0, b = 0;
    if (r < block_heads) {
      const float* qh = st.q + (int64_t(first_head) + r) * HD;
      a = rotated_dim(qh, c, st, position) * scale;
      b = rotated_dim(qh, c + 1, st, position) * scale;
    }
    const __half2 high = __floats2half2_rn(a, b);
    const float2 h = __half22float2(high);
    *reinterpret_cast<__half2*>(q_high + r * kStride + c) = high;
    *reinterpret_cast<__half2*>(q_rest + r * kStride + c) = __floats2half2_rn(a - h.x, b - h.y);
  }
  if (holds_new) {
    for (int d = threadIdx.x; d < HD; d += blockDim.x) {
      const int64_t at = int64_t(kv_head) * HD + d;
      new_key[d] = __float2half_rn(rotated_dim(st.k + int64_t(kv_head) * HD, d, st, position));
      new_value[d] = __float2half_rn(st.v[at]);
      if (blockIdx.z == 0) {  // one block of the KV head appends
        keys[position * kv_width + at] = new_key[d];
        values[position * kv_width + at] = new_value[d];
      }
    }
  }
  __syncthreads();

  float o[kDimTiles][4];
#pragma unroll
  for (int i = 0; i < kDimTiles; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0;
  float running_max[2] = {-INFINITY, -INFINITY}, running_sum[2] = {0, 0};
  for (bool first = true; t0 < end; t0 += kChunkWarps * kMmaKeys, first = false) {
    if (!first) {
      __syncwarp();  // the previous tile is consumed
      load_tile(t0);
    }
    copy_async_wait_all();
    if (holds_new && position >= t0 && position < t0 + kMmaKeys) {  // the new row, over the cache's stale one
      const int r = int(position - t0);
      for (int c = lane; c < HD / 4; c += 32) {
        __half* to = (c < HD / 8 ? k_tile : v_tile) + r * kStride + (c % (HD / 8)) * 8;
        *reinterpret_cast<uint4*>(to) = reinterpret_cast<const uint4*>(c < HD / 8 ? new_key : new_value)[c % (HD / 8)];
      }
    }
    __syncwarp();

    float s[kMmaKeys / 8][4];
    score_tile<kMmaKeys, HD, kStride>(q_high, q_rest, 0, k_tile, s);
#pragma unroll
    for (int nt = 0; nt < kMmaKeys / 8; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e)
        if (t0 + nt * 8 + 2 * t + (e & 1) >= end) s[nt][e] = -INFINITY;
    softmax_tile<false, kMmaKeys>(s, running_max, running_sum, o);
    // P as an f16 high part and remainder too: the weights keep f32-like precision, as the scalar
    // kernel's do (two products into one f32 sum)
#pragma unroll
    for (int kk = 0; kk < kMmaKeys / 16; ++kk) {
      uint32_t a[4], a_rest[4];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const float* pair = &s[2 * kk + (j >> 1)][2 * (j & 1)];
        const __half2 high = __floats2half2_rn(pair[0], pair[1]);
        const float2 h = __half22float2(high);
        a[j] = pack_half2(h.x, h.y);
        a_rest[j] = pack_half2(pair[0] - h.x, pair[1] - h.y);
      }
#pragma unroll
      for (int nd = 0; nd < kDimTiles; nd += 2) {
        uint32_t b[4];
        ldmatrix_x4_trans(b, v_tile + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * kStride + (nd + (lane >> 4)) * 8);
        mma_16816(o[nd], a, b[0], b[1]);
        mma_16816(o[nd], a_rest, b[0], b[1]);
        mma_16816(o[nd + 1], a, b[2], b[3]);
        mma_16816(o[nd + 1], a_rest, b[2], b[3]);
      }
    }
  }

  // the warp's rows (query heads g and g + 8) into the block's combine arrays
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    running_sum[h] += __shfl_xor_sync(0xffffffffu, running_sum[h], 1);
    running_sum[h] += __shfl_xor_sync(0xffffffffu, running_sum[h], 2);
    const int head = g + 8 * h;
    if (head >= block_heads || head >= G) continue;
    if (t == 0) combine[warp][head][0] = running_max[h], combine[warp][head][1] = running_sum[h];
#pragma unroll
    for (int nd = 0; nd < kDimTiles; ++nd) {
      combine_o[warp][head * HD + nd * 8 + 2 * t] = o[nd][2 * h];
      combine_o[warp][head * HD + nd * 8 + 2 * t + 1] = o[nd][2 * h + 1];
    }
  }
  __syncthreads();
  finish_range<HD / 32, G>(st, combine, combine_o, block_heads, first_head, kv_head, split, splits);
}

// The head sizes decode_kernel is instantiated for (others take decode_split_kernel).
bool has_chunk_kernel(int head_dim) { return head_dim == 64 || head_dim == 96 || head_dim == 128; }

// Key ranges per KV head in decode, sized for the cache's capacity so that the grid is the same at
// every position: a pass of the block's warps each (32 keys a warp) for the chunked kernel.
int decode_splits(int64_t capacity, int head_dim) {
  const int keys = has_chunk_kernel(head_dim) ? kKeysPerChunkBlock : kKeysPerSplit;
  return int(std::clamp<int64_t>(capacity / keys, 1, kMaxSplits));
}

// The ranges' slots: (max, total, output) per query head and range.
int64_t decode_partial_floats(const AttentionParams& p) { return int64_t(p.heads) * kMaxSplits * (p.head_dim + 2); }

}  // namespace

bool attention_supports(const AttentionParams& p) {
  return p.head_dim <= kMaxHeadDim && p.head_dim % 2 == 0 && p.kv_heads > 0 && p.heads % p.kv_heads == 0 &&
         p.heads / p.kv_heads <= kMaxGroup;
}

int64_t attention_scratch_floats(const AttentionParams& p) { return decode_partial_floats(p) + p.heads; }

void attention(float* q, const float* k, const float* v, int64_t rows, void* keys, void* values,
               int64_t capacity, const int64_t* first_position, int64_t host_first_position, const AttentionParams& p, float* out,
               float* scratch, const Rotation* rotation, cudaStream_t stream) {
  const int64_t width = int64_t(p.kv_heads) * p.head_dim;
  auto* k_cache = static_cast<__half*>(keys);
  auto* v_cache = static_cast<__half*>(values);
  const int splits = decode_splits(capacity, p.head_dim);
  const int group = p.heads / p.kv_heads;
  if (rows == 1 && has_chunk_kernel(p.head_dim)) {
    // one kernel: rotation, append, the ranges and their merge
    DecodeStep st{q, k, v, rotation ? rotation->rotary_dim / 2 : 0, rotation && rotation->traditional,
                  rotation ? rotation->inv_freq : nullptr, rotation ? rotation->input_scale : 1.0f, out, scratch,
                  reinterpret_cast<unsigned*>(scratch + decode_partial_floats(p))};
    // Query heads of a group split over blocks while the grid stays within two blocks per SM: at
    // short contexts (few ranges) a block's warps otherwise each score 32 keys against every head of
    // the group, one long chain of dependent instructions, on SMs mostly left idle (measured on an
    // H100, 8B at context 512: 40 blocks of 14 us, 9 of them one warp's issue latency).
    int head_blocks = 1;
    while (group % (2 * head_blocks) == 0 && p.kv_heads * splits * 2 * head_blocks <= 2 * multiprocessors())
      head_blocks *= 2;
    const int block_heads = group / head_blocks;
    const dim3 grid(unsigned(p.kv_heads), unsigned(splits), unsigned(head_blocks));
    if ((p.head_dim == 64 || p.head_dim == 128) && capacity >= kMmaDecodeMinCapacity) {
      auto decode_mma = [&]<int HD>() {
        auto go = [&](auto kernel) {
          cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(mma_decode_shared_bytes<HD>()));
          launch(kernel, grid, kChunkWarps * 32, mma_decode_shared_bytes<HD>(), stream, st, k_cache, v_cache,
                 first_position, p.heads, p.kv_heads, p.scale);
        };
        if (block_heads <= 1) go(decode_mma_kernel<HD, 1>);
        else if (block_heads <= 2) go(decode_mma_kernel<HD, 2>);
        else if (block_heads <= 4) go(decode_mma_kernel<HD, 4>);
        else if (block_heads <= 8) go(decode_mma_kernel<HD, 8>);
        else go(decode_mma_kernel<HD, kMaxGroup>);
      };
      if (p.head_dim == 64) decode_mma.template operator()<64>();
      else decode_mma.template operator()<128>();
      return;
    }
    auto decode = [&]<int D>() {
      auto go = [&](auto kernel) {
        launch(kernel, grid, kChunkWarps * 32, 0, stream, st, k_cache, v_cache, first_position, p.heads, p.kv_heads,
               p.scale);
      };
      if (block_heads <= 1) go(decode_kernel<D, 1>);
      else if (block_heads <= 2) go(decode_kernel<D, 2>);
      else if (block_heads <= 4) go(decode_kernel<D, 4>);
      else if (block_heads <= 8) go(decode_kernel<D, 8>);
      else go(decode_kernel<D, kMaxGroup>);
    };
    if (p.head_dim == 64) decode.template operator()<2>();
    else if (p.head_dim == 96) decode.template operator()<3>();
    else decode.template operator()<4>();
    return;
  }
  if (rotation) {
    const int half = rotation->rotary_dim / 2;
    const int64_t threads = rows * (int64_t(p.heads) * half + int64_t(p.kv_heads) * (p.head_dim / 2));
    launch(rotate_append_kernel, unsigned((threads + 255) / 256), 256, 0, stream, q, k, v, rows, p.heads, p.kv_heads,
           p.head_dim, half, rotation->traditional, rotation->inv_freq, rotation->input_scale, k_cache, v_cache,
           first_position);
  } else {
    launch(append_kernel, unsigned((rows * width + 255) / 256), 256, 0, stream, k, v, rows, width, k_cache, v_cache,
           first_position);
  }
  if (rows == 1) {
    // other head sizes: a kernel per range, then one per head merging them; the grid sized for the
    // cache's capacity (the same at every position), the ranges for the keys held (ranges_for)
    const dim3 grid(unsigned(p.kv_heads), unsigned(splits));
    launch(decode_split_kernel, grid, kDecodeThreads, 0, stream, q, k_cache, v_cache, first_position, p.heads,
           p.kv_heads, p.head_dim, p.scale, scratch);
    launch(decode_merge_kernel, p.heads, 128, 0, stream, scratch, p.head_dim, splits, first_position, out);
    return;
  }
  switch (p.head_dim) {
    case 32: return launch_flash_prefill<32>(q, rows, k_cache, v_cache, host_first_position, p, out, stream);
    case 64: return launch_flash_prefill<64>(q, rows, k_cache, v_cache, host_first_position, p, out, stream);
    case 96: return launch_flash_prefill<96>(q, rows, k_cache, v_cache, host_first_position, p, out, stream);
    case 128: return launch_flash_prefill<128>(q, rows, k_cache, v_cache, host_first_position, p, out, stream);
    case 256: return launch_flash_prefill<256>(q, rows, k_cache, v_cache, host_first_position, p, out, stream);
    default: break;  // the CUDA-core kernel below
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
