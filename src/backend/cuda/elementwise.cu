// Norms, rotary embedding, SwiGLU and the small elementwise ops, in f32 as the CPU backend
// computes them.

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <utility>

#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/order_keys.cuh"
#include "backend/cuda/rope.cuh"
#include "backend/cuda/warp.cuh"

namespace salut::backend::cuda {
namespace {

constexpr int kThreads = 256;

int blocks_for(int64_t n) { return int((n + kThreads - 1) / kThreads); }

// One block per row: x * rsqrt(mean(x²) + eps) * weight, the mean in f32.
__global__ void rms_norm_kernel(const float* x, int64_t cols, const float* weight, float eps,
                                float* out) {
  wait_for_inputs();
  const float* row = x + blockIdx.x * cols;
  const float inverse = rsqrtf(block_sum_of_squares(row, cols) / float(cols) + eps);
  float* o = out + blockIdx.x * cols;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) o[i] = row[i] * inverse * weight[i];
}

__global__ void add_bias_kernel(float* x, int64_t n, int64_t cols, const float* bias) {
  wait_for_inputs();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] += bias[i % cols];
}

__global__ void add_kernel(float* x, const float* y, int64_t n) {
  wait_for_inputs();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] += y[i];
}

__global__ void swiglu_kernel(const float* gate, const float* up, int64_t n, float* out) {
  wait_for_inputs();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) {
    const float g = gate[i];
    out[i] = g / (1.0f + expf(-g)) * up[i];
  }
}

// One thread per rotated pair of one head of one row, of x and then of x2 (q and k in one launch).
__global__ void rope_kernel(float* x, int heads, float* x2, int heads2, int64_t rows, int head_dim, int half,
                            bool traditional, const float* inv_freq, float input_scale,
                            const int64_t* first_position) {
  wait_for_inputs();
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows * heads * half) {
    i -= rows * heads * half;
    x = x2, heads = heads2;
  }
  if (i >= rows * heads * half) return;
  const int pair = int(i % half);
  const int64_t head = i / half;  // row * heads + h
  const int64_t row = head / heads;
  float* v = x + head * head_dim;
  const int step = traditional ? 2 : 1, partner = traditional ? 1 : half;
  float& a = v[pair * step];
  float& b = v[pair * step + partner];
  rotate_pair(a, b, *first_position + row, inv_freq[pair], input_scale, a, b);
}


__global__ void gather_kernel(const float* table, int64_t cols, const int32_t* ids,
                              int64_t count, float* out) {
  wait_for_inputs();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count * cols) out[i] = table[int64_t(ids[i / cols]) * cols + i % cols];
}

// Each block finds its largest value (the lowest index among equals, as std::max_element on the
// host) and folds it into *key with one 64-bit atomicMax: the value's bits made to order as
// unsigned integers above, the complement of the index below (a lower index wins a tie).
__global__ void argmax_kernel(const float* x, int64_t n, unsigned long long* key) {
  wait_for_inputs();  // what follows is a copy to the host, which waits for this kernel regardless
  unsigned long long best = 0;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    best = max(best, argmax_key(x[i], i));
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) best = max(best, __shfl_xor_sync(0xffffffffu, best, offset));
  if ((threadIdx.x & 31) == 0) atomicMax(key, best);
}

// The largest |x| as the bits of a non-negative float (which order as unsigned integers).
__global__ void largest_kernel(const float* x, int64_t n, unsigned* largest) {
  wait_for_inputs();
  float m = 0;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    m = fmaxf(m, fabsf(x[i]));
  m = warp_max(m);
  if ((threadIdx.x & 31) == 0) atomicMax(largest, __float_as_uint(m));
}

