// The decode matvec of affine 4- and 8-bit layers on the tensor cores, by hand (no library reads
// MLX's formats).
//
// A matvec reads every weight once and does two flops with it: memory-bound, but only if the
// instructions per byte stay few. Converting each 4-bit value to f32 and multiplying in f32 took
// ~3 instructions a value and capped the old kernel near half the bandwidth. Here a warp feeds
// 16 rows x 16 inputs to one `mma.m16n8k16` (f16 inputs, f32 sums): a packed word becomes f16
// pairs with one LOP3 each (0x6400 | nibble is exactly 1024 + q in f16), and the tensor core does
// the multiplications. The activations ride in the mma's B columns, split into an f16 high part
// and an f16 remainder (two columns: together ~22 bits, so x keeps f32-like precision), scaled by
// a power of two per group so that f16's range never clips them. The 1024 offsets sum to
// 1024 * sum(x) per group, subtracted once. Up to four activation rows share one pass (columns
// 2r, 2r + 1).
//
// The weights are re-laid once at load (`relayout`) in 16-row tiles: per tile and group, each
// lane's bytes for its two rows sit together, so that a warp's load is one contiguous run (512
// bytes at 4 bits, groups of 64); the scales and biases likewise, in arrays of their own. The
// bytes are MLX's, moved, never changed.

#include <algorithm>
#include <stdexcept>

#include "backend/cuda/async_copy.cuh"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/mma.cuh"
#include "backend/cuda/packed_decode.cuh"
#include "backend/cuda/tiled_matvec.cuh"
#include "backend/cuda/warp.cuh"

