// Quantized matrix-vector products (decode) and dequantization (prefill's cuBLAS path, embedding
// gathers) for every MLX format, by hand: no library reads these layouts.
//
// The matvec is bound by reading the weights: a warp owns kRowsPerWarp rows, its lanes walk the
// rows' 32-value units in step (consecutive lanes, consecutive units: every load instruction of
// a warp reads one contiguous run), and the activation row is staged once per block in shared
// memory, padded so that the lanes' 32-float strides fall in different banks.

#include <algorithm>
#include <span>
#include <type_traits>
#include <stdexcept>

#include "backend/cuda/kernels.h"
#include "backend/cuda/warp.cuh"
#include "backend/cuda/packed_decode.cuh"

namespace salut::backend::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kRowsPerWarp = 2;

// Shared-memory index of input i: 4 floats of padding after every 32.
__device__ __forceinline__ int padded(int i) { return i + ((i >> 5) << 2); }

template <int Bits, WeightFormat Format>
__global__ void __launch_bounds__(kThreads) matvec_kernel(PackedMatrix w, const float* __restrict__ x,
                                                          float* __restrict__ y) {
  extern __shared__ float xs[];
  const int cols = int(w.cols);
  for (int i = threadIdx.x; i < cols; i += blockDim.x) xs[padded(i)] = x[i];
  __syncthreads();

  const int lane = threadIdx.x & 31;
  const int warps = int(blockDim.x >> 5) * gridDim.x;
  const int units = cols >> 5;
  constexpr bool kBias = Format == WeightFormat::affine;
  constexpr bool kGroup16 = Format == WeightFormat::nvfp4;
  for (int64_t r0 = (int64_t(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5)) * kRowsPerWarp; r0 < w.rows;
       r0 += int64_t(warps) * kRowsPerWarp) {
    float acc[kRowsPerWarp] = {};
    for (int u = lane; u < units; u += 32) {
      float xv[32];
      const float4* xp = reinterpret_cast<const float4*>(xs + padded(u << 5));
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const float4 t = xp[i];
        xv[4 * i] = t.x, xv[4 * i + 1] = t.y, xv[4 * i + 2] = t.z, xv[4 * i + 3] = t.w;
      }
      float xsum = 0;
      if constexpr (kBias) {
#pragma unroll
        for (int k = 0; k < 32; ++k) xsum += xv[k];
      }
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) {
        const int64_t row = r0 + r;
        if (row >= w.rows) break;
        uint32_t words[Bits];
        load_unit<Bits>(w.weight_row(row), u, words);
        float dot0 = 0, dot1 = 0;
#pragma unroll
        for (int k = 0; k < 32; ++k) {
          const float v = unit_value<Bits, Format>(words, k) * xv[k];
          if (kGroup16 && k >= 16) dot1 += v;
          else dot0 += v;
        }
        const std::byte* scales = w.scale_row(row);
        if constexpr (kGroup16) {
          acc[r] += scale_at(w, scales, 2 * u) * dot0 + scale_at(w, scales, 2 * u + 1) * dot1;
        } else {
          const int64_t g = (int64_t(u) << 5) / w.group_size;
          acc[r] += scale_at(w, scales, g) * dot0;
          if constexpr (kBias) acc[r] += bias_at(w, w.bias_row(row), g) * xsum;
        }
      }
    }
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      float v = acc[r];
      v = warp_sum(v);
      if (lane == 0 && r0 + r < w.rows) y[r0 + r] = v;
    }
  }
}

// ---- The fast path: affine 4- and 8-bit with 16- or 32-bit scales (nearly every MLX model) ----
//
// Turning a packed integer into a float costs an I2F, a quarter-rate instruction: at 4 bits that
// alone would cap the kernel near half the memory bandwidth. Instead a value is masked in place
// into the mantissa of 2^23 (one LOP3: 0x4B000000 | (word & mask) is exactly 2^23 + q·2^s) and
// 2^23 subtracted (one FADD), which leaves q·2^s exactly; the activations staged in shared memory
// are pre-multiplied by 2^-s for their place in the word, so q·2^s·x·2^-s = q·x exactly (powers
// of two). Bits 23 and up of the word are shifted down first (they would land on the exponent).

