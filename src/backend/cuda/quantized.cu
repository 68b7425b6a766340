// Quantized matrix-vector products (decode) and dequantization (prefill's cuBLAS path, embedding
// gathers) for every MLX format in MLX's row layout, by hand: no library reads these layouts.
// (Affine 4/8-bit layers, nearly every MLX model, take tiled_matvec.cu's tensor-core path.)
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
#include "backend/cuda/launch.cuh"
#include "backend/cuda/warp.cuh"
#include "backend/cuda/packed_decode.cuh"

namespace salut::backend::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kRowsPerWarp = 2;

// Shared-memory index of input i: 4 floats of padding after every 32.
__device__ __forceinline__ int padded(int i) { return i + ((i >> 5) << 2); }

template <int Bits, WeightFormat Format>
__global__ void __launch_bounds__(kThreads) matvec_kernel(PackedMatrix w, const float* x,
                                                          float* y) {
  wait_for_inputs();
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
    launch(matvec_kernel<Bits, Format>, blocks, kThreads, smem, stream, w, x + r * w.cols, y + r * w.rows);
}

// One thread per unit: 32 values dequantized (f32 math, as weights::dequantize_row with
// Rounding::none), stored as Out (f32, or f16 for prefill's tensor-core products).
template <int Bits, WeightFormat Format, class Out>
__global__ void dequantize_kernel(PackedMatrix w, const int32_t* ids, int64_t count, Out* out) {
  wait_for_inputs();
  const int64_t units = w.cols >> 5;
  const int64_t index = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= count * units) return;
  const int64_t out_row = index / units, u = index % units;
  const int64_t row = ids ? ids[out_row] : out_row;
  uint32_t words[Bits];
  load_unit<Bits>(w.weight_row(row), u, words);
  const std::byte* scales = w.scale_row(row);
  Out* o = out + out_row * w.cols + (u << 5);
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
    o[k] = Out(value);
  }
}

template <int Bits, WeightFormat Format, class Out>
void launch_dequantize(const PackedMatrix& w, const int32_t* ids, int64_t count, Out* out, cudaStream_t stream) {
  const int64_t threads = count * (w.cols >> 5);
  launch(dequantize_kernel<Bits, Format, Out>, unsigned((threads + 255) / 256), 256, 0, stream, w, ids, count, out);
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

void quantized_matvec(const PackedMatrix& w, const float* x, int64_t x_rows, float* y, cudaStream_t stream) {
  dispatch(w, [&]<int Bits, WeightFormat Format>() { launch_matvec<Bits, Format>(w, x, x_rows, y, stream); });
}

void dequantize(const PackedMatrix& w, Dequantized type, void* out, cudaStream_t stream) {
  if (w.layout == PackedLayout::tiles16) return dequantize_tiled(w, nullptr, w.rows, type, out, stream);
  dispatch(w, [&]<int Bits, WeightFormat Format>() {
    if (type == Dequantized::f16) launch_dequantize<Bits, Format>(w, nullptr, w.rows, static_cast<__half*>(out), stream);
    else launch_dequantize<Bits, Format>(w, nullptr, w.rows, static_cast<float*>(out), stream);
  });
}

void dequantize_rows(const PackedMatrix& w, const int32_t* ids, int64_t count, float* out, cudaStream_t stream) {
  if (w.layout == PackedLayout::tiles16) return dequantize_tiled(w, ids, count, Dequantized::f32, out, stream);
  dispatch(w, [&]<int Bits, WeightFormat Format>() {
    launch_dequantize<Bits, Format>(w, ids, count, out, stream);
  });
}

}  // namespace salut::backend::cuda