namespace salut::backend::cuda {
namespace {

SALUT_HOST_DEVICE inline int scale_bytes(ScaleFormat f) { return f == ScaleFormat::f32 ? 4 : 2; }

// The weight bytes of one (tile, group) block: 16 rows' worth.
SALUT_HOST_DEVICE inline size_t block_bytes(int bits, int group_size) { return size_t(kTileRows) * group_size * bits / 8; }

// Where quarter `t` of row `row`'s group `g` lies (a quarter: the group's values
// [t * gs/4, (t+1) * gs/4), the share of one lane), and its scale and bias.
struct ChunkAddress {
  const std::byte* weight;
  const std::byte* scale;
  const std::byte* bias;
};

__device__ __forceinline__ ChunkAddress chunk_address(const PackedMatrix& m, int64_t row, int64_t g, int t) {
  const int quarter = m.group_size * m.bits / 32;
  const int sb = scale_bytes(m.scale_format);
  if (m.layout == PackedLayout::rows) {
    return {m.weight_row(row) + g * (4 * quarter) + t * quarter, m.scale_row(row) + g * sb, m.bias_row(row) + g * sb};
  }
  // tiles16: lane (row % 8) * 4 + t holds row r's quarter then row r + 8's; the tile's scales
  // (and biases) of the group: row r's then row r + 8's, for r = 0..7
  const int64_t tile = row / kTileRows;
  const std::byte* block = m.weight + size_t(tile) * m.weight_stride + size_t(g) * block_bytes(m.bits, m.group_size);
  const int r = int(row % kTileRows), lane = (r & 7) * 4 + t, half = r >> 3;
  const size_t scale_at = size_t(tile) * m.scale_stride + (size_t(g) * kTileRows + (r & 7) * 2 + half) * sb;
  return {block + lane * 2 * quarter + half * quarter, m.scales + scale_at, m.biases + scale_at};
}

// One thread per (row, group, quarter): copies the quarter's words (and, for quarter 0, the
// scale and bias) from one layout to the other.
__global__ void relayout_kernel(PackedMatrix from, PackedMatrix to) {
  wait_for_inputs();
  const int64_t groups = from.cols / from.group_size;
  const int64_t index = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= from.rows * groups * 4) return;
  const int t = int(index & 3);
  const int64_t g = (index >> 2) % groups, row = (index >> 2) / groups;
  const ChunkAddress src = chunk_address(from, row, g, t), dst = chunk_address(to, row, g, t);
  const int words = from.group_size * from.bits / 128;
  for (int i = 0; i < words; ++i)
    reinterpret_cast<uint32_t*>(const_cast<std::byte*>(dst.weight))[i] = reinterpret_cast<const uint32_t*>(src.weight)[i];
  if (t == 0) {
    for (int i = 0; i < scale_bytes(from.scale_format); ++i) {
      const_cast<std::byte*>(dst.scale)[i] = src.scale[i];
      const_cast<std::byte*>(dst.bias)[i] = src.bias[i];
    }
  }
}

// One warp per (group, x row).
template <int Bits, int GS>
__global__ void prepare_kernel(const float* x, int64_t cols, int x_rows, Prepared to) {
  wait_for_inputs();
  const int64_t item = int64_t(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5);
  const int64_t groups = cols / GS;
  if (item >= groups * x_rows) return;
  const int64_t g = item / x_rows;
  const int r = int(item % x_rows);
  prepare_group<Bits, GS>(x + r * cols + g * GS, r, g, groups, to.frags, to.info);
}

// ---- producers of a matvec's input that hand it over prepared (one launch fewer each) ----

// RMSNorm as rms_norm_kernel computes it, a block per (row, kPrepareWarps groups): every block
// sums the row's squares itself (the row is a few KiB, read from L2), so the groups are normalized
// and prepared by many blocks at once instead of one.
constexpr int kPrepareWarps = 8;

template <int Bits, int GS>
__global__ void rms_norm_prepare_kernel(const float* x, int64_t cols, const float* weight,
                                        float eps, float* out, Prepared to) {
  // the norm's weights are the model's, not the previous kernel's output: read before waiting
  constexpr int kPerLane = (GS + 31) / 32;
  const int r = blockIdx.y, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t g = int64_t(blockIdx.x) * kPrepareWarps + warp;
  const bool has_group = g < cols / GS;
  float w[kPerLane];
#pragma unroll
  for (int k = 0; k < kPerLane; ++k) w[k] = has_group && lane + 32 * k < GS ? weight[g * GS + lane + 32 * k] : 0.0f;
  wait_for_inputs();
  __shared__ float values[kPrepareWarps][GS];
  const float* row = x + r * cols;
  const float inverse = rsqrtf(block_sum_of_squares(row, cols) / float(cols) + eps);
  if (!has_group) return;
#pragma unroll
  for (int k = 0; k < kPerLane; ++k) {
    const int i = lane + 32 * k;
    if (i >= GS) break;
    const int64_t at = g * GS + i;
    const float v = row[at] * inverse * w[k];
    out[r * cols + at] = v;
    values[warp][i] = v;
  }
  __syncwarp();
  prepare_group<Bits, GS>(values[warp], r, g, cols / GS, to.frags, to.info);
}

// SwiGLU as swiglu_kernel computes it, a warp per (row, group).
template <int Bits, int GS>
__global__ void swiglu_prepare_kernel(const float* gate, const float* up, int64_t rows, int64_t cols,
                                      float* out, Prepared to) {
  wait_for_inputs();
  __shared__ float values[kPrepareWarps][GS];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t item = int64_t(blockIdx.x) * kPrepareWarps + warp, groups = cols / GS;
  if (item >= rows * groups) return;
  const int r = int(item / groups);
  const int64_t g = item % groups;
  for (int i = lane; i < GS; i += 32) {
    const int64_t at = r * cols + g * GS + i;
    const float gv = gate[at];
    const float v = gv / (1.0f + expf(-gv)) * up[at];
    out[at] = v;
    values[warp][i] = v;
  }
  __syncwarp();
  prepare_group<Bits, GS>(values[warp], r, g, cols / GS, to.frags, to.info);
}


template <int Bytes>
__device__ __forceinline__ void load_words(const std::byte* p, uint32_t* words) {
  if constexpr (Bytes == 8) {
    const uint2 v = __ldg(reinterpret_cast<const uint2*>(p));
    words[0] = v.x, words[1] = v.y;
  } else {
#pragma unroll
    for (int i = 0; i < Bytes / 16; ++i) {
      const uint4 v = __ldg(reinterpret_cast<const uint4*>(p) + i);
      words[4 * i] = v.x, words[4 * i + 1] = v.y, words[4 * i + 2] = v.z, words[4 * i + 3] = v.w;
    }
  }
}

// Wide layers (more than 4096 inputs) keep twice the groups in flight per warp: their blocks are
// few (rows / 16) and each walks a long row (measured on an H100: down 22 -> 18 us; narrow
// layers were faster with fewer). Narrow ones take kTiles = 2 tiles a block: every block reads
// all of x from L2 (64 KiB of fragments at 4096 inputs), which for gate/up's 1792 single tiles
// was 1.7x the bytes of the weights themselves; two tiles a block halve that (8B decode on an
// H100 329 -> 351 tok/s at context 512, 305 -> 324 at 4096; four tiles, or two for the wide
// layers, measured slower). A narrow single tile (an odd count) is held to 40 registers so that
// 3 blocks fit an SM.
template <int Bits, int GS, class ScaleT, bool Wide, int kTiles = 1>
__global__ void __launch_bounds__(kWarps * 32, Wide || kTiles > 1 ? 2 : 3) tiled_matvec_kernel(TiledJob job, const uint2* frags,
                                                                    const float4* info, int x_rows,
                                                                    bool accumulate) {
  constexpr int kQuarterBytes = GS * Bits / 32, kLaneBytes = 2 * kQuarterBytes, kRowWords = kQuarterBytes / 4;
  constexpr int kSteps = GS / 16;
  constexpr int kBlockBytes = kTileRows * GS * Bits / 8;
  constexpr int kScaleBytes = 2 * int(sizeof(ScaleT));  // a lane's pair: row g's, row g + 8's
  constexpr int kBatchBytes = (Wide ? 64 : 32) / kTiles;  // per lane and tile: the loads in flight together
  constexpr int kBatch = kLaneBytes >= kBatchBytes ? 1 : kBatchBytes / kLaneBytes;
  __shared__ float partial[kWarps][kMaxXRows][kTiles * kTileRows];

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int64_t tile = int64_t(blockIdx.x) * kTiles;
  int layer = 0;
#pragma unroll
  for (int k = 1; k < kMaxJobLayers; ++k)
    if (k < job.count && tile >= job.first_tile[k]) layer = k;
  // the fields used, in registers (a kernel parameter indexed at run time goes to local memory)
  const std::byte* weight = nullptr;
  const std::byte* scales = nullptr;
  const std::byte* biases = nullptr;
  size_t tile_stride = 0, scale_stride = 0;
  int64_t rows = 0, first_tile = 0, cols = 0;
  float* y = nullptr;
#pragma unroll
  for (int k = 0; k < kMaxJobLayers; ++k)
    if (k == layer) {
      weight = job.m[k].weight, tile_stride = job.m[k].weight_stride, rows = job.m[k].rows;
      scales = job.m[k].scales, biases = job.m[k].biases, scale_stride = job.m[k].scale_stride;
      first_tile = job.first_tile[k], y = job.y[k], cols = job.m[k].cols;
    }
  const int64_t local = tile - first_tile;
  const std::byte* base = weight + size_t(local) * tile_stride;
  const std::byte* scale_base = scales + size_t(local) * scale_stride + g * kScaleBytes;
  const std::byte* bias_base = biases + size_t(local) * scale_stride + g * kScaleBytes;
  const int groups = int(cols / GS);
  const bool supplies_x = lane < 8 * x_rows;
  const int x_row = t < x_rows ? t : 0;  // lane t's C columns 2t, 2t+1 are x row t's

  float acc[kTiles][2] = {};
  for (int g0 = warp; g0 < groups; g0 += kWarps * kBatch) {
    uint32_t words[kBatch][kTiles][2 * kRowWords];
    ScaleT scale[kBatch][kTiles][2], bias[kBatch][kTiles][2];
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      const int group = g0 + b * kWarps;
      if (group < groups) {
#pragma unroll
        for (int k = 0; k < kTiles; ++k) {
          load_words<kLaneBytes>(base + k * tile_stride + size_t(group) * kBlockBytes + lane * kLaneBytes, words[b][k]);
          const size_t at = k * scale_stride + size_t(group) * kTileRows * sizeof(ScaleT);
          if constexpr (sizeof(ScaleT) == 2) {
            const uint32_t s = __ldg(reinterpret_cast<const uint32_t*>(scale_base + at));
            const uint32_t z = __ldg(reinterpret_cast<const uint32_t*>(bias_base + at));
            memcpy(scale[b][k], &s, 4);
            memcpy(bias[b][k], &z, 4);
          } else {
            const float2 s = __ldg(reinterpret_cast<const float2*>(scale_base + at));
            const float2 z = __ldg(reinterpret_cast<const float2*>(bias_base + at));
            memcpy(scale[b][k], &s, 8);
            memcpy(bias[b][k], &z, 8);
          }
        }
      }
    }
    if (g0 == warp) {  // the first weights are on their way: now the activations
      wait_for_inputs();
    }
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      const int group = g0 + b * kWarps;
      if (group >= groups) break;
      // the activations through L2 (__ldcg), never the read-only path: that one assumes data fixed
      // for the kernel's whole life, and this kernel starts while the one writing them still runs
      uint2 xb[kSteps];
#pragma unroll
      for (int s = 0; s < kSteps; ++s)
        xb[s] = supplies_x ? __ldcg(frags + ((size_t(lane >> 3) * groups + group) * kSteps + s) * 8 + (lane & 7)) : make_uint2(0, 0);
      const float4 in = __ldcg(info + size_t(group) * kMaxXRows + x_row);
#pragma unroll
      for (int k = 0; k < kTiles; ++k)
        add_group_product<Bits, GS>(words[b][k], xb, in, scale[b][k], bias[b][k], acc[k]);
    }
  }
  if (t < x_rows) {
#pragma unroll
    for (int k = 0; k < kTiles; ++k) {
      partial[warp][t][k * kTileRows + g] = acc[k][0];
      partial[warp][t][k * kTileRows + g + 8] = acc[k][1];
    }
  }
  __syncthreads();
  if (threadIdx.x < kTiles * kTileRows * x_rows) {
    const int r = threadIdx.x % (kTiles * kTileRows), xr = threadIdx.x / (kTiles * kTileRows);
    float sum = 0;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) sum += partial[w][xr][r];  // a fixed order: the same result every run
    const int64_t row = local * kTileRows + r;
    if (row < rows) {
      float& target = y[xr * rows + row];
      target = accumulate ? target + sum : sum;
    }
  }
}