template <int Bits>
__device__ __forceinline__ float place_scale(int i) {
  // the 2^-s of value i's place in its word, as fast_unit_dots extracts it
  if constexpr (Bits == 4) {
    constexpr float kScale[8] = {1.0f, 0x1p-4f, 0x1p-8f, 0x1p-12f, 0x1p-16f, 0x1p-8f, 0x1p-12f, 0x1p-16f};
    return kScale[i & 7];
  } else {
    constexpr float kScale[4] = {1.0f, 0x1p-8f, 1.0f, 0x1p-8f};
    return kScale[i & 3];
  }
}

__device__ __forceinline__ float masked_value(uint32_t word, uint32_t mask) {
  return __int_as_float(int(0x4B000000u | (word & mask))) - 8388608.0f;
}

// Σ q_k · x_k over one unit for R rows at once, x read from shared memory a word's worth at a
// time (pre-scaled by place_scale): few registers live, each x load serving every row.
template <int Bits, int R>
__device__ __forceinline__ void fast_unit_dots(const uint32_t (&words)[R][Bits], const float* xs_unit, float (&dots)[R]) {
  constexpr int kPerWord = 32 / Bits;
#pragma unroll
  for (int r = 0; r < R; ++r) dots[r] = 0;
#pragma unroll
  for (int wi = 0; wi < Bits; ++wi) {
    float x[kPerWord];
#pragma unroll
    for (int k = 0; k < kPerWord; k += 4) {
      const float4 t = *reinterpret_cast<const float4*>(xs_unit + wi * kPerWord + k);
      x[k] = t.x, x[k + 1] = t.y, x[k + 2] = t.z, x[k + 3] = t.w;
    }
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const uint32_t lo = words[r][wi];
      float d0, d1;
      if constexpr (Bits == 4) {
        const uint32_t hi = lo >> 12;
        d0 = masked_value(lo, 0xFu) * x[0];
        d1 = masked_value(lo, 0xF0u) * x[1];
        d0 = fmaf(masked_value(lo, 0xF00u), x[2], d0);
        d1 = fmaf(masked_value(lo, 0xF000u), x[3], d1);
        d0 = fmaf(masked_value(lo, 0xF0000u), x[4], d0);
        d1 = fmaf(masked_value(hi, 0xF00u), x[5], d1);
        d0 = fmaf(masked_value(hi, 0xF000u), x[6], d0);
        d1 = fmaf(masked_value(hi, 0xF0000u), x[7], d1);
      } else {
        const uint32_t hi = lo >> 16;
        d0 = masked_value(lo, 0xFFu) * x[0];
        d1 = masked_value(lo, 0xFF00u) * x[1];
        d0 = fmaf(masked_value(hi, 0xFFu), x[2], d0);
        d1 = fmaf(masked_value(hi, 0xFF00u), x[3], d1);
      }
      dots[r] += d0 + d1;
    }
  }
}

template <class ScaleT>
__device__ __forceinline__ float to_float(ScaleT v) {
  if constexpr (sizeof(ScaleT) == 4) return v;
  else if constexpr (std::is_same_v<ScaleT, __half>) return __half2float(v);
  else return __bfloat162float(v);
}

// A warp owns kRowsPerWarp rows; each lane takes units lane, lane + 32, ... of them, kUnroll
// units at a time with every weight, scale and bias load issued before any arithmetic (enough
// bytes in flight to cover DRAM latency). The first batch is requested before x is staged.
// Wide layers are split along the inputs (blockIdx.y: a slice of kSliceUnits units each, so that
// the staged slice stays small and more blocks fit an SM); each slice writes its partial sums,
// which reduce_slices adds up in a fixed order (the same result at every run).
constexpr int kUnroll = 4;
constexpr int kSliceUnits = 128;  // 4096 inputs

// Up to kMaxJobMatrices layers of the same input in one launch (q/k/v, gate/up): a small layer
// alone cannot keep the GPU's memory busy. They share cols, format and scale type; warps are
// dealt out over the layers' row pairs in order.
constexpr int kMaxJobMatrices = 3;

struct MatvecJob {
  PackedMatrix m[kMaxJobMatrices];
  float* y[kMaxJobMatrices];
  int64_t first_pair[kMaxJobMatrices + 1];  // prefix sums of each layer's row pairs
  int count = 0;
};

