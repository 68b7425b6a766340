#pragma once
// The pieces of the tensor-core matvecs (tiled_matvec.cu): the activations prepared as mma
// fragments, one group's product, and the stages of the streamed matvec (its producer's copies
// and its consumers' share of a stage, each in a function of its own).
// Written by hand for MLX's formats (no library reads them).

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "backend/cuda/async_copy.cuh"
#include "backend/cuda/kernels.h"
#include "backend/cuda/mma.cuh"
#include "backend/cuda/warp.cuh"
#include "backend/packed_matrix.h"

namespace salut::backend::cuda {

constexpr int kTileRows = 16;
constexpr int kWarps = 16;       // a block: one tile, its groups dealt out over 16 warps
constexpr int kMaxXRows = int(kTiledRowsPerPass);
constexpr int kMaxJobLayers = 3;

// ---- activations prepared as mma B fragments ----
//
// Lane L = g*4 + t of an mma supplies B column g (x row g/2, its high part when g is even, the
// remainder when odd) at inputs {2t, 2t+1, 2t+8, 2t+9} of the 16-input step. Which input of the
// group each of those stands for is ours to choose, as long as the weights (A) agree: lane t's A
// values are its quarter of the group, and pair_of below says which two values each register
// holds. Only lanes 8r..8r+7 carry x row r, so the fragments are kept per x row: [row][group]
// [step][8 lanes] uint2 (a run of groups of one row is one contiguous block, which the streamed
// matvec copies whole); then per group and x row a float4 (sum of x, sum of the prepared values,
// 2^e, 0).

// Values e0, e1 of a lane's quarter in register pair j, and the factor A carries on them (the
// high nibble of a byte is taken in place: 1024 + 16q).
template <int Bits>
__device__ __forceinline__ void pair_elements(int j, int& e0, int& e1, float& factor) {
  if constexpr (Bits == 4) {
    const int word = j >> 2, k = j & 3;  // k: (v0,v4) (16v1,16v5) (v2,v6) (16v3,16v7)
    e0 = 8 * word + (k >> 1) * 2 + (k & 1), e1 = e0 + 4;
    factor = (k & 1) ? 16.0f : 1.0f;
  } else {
    const int word = j >> 1, k = j & 1;  // (v0,v2) (v1,v3)
    e0 = 4 * word + k, e1 = e0 + 2;
    factor = 1.0f;
  }
}

// Register pair j of a lane's quarter (`words`), as f16x2 of 1024 + factor * q.
template <int Bits>
__device__ __forceinline__ uint32_t pair_of(const uint32_t* words, int j) {
  if constexpr (Bits == 4) {
    const uint32_t w = words[j >> 2];
    const int k = j & 3;
    return (((k >> 1) ? w >> 8 : w) & ((k & 1) ? 0x00F000F0u : 0x000F000Fu)) | 0x64006400u;
  } else {
    const uint32_t w = words[j >> 1];
    return (((j & 1) ? w >> 8 : w) & 0x00FF00FFu) | 0x64006400u;
  }
}

// One warp: group g of x row r (its GS values at xg, global or shared memory) into frags/info.
template <int Bits, int GS>
__device__ __forceinline__ void prepare_group(const float* xg, int r, int64_t g, int64_t groups, uint2* frags,
                                              float4* info) {
  constexpr int kSteps = GS / 16;
  const int lane = threadIdx.x & 31;
  float largest = 0, sum = 0;
  for (int i = lane; i < GS; i += 32) {
    largest = fmaxf(largest, fabsf(xg[i]));
    sum += xg[i];
  }
  largest = warp_max(largest);
  sum = warp_sum(sum);
  // x * 2^-e stays below 2^13: (1024 + 16 * 15) * 2^13 sums of 128 stay far inside f32 and f16
  const int e = largest > 0 ? ilogbf(largest) - 12 : 0;
  const float down = ldexpf(1.0f, -e);
  float prepared_sum = 0;
  for (int o = lane; o < kSteps * 8; o += 32) {
    const int s = o >> 3, column = (o >> 2) & 1, t = o & 3;
    uint32_t regs[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      int e0, e1;
      float factor;
      pair_elements<Bits>(2 * s + h, e0, e1, factor);
      const float a = xg[t * (GS / 4) + e0] * down / factor, b = xg[t * (GS / 4) + e1] * down / factor;
      const __half2 high = __floats2half2_rn(a, b);
      float pa = __low2float(high), pb = __high2float(high);
      if (column == 1) {
        const __half2 rest = __floats2half2_rn(a - pa, b - pb);
        pa = __low2float(rest), pb = __high2float(rest);
      }
      prepared_sum += pa + pb;
      regs[h] = pack_half2(pa, pb);
    }
    frags[((r * groups + g) * kSteps + s) * 8 + (o & 7)] = make_uint2(regs[0], regs[1]);
  }
  prepared_sum = warp_sum(prepared_sum);
  if (lane == 0) info[g * kMaxXRows + r] = make_float4(sum, prepared_sum, ldexpf(1.0f, e), 0);
}

// Where the prepared form of an x of `cols` lies in a scratch.
struct Prepared {
  uint2* frags;
  float4* info;
};
inline Prepared prepared_in(void* scratch, int64_t cols) {
  return {static_cast<uint2*>(scratch),
          reinterpret_cast<float4*>(static_cast<std::byte*>(scratch) + size_t(cols / 16) * 32 * sizeof(uint2))};
}


template <class ScaleT>
__device__ __forceinline__ float to_float(ScaleT v) {
  if constexpr (sizeof(ScaleT) == 4) return v;
  else if constexpr (std::is_same_v<ScaleT, __half>) return __half2float(v);
  else return __bfloat162float(v);
}

// acc[h] (row g, then row g + 8 of the lane's pair) += one group's product, through the tensor
// cores: `words` the lane's quarters of both rows, xb the x fragments, `in` the group's info.
template <int Bits, int GS, class ScaleT>
__device__ __forceinline__ void add_group_product(const uint32_t* words, const uint2* xb, float4 in,
                                                  const ScaleT* scale, const ScaleT* bias, float (&acc)[2]) {
  constexpr int kRowWords = GS * Bits / 128;
  float c[4] = {0, 0, 0, 0};
#pragma unroll
  for (int s = 0; s < GS / 16; ++s) {
    const uint32_t a[4] = {pair_of<Bits>(words, 2 * s), pair_of<Bits>(words + kRowWords, 2 * s),
                           pair_of<Bits>(words, 2 * s + 1), pair_of<Bits>(words + kRowWords, 2 * s + 1)};
    mma_16816(c, a, xb[s].x, xb[s].y);
  }
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const float dot = fmaf(-1024.0f, in.y, c[2 * h] + c[2 * h + 1]);
    acc[h] = fmaf(to_float(scale[h]) * in.z, dot, fmaf(to_float(bias[h]), in.x, acc[h]));
  }
}