// ---- the streamed matvec: one block per SM, its weights brought by the SM's copy engine ----
//
// A block takes a contiguous share of the job's tiles and walks it in stages (two tiles' weights,
// scales and biases for a run of groups, and those groups of the prepared x) that a producer warp
// brings into a ring of shared-memory slots with bulk copies, while 16 warps compute on the
// stages that have landed and touch no global memory but their results. A block keeps its whole
// ring in flight instead of the few loads a thread can hold in registers, and since weights
// depend on no kernel, the producer asks for the first stages' weights (kAheadWeightBytes) before
// the kernel before has finished (launch.cuh). Measured on an H100 (isolated, ncu): layers of
// 0.5-1 GB stream with the DRAM 82% busy, against 44-67% for tiled_matvec_kernel; in a decode
// step at 20-300 MB a product (the 8B's gate/up, down and head) it is ~5% faster, and below that
// slower (the producer's start-up is not hidden by so few stages), so smaller products keep the
// tiled kernel.

// The end of a gated block, its tiles [begin, end) of h written (and fenced): its consumer warps
// prepare the groups of GS rows it holds whole, and count its tiles of the groups it shares with
// a neighbour in; the block that completes such a group prepares it (from L2: the neighbour wrote
// part of it). Kept out of the bands' loop: a count and a fence per band held every warp up.
template <int Bits, int GS>
__device__ __forceinline__ void finish_gated_groups(const GatedOutput& out, int64_t begin, int64_t end, int x_rows,
                                                    float (*values)[GS]) {
  constexpr int kTilesPerGroup = GS / kTileRows;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t first = begin / kTilesPerGroup, last = (end - 1) / kTilesPerGroup;
  for (int64_t group = first + warp; group <= last; group += kWarps) {
    const int64_t held = min(end, (group + 1) * kTilesPerGroup) - max(begin, group * kTilesPerGroup);
    unsigned complete = held == kTilesPerGroup;
    if (!complete && lane == 0) {
      complete = atomicAdd(out.arrivals + group, unsigned(held)) + unsigned(held) == unsigned(kTilesPerGroup);
      if (complete) out.arrivals[group] = 0, __threadfence();  // zero for the next product
    }
    if (!__shfl_sync(0xffffffffu, complete, 0)) continue;
    for (int r = 0; r < x_rows; ++r) {
      for (int i = lane; i < GS; i += 32) values[warp][i] = __ldcg(out.h + r * out.rows + group * GS + i);
      __syncwarp();
      prepare_group<Bits, GS>(values[warp], r, group, out.rows / GS, out.to.frags, out.to.info);
      __syncwarp();
    }
  }
}