// The fields of the layer holding row pair `pair`, in registers (kernel parameters indexed at run
// time would be copied to local memory).
struct MatvecTarget {
  const std::byte* weight;
  const std::byte* scales;
  const std::byte* biases;
  size_t weight_stride, scale_stride;
  int64_t rows, first_pair;
  float* y;
};

__device__ __forceinline__ MatvecTarget target_of(const MatvecJob& job, int64_t pair) {
  MatvecTarget t{};
#pragma unroll
  for (int k = 0; k < kMaxJobMatrices; ++k)
    if (k < job.count && pair >= job.first_pair[k]) {
      t.weight = job.m[k].weight, t.scales = job.m[k].scales, t.biases = job.m[k].biases;
      t.weight_stride = job.m[k].weight_stride, t.scale_stride = job.m[k].scale_stride;
      t.rows = job.m[k].rows, t.first_pair = job.first_pair[k], t.y = job.y[k];
    }
  return t;
}

template <int Bits, class ScaleT>
__global__ void __launch_bounds__(kThreads) matvec_fast_kernel(MatvecJob job, const float* __restrict__ x) {
  extern __shared__ float xs[];  // [padded slice] pre-scaled x, then [slice units] plain sums
  const PackedMatrix& shape = job.m[0];
  const int all_units = int(shape.cols >> 5);
  const int unit_begin = int(blockIdx.y) * kSliceUnits;
  const int units = min(kSliceUnits, all_units - unit_begin);
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t(blockDim.x >> 5) * gridDim.x;
  const int group_shift = __ffs(shape.group_size) - 1;
  const int64_t pairs = job.first_pair[job.count];
  int64_t pair = int64_t(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5);
  MatvecTarget t = target_of(job, pair);
  int64_t r0 = (pair - t.first_pair) * kRowsPerWarp;

  uint32_t words[kUnroll][kRowsPerWarp][Bits];
  ScaleT scales[kUnroll][kRowsPerWarp], biases[kUnroll][kRowsPerWarp];
  auto load_batch = [&](int u0) {  // u0: a unit of the slice
#pragma unroll
    for (int i = 0; i < kUnroll; ++i) {
      const int u = u0 + 32 * i;
      const int g = ((unit_begin + u) << 5) >> group_shift;
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r)
        if (u < units && r0 + r < t.rows) {
          load_unit<Bits>(t.weight + size_t(r0 + r) * t.weight_stride, unit_begin + u, words[i][r]);
          scales[i][r] = __ldg(reinterpret_cast<const ScaleT*>(t.scales + size_t(r0 + r) * t.scale_stride) + g);
          biases[i][r] = __ldg(reinterpret_cast<const ScaleT*>(t.biases + size_t(r0 + r) * t.scale_stride) + g);
        }
    }
  };
  if (pair < pairs) load_batch(lane);  // in flight while x is staged

  const int cols = units << 5;
  float* unit_sums = xs + padded(cols);
  const float4* x4 = reinterpret_cast<const float4*>(x + (unit_begin << 5));
  const int quads = cols >> 2;
  for (int i0 = 0; i0 < quads; i0 += blockDim.x) {  // the same trip count for every thread: shuffles below
    const int i = i0 + threadIdx.x;
    const bool inside = i < quads;
    const float4 v = inside ? x4[i] : make_float4(0, 0, 0, 0);
    if (inside) {
      const int j = i << 2;
      float4 scaled;
      scaled.x = v.x * place_scale<Bits>(j), scaled.y = v.y * place_scale<Bits>(j + 1);
      scaled.z = v.z * place_scale<Bits>(j + 2), scaled.w = v.w * place_scale<Bits>(j + 3);
      *reinterpret_cast<float4*>(xs + padded(j)) = scaled;  // 4 values never straddle a pad
    }
    float sum = (v.x + v.y) + (v.z + v.w);  // a unit's 8 float4s sit in 8 neighbouring lanes
#pragma unroll
    for (int offset = 1; offset < 8; offset <<= 1) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
    if (inside && (i & 7) == 0) unit_sums[i >> 3] = sum;
  }
  __syncthreads();

  while (pair < pairs) {
    float acc[kRowsPerWarp] = {};
    for (int u0 = lane; u0 < units; u0 += 32 * kUnroll) {
#pragma unroll
      for (int i = 0; i < kUnroll; ++i) {
        const int u = u0 + 32 * i;
        if (u >= units) break;
        float dots[kRowsPerWarp];
        fast_unit_dots<Bits, kRowsPerWarp>(words[i], xs + padded(u << 5), dots);
        const float xsum = unit_sums[u];
#pragma unroll
        for (int r = 0; r < kRowsPerWarp; ++r)
          acc[r] = fmaf(to_float(scales[i][r]), dots[r], fmaf(to_float(biases[i][r]), xsum, acc[r]));
      }
      if (u0 + 32 * kUnroll < units) load_batch(u0 + 32 * kUnroll);
    }
    float* y = t.y + int64_t(blockIdx.y) * t.rows;
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      float v = acc[r];
      v = warp_sum(v);
      if (lane == 0 && r0 + r < t.rows) y[r0 + r] = v;
    }
    pair += warps;
    if (pair < pairs) {
      t = target_of(job, pair);
      r0 = (pair - t.first_pair) * kRowsPerWarp;
      load_batch(lane);
    }
  }
}