// Up to kMaxJobLayers layers of one input (q/k/v, gate/up) in one launch; blocks are dealt out
// over the layers' tiles in order.
struct TiledJob {
  PackedMatrix m[kMaxJobLayers];
  float* y[kMaxJobLayers];
  int64_t first_tile[kMaxJobLayers + 1];
  int count = 0;
};

// Where a gated product (an MLP's gate and up projections, their tiles paired) leaves
// silu(gate) * up: in h [x_rows][rows], and prepared for the next product (`to`) a group at a time
// by the block that completes the group (`arrivals` counts its tiles; that block resets it).
struct GatedOutput {
  float* h = nullptr;
  Prepared to{};
  unsigned* arrivals = nullptr;
  int64_t rows = 0;
};

// ---- the streamed matvec's stages (tiled_matvec.cu says how the kernel works) ----

constexpr int kBand = 2;  // tiles a stage carries (each x fragment read serves both)
constexpr int kProducerWarp = kWarps;
constexpr int kMaxSlots = 32;
// The ring: 160 KiB leaves room on the SM for the short kernels launched beside it (8B decode:
// 120 KiB as fast, 200 KiB 7% slower).
constexpr int kRingBytes = 160 * 1024;
// Weights a block asks for before its inputs are ready (whole stages, at least one): the kernels
// between two products run while these land, and more of them in flight slows those kernels'
// own reads (8B decode on an H100, stages of 36 KiB in a ring of 3: 2 ahead 402-406 tok/s at
// context 512 and 367-370 at 4096, against 397-398 and 360-361 with the whole ring, 400-403
// and 362-366 with 1).
constexpr int kAheadWeightBytes = 80 * 1024;