// Gated (an MLP's gate/up): job.m[0] is the gate, job.m[1] the up projection of the same shape,
// and each band is one gate tile with the same up tile, so that the band's end has both halves of
// 16 rows of silu(gate) * up (computed as swiglu_prepare_kernel does, so the same values), which
// go to `gated` instead of the ys; the SwiGLU kernel between the products is gone.
template <int Bits, int GS, class ScaleT, bool Gated = false>
__global__ void __launch_bounds__((kWarps + 1) * 32, 1)
    streamed_matvec_kernel(TiledJob job, const uint2* frags, const float4* info, int x_rows, bool accumulate,
                           int slots, int ahead, GatedOutput gated) {
  using S = Stage<Bits, GS, ScaleT>;
  constexpr int kSteps = GS / 16;
  extern __shared__ __align__(128) std::byte ring[];
  __shared__ uint64_t landed[kMaxSlots], freed[kMaxSlots];
  __shared__ float partial[kWarps][kMaxXRows][kBand * kTileRows];
  __shared__ float group_values[Gated ? kWarps : 1][GS];

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t tiles = job.first_tile[Gated ? 1 : job.count];
  const int64_t begin = tiles * blockIdx.x / gridDim.x, end = tiles * (blockIdx.x + 1) / gridDim.x;
  const int groups = int(job.m[0].cols / GS);
  const JobLayer up = Gated ? job_layer(job, 1) : JobLayer{};
  constexpr int kMaxBand = Gated ? 1 : kBand;
  const int slot_bytes = S::bytes(x_rows);
  if (threadIdx.x == 0) {
    // a slot has landed once its weights and its activations have: two announced arrivals
    for (int i = 0; i < slots; ++i) barrier_init(&landed[i], 2), barrier_init(&freed[i], kWarps);
    barrier_init_fence();
  }
  __syncthreads();

  if (warp == kProducerWarp) {
    let_dependents_start();
    // The lanes issue a stage's copies side by side: lanes 0-5 a tile's weights, scales, biases
    // (tile lane / 3), lanes 8-11 the x rows, lane 12 their info.
    auto issue = [&](const StageCursor& c, int slot, bool weights, bool activations) {
      std::byte* to = ring + size_t(slot) * slot_bytes;
      uint64_t* done = &landed[slot];
      const int count = c.count();
      if (weights && lane == 0) barrier_expect_bytes(done, stage_weight_bytes<Bits, GS, ScaleT, Gated>(c));
      if (activations && lane == 8)
        barrier_expect_bytes(done, uint32_t(x_rows * count * S::kGroupXBytes + count * kMaxXRows * sizeof(float4)));
      __syncwarp();
      if (weights) copy_stage_weights<Bits, GS, ScaleT, Gated>(c, up, to, done, lane);
      if (activations && lane >= 8 && lane < 8 + x_rows) {
        const int r = lane - 8;
        bulk_copy(to + S::kXAt + r * S::kGroups * S::kGroupXBytes, frags + (size_t(r) * groups + c.g0) * kSteps * 8,
                  uint32_t(count * S::kGroupXBytes), done);
      }
      if (activations && lane == 12)
        bulk_copy(to + S::kXAt + x_rows * S::kGroups * S::kGroupXBytes, info + size_t(c.g0) * kMaxXRows,
                  uint32_t(count * kMaxXRows * sizeof(float4)), done);
    };
    // the weights of the first `ahead` stages before the kernel before has finished ...
    StageCursor first(job, begin, end, groups, S::kGroups, kMaxBand);
    for (int stage = 0; stage < ahead && first.valid(); ++stage, first.next(job)) issue(first, stage, true, false);
    // ... then every stage's activations, and the rest of the weights as slots come free
    wait_for_inputs();
    StageCursor c(job, begin, end, groups, S::kGroups, kMaxBand);
    for (int slot = 0, round = 0, stage = 0; c.valid(); c.next(job), ++stage) {
      if (round > 0) {  // the slot's previous stage consumed: the phase of round - 1
        barrier_wait(&freed[slot], (round - 1) & 1);
        issue(c, slot, true, true);
      } else {
        issue(c, slot, stage >= ahead, true);
      }
      if (++slot == slots) slot = 0, ++round;
    }
    return;
  }

  wait_for_inputs();  // for y, when accumulating
  const int g = lane >> 2, t = lane & 3;
  const bool supplies_x = lane < 8 * x_rows;
  const int x_row = t < x_rows ? t : 0;  // lane t's C columns 2t, 2t+1 are x row t's
  float acc[kBand][2] = {};
  StageCursor c(job, begin, end, groups, S::kGroups, kMaxBand);
  for (int slot = 0, parity = 0; c.valid(); c.next(job)) {
    const std::byte* at = ring + size_t(slot) * slot_bytes;
    barrier_wait(&landed[slot], parity);
    consume_stage<Bits, GS, ScaleT>(
        at, c, stage_tiles<Gated>(c), supplies_x,
        reinterpret_cast<const uint2*>(at + S::kXAt) + size_t(lane >> 3) * S::kGroups * kSteps * 8 + (lane & 7),
        reinterpret_cast<const float4*>(at + S::kXAt + x_rows * S::kGroups * S::kGroupXBytes) + x_row, kMaxXRows, acc);
    __syncwarp();
    if (lane == 0) barrier_arrive(&freed[slot]);
    if (++slot == slots) slot = 0, parity ^= 1;
    if (!c.ends_band()) continue;
    // the band's rows: the warps' sums, in a fixed order (the same result every run)
    if (t < x_rows) {
#pragma unroll
      for (int k = 0; k < kBand; ++k) {
        partial[warp][t][k * kTileRows + g] = acc[k][0];
        partial[warp][t][k * kTileRows + g + 8] = acc[k][1];
        acc[k][0] = acc[k][1] = 0;
      }
    }
    sync_threads(1, kWarps * 32);
    if constexpr (Gated) {
      if (threadIdx.x < kTileRows * x_rows) {
        const int r = threadIdx.x % kTileRows, xr = threadIdx.x / kTileRows;
        float gate = 0, up_value = 0;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) gate += partial[w][xr][r], up_value += partial[w][xr][kTileRows + r];
        gated.h[xr * gated.rows + c.local * kTileRows + r] = gate / (1.0f + expf(-gate)) * up_value;
      }
      sync_threads(1, kWarps * 32);
      continue;
    }
    if (threadIdx.x < c.band * kTileRows * x_rows) {
      const int r = threadIdx.x % (c.band * kTileRows), xr = threadIdx.x / (c.band * kTileRows);
      float sum = 0;
#pragma unroll
      for (int w = 0; w < kWarps; ++w) sum += partial[w][xr][r];
      const int64_t row = c.local * kTileRows + r;
      if (row < c.layer.rows) {
        float& target = c.layer.y[xr * c.layer.rows + row];
        target = accumulate ? target + sum : sum;
      }
    }
    sync_threads(1, kWarps * 32);
  }
  if constexpr (Gated) {
    __threadfence();  // this block's h, before its counts tell other blocks of it
    sync_threads(1, kWarps * 32);
    finish_gated_groups<Bits, GS>(gated, begin, end, x_rows, group_values);
  }
}