__global__ void reduce_slices_kernel(const float* __restrict__ partial, int64_t rows, int slices, float* y) {
  const int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  float sum = 0;
  for (int s = 0; s < slices; ++s) sum += partial[s * rows + r];
  y[r] = sum;
}

int multiprocessors() {
  static const int count = [] {
    int device = 0, n = 0;
    cudaGetDevice(&device);
    cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device);
    return n;
  }();
  return count;
}

// One launch over `layers` (same x, cols and format); a layer wider than one slice goes alone.
template <int Bits, class ScaleT>
void launch_matvec_fast(std::span<const PackedMatrix* const> layers, const float* x, int64_t x_rows,
                        std::span<float* const> ys, float* scratch, cudaStream_t stream) {
  static const bool configured = [] {
    cudaFuncSetAttribute(matvec_fast_kernel<Bits, ScaleT>, cudaFuncAttributeMaxDynamicSharedMemorySize, 160 * 1024);
    return true;
  }();
  (void)configured;
  const PackedMatrix& shape = *layers[0];
  const int units = int(shape.cols >> 5);
  const int slices = (units + kSliceUnits - 1) / kSliceUnits;
  const int slice_cols = std::min(units, kSliceUnits) * 32;
  const size_t smem = size_t(slice_cols + (slice_cols >> 5) * 4 + (slice_cols >> 5)) * sizeof(float);
  MatvecJob job;
  job.count = int(layers.size());
  job.first_pair[0] = 0;
  for (int i = 0; i < job.count; ++i) {
    job.m[i] = *layers[i];
    job.first_pair[i + 1] = job.first_pair[i] + (layers[i]->rows + kRowsPerWarp - 1) / kRowsPerWarp;
  }
  const int64_t pairs = job.first_pair[job.count];
  // a warp per row pair; blocks of 4 warps when that leaves SMs idle
  const int threads = pairs * slices >= int64_t(multiprocessors()) * 16 ? kThreads : 128;
  const int64_t pairs_per_block = threads / 32;
  const int blocks =
      int(std::min<int64_t>((pairs + pairs_per_block - 1) / pairs_per_block, int64_t(multiprocessors()) * 16));
  for (int64_t r = 0; r < x_rows; ++r) {
    for (int i = 0; i < job.count; ++i) job.y[i] = slices > 1 ? scratch : ys[i] + r * layers[i]->rows;
    matvec_fast_kernel<Bits, ScaleT><<<dim3(blocks, slices), threads, smem, stream>>>(job, x + r * shape.cols);
    if (slices > 1)
      reduce_slices_kernel<<<unsigned((shape.rows + 255) / 256), 256, 0, stream>>>(scratch, shape.rows, slices,
                                                                                 ys[0] + r * shape.rows);
  }
}

// Calls fn.template operator()<Bits, ScaleT>() for a layer of the fast path.
template <class Fn>
void dispatch_fast(const PackedMatrix& w, Fn&& fn) {
  auto go = [&]<class ScaleT>() {
    if (w.bits == 4) fn.template operator()<4, ScaleT>();
    else fn.template operator()<8, ScaleT>();
  };
  if (w.scale_format == ScaleFormat::bf16) go.template operator()<__nv_bfloat16>();
  else if (w.scale_format == ScaleFormat::f16) go.template operator()<__half>();
  else go.template operator()<float>();
}

