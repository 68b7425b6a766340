#pragma once
// Reductions across the 32 lanes of a warp, or a block (every thread gets the result).

#include <cstdint>

namespace salut::backend::cuda {

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// The sum over a block (every thread gets it); every thread of the block must call it.
__device__ __forceinline__ float block_sum(float v) {
  __shared__ float partial[32];
  v = warp_sum(v);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  const int warps = (blockDim.x + 31) >> 5;
  v = lane < warps ? partial[lane] : 0.0f;
  v = warp_sum(v);
  __syncthreads();  // partial[] is reused by the next call
  return v;
}

// Σ row[i]² over the block (every thread gets it), for RMSNorm. A thread's loads are issued four
// float4s at a time before any is used: a row is a few KiB, so its latency, not its bytes, is
// what the norm waits on (a loop of one dependent load at a time took ~8 us for 4096 values).
__device__ __forceinline__ float block_sum_of_squares(const float* row, int64_t cols) {
  float sum = 0;
  if (cols % 4 == 0 && reinterpret_cast<uintptr_t>(row) % 16 == 0) {
    constexpr int kInFlight = 4;
    const float4* row4 = reinterpret_cast<const float4*>(row);
    const int64_t n4 = cols / 4, stride = blockDim.x;
    for (int64_t i0 = threadIdx.x; i0 < n4; i0 += stride * kInFlight) {
      float4 v[kInFlight];
#pragma unroll
      for (int u = 0; u < kInFlight; ++u) v[u] = i0 + u * stride < n4 ? row4[i0 + u * stride] : make_float4(0, 0, 0, 0);
#pragma unroll
      for (int u = 0; u < kInFlight; ++u) sum += v[u].x * v[u].x + v[u].y * v[u].y + v[u].z * v[u].z + v[u].w * v[u].w;
    }
  } else {
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) sum += row[i] * row[i];
  }
  return block_sum(sum);
}

}  // namespace salut::backend::cuda