// One thread per 4 values of an output row (consecutive threads, consecutive values: the stores
// of a warp are one contiguous run), each computed as weights::dequantize_row does, stored as Out.
template <int Bits, int GS, class ScaleT, class Out>
__global__ void dequantize_tiled_kernel(PackedMatrix m, const int32_t* ids, int64_t count,
                                        Out* out) {
  wait_for_inputs();
  constexpr int kPieces = GS / 16;  // 4-value pieces in a lane's quarter
  const int64_t groups = m.cols / GS;
  const int64_t index = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= count * groups * 4 * kPieces) return;
  const int piece = int(index % kPieces);
  const int t = int((index / kPieces) & 3);
  const int64_t g = (index / kPieces / 4) % groups, i = index / kPieces / 4 / groups;
  const int64_t row = ids ? ids[i] : i;
  const ChunkAddress at = chunk_address(m, row, g, t);
  const uint32_t bits = Bits == 4 ? uint32_t(reinterpret_cast<const uint16_t*>(at.weight)[piece])
                                  : reinterpret_cast<const uint32_t*>(at.weight)[piece];
  const float scale = to_float(*reinterpret_cast<const ScaleT*>(at.scale));
  const float bias = to_float(*reinterpret_cast<const ScaleT*>(at.bias));
  float v[4];