template <int Bits, int GS, class ScaleT>
struct Stage {
  static constexpr int kGroupBytes = kTileRows * GS * Bits / 8;             // one tile's group
  static constexpr int kGroupScaleBytes = kTileRows * int(sizeof(ScaleT));  // its scales (and biases)
  static constexpr int kGroupXBytes = GS / 16 * 8 * int(sizeof(uint2));  // one x row's fragments of a group
  // Groups a stage carries: 32 KiB of weights (the producer warp's own work per stage bounds a
  // block: with 16 KiB stages large layers kept the DRAM under half busy), and no more than two
  // slots of kMaxXRows rows fill the ring.
  static constexpr int kGroups =
      std::min(32768 / (kBand * kGroupBytes),
               kRingBytes / 2 /
                   (kBand * (kGroupBytes + 2 * kGroupScaleBytes) + kMaxXRows * (kGroupXBytes + int(sizeof(float4)))));
  static constexpr int kWeightBytes = kBand * kGroups * kGroupBytes;
  static constexpr int kScaleBytes = kBand * kGroups * kGroupScaleBytes;
  static constexpr int kLayerBytes = kWeightBytes + 2 * kScaleBytes;  // weights, scales, biases
  static constexpr int kXAt = kLayerBytes;
  static constexpr int kInfoBytes = kGroups * kMaxXRows * int(sizeof(float4));
  static constexpr int bytes(int x_rows) { return kXAt + x_rows * kGroups * kGroupXBytes + kInfoBytes; }
  static_assert(2 * bytes(kMaxXRows) <= kRingBytes, "a ring holds two stages: one landing while one is read");
};

// The fields of layer `layer` of a job, in registers (a kernel parameter indexed at run time goes
// to local memory).
struct JobLayer {
  const std::byte* weight;
  const std::byte* scales;
  const std::byte* biases;
  size_t tile_stride, scale_stride;
  int64_t rows, first_tile;
  float* y;
};
__device__ __forceinline__ JobLayer job_layer(const TiledJob& job, int layer) {
  JobLayer l{};
#pragma unroll
  for (int k = 0; k < kMaxJobLayers; ++k)
    if (k == layer)
      l = {job.m[k].weight, job.m[k].scales, job.m[k].biases, job.m[k].weight_stride, job.m[k].scale_stride,
           job.m[k].rows, job.first_tile[k], job.y[k]};
  return l;
}
__device__ __forceinline__ int layer_of(const TiledJob& job, int64_t tile) {
  int layer = 0;
#pragma unroll
  for (int k = 1; k < kMaxJobLayers; ++k)
    if (k < job.count && tile >= job.first_tile[k]) layer = k;
  return layer;
}