bool fast_path(const PackedMatrix& w, const float* x, int64_t x_rows, float* y, float* scratch, cudaStream_t stream) {
  if (!has_fast_matvec(w)) return false;
  const PackedMatrix* layers[] = {&w};
  float* ys[] = {y};
  dispatch_fast(w, [&]<int Bits, class ScaleT>() {
    launch_matvec_fast<Bits, ScaleT>(layers, x, x_rows, ys, scratch, stream);
  });
  return true;
}

template <int Bits, WeightFormat Format>
void launch_matvec(const PackedMatrix& w, const float* x, int64_t x_rows, float* y, cudaStream_t stream) {
  static const bool configured = [] {
    // the activation row of the widest layers needs more than the default 48 KiB
    cudaFuncSetAttribute(matvec_kernel<Bits, Format>, cudaFuncAttributeMaxDynamicSharedMemorySize, 160 * 1024);
    return true;
  }();
  (void)configured;
  const size_t smem = size_t(w.cols + (w.cols >> 5) * 4) * sizeof(float);
  const int64_t rows_per_block = (kThreads / 32) * kRowsPerWarp;
  const int blocks =
      int(std::min<int64_t>((w.rows + rows_per_block - 1) / rows_per_block, int64_t(multiprocessors()) * 8));
  for (int64_t r = 0; r < x_rows; ++r)
    matvec_kernel<Bits, Format><<<blocks, kThreads, smem, stream>>>(w, x + r * w.cols, y + r * w.rows);
}

// One thread per unit: 32 values dequantized (f32 math, as weights::dequantize_row with
// Rounding::none).
template <int Bits, WeightFormat Format>
__global__ void dequantize_kernel(PackedMatrix w, const int32_t* __restrict__ ids, int64_t count, float* __restrict__ out) {
  const int64_t units = w.cols >> 5;
  const int64_t index = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= count * units) return;
  const int64_t out_row = index / units, u = index % units;
  const int64_t row = ids ? ids[out_row] : out_row;
  uint32_t words[Bits];
  load_unit<Bits>(w.weight_row(row), u, words);
  const std::byte* scales = w.scale_row(row);
  float* o = out + out_row * w.cols + (u << 5);
#pragma unroll
  for (int k = 0; k < 32; ++k) {
    const float q = unit_value<Bits, Format>(words, k);
    float value;
    if constexpr (Format == WeightFormat::nvfp4) {
      value = q * scale_at(w, scales, 2 * u + (k >> 4));
    } else {
      const int64_t g = ((u << 5) + k) / w.group_size;
      value = q * scale_at(w, scales, g);
      if constexpr (Format == WeightFormat::affine) value += bias_at(w, w.bias_row(row), g);
    }
    o[k] = value;
  }
}

// Affine 4/8-bit (prefill's common case): one thread per packed word, so that a warp writes one
// contiguous run of values (the per-unit kernel above writes 32 values per thread, strided).
template <int Bits, class ScaleT>
__global__ void dequantize_words_kernel(PackedMatrix w, float* __restrict__ out) {
  constexpr int kPerWord = 32 / Bits;
  const int64_t words_per_row = (w.cols * Bits) >> 5;
  const int64_t index = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= w.rows * words_per_row) return;
  const int64_t row = index / words_per_row, word = index % words_per_row;
  const uint32_t packed = __ldg(reinterpret_cast<const uint32_t*>(w.weight_row(row)) + word);
  const int64_t g = (word * kPerWord) / w.group_size;
  const float scale = to_float(__ldg(reinterpret_cast<const ScaleT*>(w.scale_row(row)) + g));
  const float bias = to_float(__ldg(reinterpret_cast<const ScaleT*>(w.bias_row(row)) + g));
  float v[kPerWord];
#pragma unroll
  for (int k = 0; k < kPerWord; ++k) v[k] = float((packed >> (k * Bits)) & ((1u << Bits) - 1)) * scale + bias;
  float4* o = reinterpret_cast<float4*>(out + row * w.cols + word * kPerWord);
#pragma unroll
  for (int k = 0; k < kPerWord / 4; ++k) o[k] = make_float4(v[4 * k], v[4 * k + 1], v[4 * k + 2], v[4 * k + 3]);
}