#pragma unroll
  for (int k = 0; k < 4; ++k) v[k] = float((bits >> (k * Bits)) & ((1u << Bits) - 1)) * scale + bias;
  Out* o = out + i * m.cols + g * GS + t * (GS / 4) + 4 * piece;
  if constexpr (sizeof(Out) == 4) {
    *reinterpret_cast<float4*>(o) = make_float4(v[0], v[1], v[2], v[3]);
  } else {
    *reinterpret_cast<uint2*>(o) = make_uint2(pack_half2(v[0], v[1]), pack_half2(v[2], v[3]));
  }
}


size_t streamed_min_bytes = kStreamedMinBytes;

// One streamed product of job over n activation rows prepared in `prepared`.
template <int Bits, int GS, class ScaleT, bool Gated>
void launch_streamed(const TiledJob& job, Prepared prepared, int n, bool accumulate, const GatedOutput& gated,
                     cudaStream_t stream) {
  using S = Stage<Bits, GS, ScaleT>;
  static const bool sized = [] {
    cudaFuncSetAttribute(streamed_matvec_kernel<Bits, GS, ScaleT, Gated>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                         kRingBytes);
    return true;
  }();
  (void)sized;
  const int slots = std::min(kMaxSlots, kRingBytes / S::bytes(n));
  const int ahead = std::clamp(kAheadWeightBytes / S::kLayerBytes, 1, slots);
  const unsigned tiles = unsigned(job.first_tile[Gated ? 1 : job.count]);
  launch(streamed_matvec_kernel<Bits, GS, ScaleT, Gated>, std::min<unsigned>(tiles, unsigned(multiprocessors())),
         (kWarps + 1) * 32, size_t(slots) * S::bytes(n), stream, job, prepared.frags, prepared.info, n, accumulate,
         slots, ahead, gated);
}