__global__ void to_f16_kernel(const float* x, int64_t n, __half* out, float* scale,
                              const unsigned* largest) {
  wait_for_inputs();
  const float big = __uint_as_float(*largest);
  const int e = big > 0 && big < INFINITY ? ilogbf(big) - 14 : 0;  // big * 2^-e in [2^14, 2^15)
  if (blockIdx.x == 0 && threadIdx.x == 0) *scale = ldexpf(1.0f, e);
  const float down = ldexpf(1.0f, -e);
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = __float2half_rn(x[i] * down);
}

__global__ void set_value_kernel(int64_t* target, int64_t value) { wait_for_inputs(); *target = value; }

}  // namespace

void gather_rows(const float* table, int64_t cols, const int32_t* ids, int64_t count, float* out, cudaStream_t stream) {
  if (count > 0) launch(gather_kernel, blocks_for(count * cols), kThreads, 0, stream, table, cols, ids, count, out);
}

void argmax(const float* x, int64_t n, unsigned long long* key, cudaStream_t stream) {
  cudaMemsetAsync(key, 0, sizeof(*key), stream);
  after_copy();
  const unsigned blocks = unsigned(std::clamp<int64_t>(n / (4 * kThreads), 1, 128));
  launch(argmax_kernel, blocks, kThreads, 0, stream, x, n, key);
}

int32_t argmax_index(unsigned long long key) { return key == 0 ? 0 : int32_t(0xFFFFFFFFu - unsigned(key & 0xFFFFFFFFu)); }

namespace {
thread_local bool ordinary_launch_next = false;
}
void after_copy() { ordinary_launch_next = true; }
bool ordinary_launch_due() { return std::exchange(ordinary_launch_next, false); }

void to_f16_scaled(const float* x, int64_t n, void* out, float* scale, unsigned* largest, cudaStream_t stream) {
  cudaMemsetAsync(largest, 0, sizeof(unsigned), stream);
  after_copy();
  const unsigned blocks = unsigned(std::min<int64_t>((n + kThreads - 1) / kThreads, 132 * 16));
  launch(largest_kernel, blocks, kThreads, 0, stream, x, n, largest);
  launch(to_f16_kernel, blocks, kThreads, 0, stream, x, n, static_cast<__half*>(out), scale,
         static_cast<const unsigned*>(largest));
}

void set_value(int64_t* target, int64_t value, cudaStream_t stream) { launch(set_value_kernel, 1, 1, 0, stream, target, value); }

void rms_norm(const float* x, int64_t rows, int64_t cols, const float* weight, float eps, float* out,
              cudaStream_t stream) {
  // one block per row, wide enough that a row is a few loads per thread (decode: one row)
  const int threads = cols >= 4096 ? 1024 : cols >= 1024 ? 256 : 128;
  if (rows > 0) launch(rms_norm_kernel, unsigned(rows), threads, 0, stream, x, cols, weight, eps, out);
}

void add_bias(float* x, int64_t rows, int64_t cols, const float* bias, cudaStream_t stream) {
  if (rows > 0) launch(add_bias_kernel, blocks_for(rows * cols), kThreads, 0, stream, x, rows * cols, cols, bias);
}

void add(float* x, const float* y, int64_t n, cudaStream_t stream) {
  if (n > 0) launch(add_kernel, blocks_for(n), kThreads, 0, stream, x, y, n);
}

void swiglu(const float* gate, const float* up, int64_t n, float* out, cudaStream_t stream) {
  if (n > 0) launch(swiglu_kernel, blocks_for(n), kThreads, 0, stream, gate, up, n, out);
}

void rope(float* x, int heads, float* x2, int heads2, int64_t rows, int head_dim, int rotary_dim, bool traditional,
          const float* inv_freq, float input_scale, const int64_t* first_position, cudaStream_t stream) {
  const int64_t total = rows * (heads + heads2) * (rotary_dim / 2);
  if (total > 0)
    launch(rope_kernel, blocks_for(total), kThreads, 0, stream, x, heads, x2, heads2, rows, head_dim, rotary_dim / 2,
           traditional, inv_freq, input_scale, first_position);
}

}  // namespace salut::backend::cuda