// The stages of a block's tiles [tile, end), in order: bands of up to max_band (kBand or 1) tiles
// of one layer, each walked over its groups a stage's worth at a time. Every block starts its
// bands at a group of its own: all 132 walking x from group 0 together would ask the same few L2
// lines at once. Kept cheap: the producer runs it once per stage in a single warp, and its speed
// bounds the block's.
struct StageCursor {
  int64_t tile, end;
  int groups, stage_groups, stages, first_g0, max_band, band = 0, step = 0, g0 = 0;
  JobLayer layer{};
  int64_t local = 0;  // the band's first tile within its layer
  __device__ StageCursor(const TiledJob& job, int64_t begin, int64_t end, int groups, int stage_groups,
                         int max_band = kBand)
      : tile(begin), end(end), groups(groups), stage_groups(stage_groups),
        stages((groups + stage_groups - 1) / stage_groups), first_g0(int(blockIdx.x % unsigned(stages)) * stage_groups),
        max_band(max_band) {
    start_band(job);
  }
  __device__ bool valid() const { return tile < end; }
  __device__ int count() const { return min(stage_groups, groups - g0); }
  __device__ bool ends_band() const { return step == stages - 1; }
  __device__ void next(const TiledJob& job) {
    g0 += stage_groups;
    if (g0 >= groups) g0 = 0;
    if (++step == stages) {
      tile += band;
      start_band(job);
    }
  }
  __device__ void start_band(const TiledJob& job) {
    step = 0;
    g0 = first_g0;
    if (tile >= end) return;
    const int index = layer_of(job, tile);
    layer = job_layer(job, index);
    local = tile - layer.first_tile;
    band = max_band > 1 && tile + 1 < end && layer_of(job, tile + 1) == index ? kBand : 1;
  }
};

// The tiles a stage carries: its band's, or when `Paired` (a gated product, whose bands are one
// tile) that tile of the gate and the same tile of the up projection (`second`).
template <bool Paired>
__device__ __forceinline__ int stage_tiles(const StageCursor& c) { return Paired ? 2 : c.band; }

// The bytes of a stage's weights, scales and biases (what its producer announces on its barrier).
template <int Bits, int GS, class ScaleT, bool Paired>
__device__ __forceinline__ uint32_t stage_weight_bytes(const StageCursor& c) {
  using S = Stage<Bits, GS, ScaleT>;
  return uint32_t(stage_tiles<Paired>(c) * c.count() * (S::kGroupBytes + 2 * S::kGroupScaleBytes));
}

// A producer warp's copies of a stage's weights, scales and biases into the slot at `to`, landing
// on `done` (lanes 0-5: a tile's weights, scales, biases, tile lane / 3).
template <int Bits, int GS, class ScaleT, bool Paired>
__device__ __forceinline__ void copy_stage_weights(const StageCursor& c, const JobLayer& second, std::byte* to,
                                                   uint64_t* done, int lane) {
  using S = Stage<Bits, GS, ScaleT>;
  if (lane >= 3 * stage_tiles<Paired>(c)) return;
  const int k = lane / 3, part = lane % 3, count = c.count();
  // field by field: choosing between the two structs by reference put them in local memory
  const bool other = Paired && k == 1;
  const int64_t tile = c.local + (Paired ? 0 : k);
  if (part == 0) {
    const std::byte* weight = other ? second.weight : c.layer.weight;
    const size_t stride = other ? second.tile_stride : c.layer.tile_stride;
    bulk_copy(to + k * S::kGroups * S::kGroupBytes, weight + size_t(tile) * stride + size_t(c.g0) * S::kGroupBytes,
              uint32_t(count * S::kGroupBytes), done);
  } else {
    const std::byte* from = part == 1 ? (other ? second.scales : c.layer.scales) : (other ? second.biases : c.layer.biases);
    const size_t stride = other ? second.scale_stride : c.layer.scale_stride;
    bulk_copy(to + S::kWeightBytes + (part - 1) * S::kScaleBytes + k * S::kGroups * S::kGroupScaleBytes,
              from + size_t(tile) * stride + size_t(c.g0) * S::kGroupScaleBytes, uint32_t(count * S::kGroupScaleBytes),
              done);
  }
}