// x [n, cols] prepared for a tiled product: prepare_kernel, a warp per (group, row).
template <int Bits, int GS>
void launch_prepare(const float* x, int64_t cols, int n, Prepared to, cudaStream_t stream) {
  launch(prepare_kernel<Bits, GS>, unsigned((cols / GS * n + 7) / 8), 256, 0, stream, x, cols, n, to);
}

size_t weight_bytes_of(std::span<const PackedMatrix* const> layers) {
  size_t bytes = 0;
  for (const PackedMatrix* m : layers) bytes += size_t(m->rows / kTileRows) * m->weight_stride;
  return bytes;
}

}  // namespace

void set_streamed_min_bytes(size_t bytes) { streamed_min_bytes = bytes; }

bool can_tile(const PackedMatrix& w) {
  return w.format == WeightFormat::affine && (w.bits == 4 || w.bits == 8) &&
         (w.group_size == 32 || w.group_size == 64 || w.group_size == 128) && w.rows % kTileRows == 0 &&
         (w.scale_format == ScaleFormat::bf16 || w.scale_format == ScaleFormat::f16 ||
          w.scale_format == ScaleFormat::f32);
}

PackedMatrix tiled_layout(const PackedMatrix& w, const std::byte* weight, const std::byte* scales,
                          const std::byte* biases) {
  PackedMatrix t = w;
  t.layout = PackedLayout::tiles16;
  t.weight = weight;
  t.weight_stride = size_t(w.cols / w.group_size) * block_bytes(w.bits, w.group_size);
  t.weight_end = weight + t.weight_stride * size_t(w.rows / kTileRows);
  t.scales = scales;
  t.biases = biases;
  t.scale_stride = size_t(w.cols / w.group_size) * kTileRows * scale_bytes(w.scale_format);
  return t;
}

PackedMatrix rows_layout(const PackedMatrix& w, const std::byte* weight, const std::byte* scales, const std::byte* biases) {
  PackedMatrix r = w;
  r.layout = PackedLayout::rows;
  r.weight = weight;
  r.weight_stride = size_t(w.cols) * w.bits / 8;
  r.weight_end = weight + r.weight_stride * size_t(w.rows);
  r.scales = scales;
  r.biases = biases;
  r.scale_stride = size_t(w.cols / w.group_size) * scale_bytes(w.scale_format);
  return r;
}

void relayout(const PackedMatrix& from, const PackedMatrix& to, cudaStream_t stream) {
  const int64_t threads = from.rows * (from.cols / from.group_size) * 4;
  if (threads > 0) launch(relayout_kernel, unsigned((threads + 255) / 256), 256, 0, stream, from, to);
}

bool can_share_tiled(std::span<const PackedMatrix* const> layers) {
  if (layers.empty() || layers.size() > size_t(kMaxJobLayers)) return false;
  const PackedMatrix& a = *layers[0];
  for (const PackedMatrix* b : layers)
    if (b->layout != PackedLayout::tiles16 || b->cols != a.cols || b->bits != a.bits ||
        b->group_size != a.group_size || b->scale_format != a.scale_format)
      return false;
  return true;
}

size_t tiled_scratch_bytes(int64_t cols, int group_size) {
  return size_t(cols / 16) * 32 * sizeof(uint2) + size_t(cols / group_size) * kMaxXRows * sizeof(float4);
}

void tiled_matvec(std::span<const PackedMatrix* const> layers, const float* x, int64_t x_rows,
                  std::span<float* const> ys, void* scratch, cudaStream_t stream, TiledOptions options) {
  const PackedMatrix& shape = *layers[0];
  const Prepared prepared = prepared_in(scratch, shape.cols);
  TiledJob job;
  job.count = int(layers.size());
  job.first_tile[0] = 0;
  for (int i = 0; i < job.count; ++i) {
    job.m[i] = *layers[i];
    job.first_tile[i + 1] = job.first_tile[i] + layers[i]->rows / kTileRows;
  }
  const bool streamed = weight_bytes_of(layers) >= streamed_min_bytes;
  for (int64_t first = 0; first < x_rows; first += kMaxXRows) {
    const int n = int(std::min<int64_t>(kMaxXRows, x_rows - first));
    for (int i = 0; i < job.count; ++i) job.y[i] = ys[i] + first * layers[i]->rows;
    dispatch_tiled(shape, [&]<int Bits, int GS, class ScaleT>() {
      if (!options.x_prepared || x_rows > kMaxXRows)
        launch_prepare<Bits, GS>(x + first * shape.cols, shape.cols, n, prepared, stream);
      const unsigned blocks = unsigned(job.first_tile[job.count]);
      if (streamed) return launch_streamed<Bits, GS, ScaleT, false>(job, prepared, n, options.accumulate, {}, stream);
      // Narrow layers: two tiles a block when every layer of the job has an even count of them.
      bool even = true;
      for (int i = 0; i < job.count; ++i) even = even && (job.first_tile[i + 1] - job.first_tile[i]) % 2 == 0;
      if (shape.cols > 4096)
        launch(tiled_matvec_kernel<Bits, GS, ScaleT, true, 1>, blocks, kWarps * 32, 0, stream, job, prepared.frags,
               prepared.info, n, options.accumulate);
      else if (even)
        launch(tiled_matvec_kernel<Bits, GS, ScaleT, false, 2>, blocks / 2, kWarps * 32, 0, stream, job,
               prepared.frags, prepared.info, n, options.accumulate);
      else
        launch(tiled_matvec_kernel<Bits, GS, ScaleT, false, 1>, blocks, kWarps * 32, 0, stream, job, prepared.frags,
               prepared.info, n, options.accumulate);
    });
  }
}