template <int Bits, WeightFormat Format>
void launch_dequantize(const PackedMatrix& w, const int32_t* ids, int64_t count, float* out, cudaStream_t stream) {
  const int64_t threads = count * (w.cols >> 5);
  dequantize_kernel<Bits, Format><<<unsigned((threads + 255) / 256), 256, 0, stream>>>(w, ids, count, out);
}

// Calls fn.template operator()<Bits, Format>() for the layer's format.
template <class Fn>
void dispatch(const PackedMatrix& w, Fn&& fn) {
  switch (w.format) {
    case WeightFormat::affine:
      switch (w.bits) {
        case 2: return fn.template operator()<2, WeightFormat::affine>();
        case 3: return fn.template operator()<3, WeightFormat::affine>();
        case 4: return fn.template operator()<4, WeightFormat::affine>();
        case 5: return fn.template operator()<5, WeightFormat::affine>();
        case 6: return fn.template operator()<6, WeightFormat::affine>();
        case 8: return fn.template operator()<8, WeightFormat::affine>();
        default: break;
      }
      break;
    case WeightFormat::mxfp4: return fn.template operator()<4, WeightFormat::mxfp4>();
    case WeightFormat::nvfp4: return fn.template operator()<4, WeightFormat::nvfp4>();
    case WeightFormat::mxfp8: return fn.template operator()<8, WeightFormat::mxfp8>();
    default: break;
  }
  throw std::logic_error("cuda: not a quantized layer");
}

}  // namespace

bool has_fast_matvec(const PackedMatrix& w) {
  return w.format == WeightFormat::affine && (w.bits == 4 || w.bits == 8) && w.group_size >= 32 &&
         (w.scale_format == ScaleFormat::bf16 || w.scale_format == ScaleFormat::f16 ||
          w.scale_format == ScaleFormat::f32);
}

bool can_share_matvec(std::span<const PackedMatrix* const> layers) {
  if (layers.empty() || layers.size() > size_t(kMaxJobMatrices)) return false;
  const PackedMatrix& a = *layers[0];
  if (!has_fast_matvec(a) || (a.cols >> 5) > kSliceUnits) return false;
  for (const PackedMatrix* b : layers)
    if (b->cols != a.cols || b->bits != a.bits || b->group_size != a.group_size ||
        b->scale_format != a.scale_format || b->format != a.format)
      return false;
  return true;
}

void shared_matvec(std::span<const PackedMatrix* const> layers, const float* x, std::span<float* const> ys,
                   cudaStream_t stream) {
  dispatch_fast(*layers[0], [&]<int Bits, class ScaleT>() {
    launch_matvec_fast<Bits, ScaleT>(layers, x, 1, ys, nullptr, stream);
  });
}

int64_t matvec_scratch_floats(const PackedMatrix& w) {
  const int64_t slices = ((w.cols >> 5) + kSliceUnits - 1) / kSliceUnits;
  return slices > 1 ? slices * w.rows : 0;
}

void quantized_matvec(const PackedMatrix& w, const float* x, int64_t x_rows, float* y, float* scratch,
                      cudaStream_t stream) {
  if (fast_path(w, x, x_rows, y, scratch, stream)) return;
  dispatch(w, [&]<int Bits, WeightFormat Format>() { launch_matvec<Bits, Format>(w, x, x_rows, y, stream); });
}

void dequantize(const PackedMatrix& w, float* out, cudaStream_t stream) {
  if (has_fast_matvec(w)) {
    const int64_t words = w.rows * ((w.cols * w.bits) >> 5);
    dispatch_fast(w, [&]<int Bits, class ScaleT>() {
      dequantize_words_kernel<Bits, ScaleT><<<unsigned((words + 255) / 256), 256, 0, stream>>>(w, out);
    });
    return;
  }
  dispatch(w, [&]<int Bits, WeightFormat Format>() { launch_dequantize<Bits, Format>(w, nullptr, w.rows, out, stream); });
}

void dequantize_rows(const PackedMatrix& w, const int32_t* ids, int64_t count, float* out, cudaStream_t stream) {
  dispatch(w, [&]<int Bits, WeightFormat Format>() {
    launch_dequantize<Bits, Format>(w, ids, count, out, stream);
  });
}

}  // namespace salut::backend::cuda