// A consumer warp's share of a landed stage at `at`: its groups j = warp, warp + kWarps, ... of
// the stage against x, whose fragments for this lane are at frags[(j * kSteps + s) * 8] (already
// offset to the lane's x row and lane) and whose info is info[j * info_stride].
template <int Bits, int GS, class ScaleT>
__device__ __forceinline__ void consume_stage(const std::byte* at, const StageCursor& c, int tiles, bool supplies_x,
                                              const uint2* frags, const float4* info, int info_stride,
                                              float (&acc)[kBand][2]) {
  using S = Stage<Bits, GS, ScaleT>;
  constexpr int kQuarterBytes = GS * Bits / 32, kLaneBytes = 2 * kQuarterBytes, kRowWords = kQuarterBytes / 4;
  constexpr int kSteps = GS / 16;
  constexpr int kScalePair = 2 * int(sizeof(ScaleT));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2;
  for (int j = warp; j < c.count(); j += kWarps) {
    uint2 xb[kSteps];
#pragma unroll
    for (int s = 0; s < kSteps; ++s) xb[s] = supplies_x ? frags[(j * kSteps + s) * 8] : make_uint2(0, 0);
    const float4 in = info[j * info_stride];
#pragma unroll
    for (int k = 0; k < kBand; ++k) {
      if (k >= tiles) break;
      uint32_t words[2 * kRowWords];
      const std::byte* w = at + (k * S::kGroups + j) * S::kGroupBytes + lane * kLaneBytes;
      if constexpr (kLaneBytes == 8) {
        const uint2 v = *reinterpret_cast<const uint2*>(w);
        words[0] = v.x, words[1] = v.y;
      } else {
#pragma unroll
        for (int i = 0; i < kLaneBytes / 16; ++i) {
          const uint4 v = reinterpret_cast<const uint4*>(w)[i];
          words[4 * i] = v.x, words[4 * i + 1] = v.y, words[4 * i + 2] = v.z, words[4 * i + 3] = v.w;
        }
      }
      const int pair_at = (k * S::kGroups + j) * S::kGroupScaleBytes + g * kScalePair;
      ScaleT scale[2], bias[2];
      if constexpr (sizeof(ScaleT) == 2) {
        const uint32_t sv = *reinterpret_cast<const uint32_t*>(at + S::kWeightBytes + pair_at);
        const uint32_t bv = *reinterpret_cast<const uint32_t*>(at + S::kWeightBytes + S::kScaleBytes + pair_at);
        memcpy(scale, &sv, 4);
        memcpy(bias, &bv, 4);
      } else {
        const float2 sv = *reinterpret_cast<const float2*>(at + S::kWeightBytes + pair_at);
        const float2 bv = *reinterpret_cast<const float2*>(at + S::kWeightBytes + S::kScaleBytes + pair_at);
        memcpy(scale, &sv, 8);
        memcpy(bias, &bv, 8);
      }
      add_group_product<Bits, GS>(words, xb, in, scale, bias, acc[k]);
    }
  }
}

// Calls fn.template operator()<Bits, GS>() for a tiled format.
template <class Fn>
void dispatch_prepared(int bits, int group_size, Fn&& fn) {
  auto with_group = [&]<int Bits>() {
    if (group_size == 32) fn.template operator()<Bits, 32>();
    else if (group_size == 64) fn.template operator()<Bits, 64>();
    else fn.template operator()<Bits, 128>();
  };
  if (bits == 4) with_group.template operator()<4>();
  else with_group.template operator()<8>();
}

// ... and <Bits, GS, ScaleT> for a tiled layer.
template <class Fn>
void dispatch_tiled(const PackedMatrix& w, Fn&& fn) {
  dispatch_prepared(w.bits, w.group_size, [&]<int Bits, int GS>() {
    if (w.scale_format == ScaleFormat::bf16) fn.template operator()<Bits, GS, __nv_bfloat16>();
    else if (w.scale_format == ScaleFormat::f16) fn.template operator()<Bits, GS, __half>();
    else fn.template operator()<Bits, GS, float>();
  });
}

}  // namespace salut::backend::cuda