bool gated_matvec(const PackedMatrix& gate, const PackedMatrix& up, const float* x, int64_t x_rows, void* x_scratch,
                  bool x_prepared, float* h, void* h_scratch, unsigned* arrivals, cudaStream_t stream) {
  const PackedMatrix* layers[] = {&gate, &up};
  if (!can_share_tiled(layers) || up.rows != gate.rows || gate.rows % gate.group_size != 0 || x_rows > kMaxXRows ||
      weight_bytes_of(layers) < streamed_min_bytes)
    return false;
  TiledJob job;
  job.count = 1;  // the up projection rides in m[1], paired tile by tile with the gate
  job.m[0] = gate;
  job.m[1] = up;
  job.first_tile[0] = 0;
  job.first_tile[1] = gate.rows / kTileRows;
  const Prepared prepared = prepared_in(x_scratch, gate.cols);
  const GatedOutput out{h, prepared_in(h_scratch, gate.rows), arrivals, gate.rows};
  const int n = int(x_rows);
  dispatch_tiled(gate, [&]<int Bits, int GS, class ScaleT>() {
    if (!x_prepared) launch_prepare<Bits, GS>(x, gate.cols, n, prepared, stream);
    launch_streamed<Bits, GS, ScaleT, true>(job, prepared, n, false, out, stream);
  });
  return true;
}

size_t gated_arrival_bytes(int64_t rows, int group_size) { return size_t(rows / group_size) * sizeof(unsigned); }

bool can_prepare(int64_t rows, int64_t cols, int group_size) {
  return rows <= kMaxXRows && group_size > 0 && cols % group_size == 0;
}

void rms_norm_prepared(const float* x, int64_t rows, int64_t cols, const float* weight, float eps, float* out, int bits,
                       int group_size, void* scratch, cudaStream_t stream) {
  const dim3 grid(unsigned((cols / group_size + kPrepareWarps - 1) / kPrepareWarps), unsigned(rows));
  dispatch_prepared(bits, group_size, [&]<int Bits, int GS>() {
    launch(rms_norm_prepare_kernel<Bits, GS>, grid, kPrepareWarps * 32, 0, stream, x, cols, weight, eps, out,
           prepared_in(scratch, cols));
  });
}

void swiglu_prepared(const float* gate, const float* up, int64_t rows, int64_t cols, float* out, int bits, int group_size,
                     void* scratch, cudaStream_t stream) {
  const int64_t warps = rows * (cols / group_size);
  dispatch_prepared(bits, group_size, [&]<int Bits, int GS>() {
    launch(swiglu_prepare_kernel<Bits, GS>, unsigned((warps + kPrepareWarps - 1) / kPrepareWarps), kPrepareWarps * 32, 0,
           stream, gate, up, rows, cols, out,
           prepared_in(scratch, cols));
  });
}

void dequantize_tiled(const PackedMatrix& w, const int32_t* ids, int64_t count, Dequantized type, void* out,
                      cudaStream_t stream) {
  const int64_t threads = count * (w.cols / 4);
  if (threads == 0) return;
  dispatch_tiled(w, [&]<int Bits, int GS, class ScaleT>() {
    const unsigned blocks = unsigned((threads + 255) / 256);
    if (type == Dequantized::f16)
      launch(dequantize_tiled_kernel<Bits, GS, ScaleT, __half>, blocks, 256, 0, stream, w, ids, count, static_cast<__half*>(out));
    else
      launch(dequantize_tiled_kernel<Bits, GS, ScaleT, float>, blocks, 256, 0, stream, w, ids, count, static_cast<float*>(out));
  });
}

}  // namespace salut::backend::cuda
