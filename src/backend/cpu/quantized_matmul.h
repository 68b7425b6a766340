#pragma once
// Linear layers on the CPU: out[r] = W · x[r] for dense (F32/F16/BF16) and MLX-quantized
// weights read in place from the mapped file.
//
// One activation row (decode) runs the kernels' matvec: every weight is read once, straight
// from the mapping, and the output rows are split between the threads. Several rows (prefill)
// dequantize a panel of weight rows at a time to f32 and multiply it with every activation row
// (a GEMM), so each weight is decoded once per call however many tokens there are.

#include <cstdint>
#include <span>

#include "backend/cpu/kernels.h"
#include "backend/cpu/thread_pool.h"
#include "weights/quantization.h"

namespace salut::backend::cpu {

// A linear layer as the CPU backend keeps it: the store's view plus a window of output rows
// (phi3's fused projections are split into such windows).
struct CpuLinear {
  weights::LinearView view;
  int64_t first_row = 0;
  int64_t out_features = 0;
  PackedMatrix packed;  // the window, as the kernels read it

  static CpuLinear from_view(const weights::LinearView& view);
  CpuLinear rows(int64_t first, int64_t count) const;
  // Row `row` of this window as `view.in_features` floats, exactly as mx.dequantize gives it
  // (embeddings: mlx-lm dequantizes the gathered rows).
  void dequantize_row(int64_t row, float* out) const;
};

// out [rows, w.out_features] = x [rows, in] · Wᵀ with the given kernels on the pool's threads.
void linear(const Kernels& kernels, ThreadPool& pool, const float* x, int64_t rows, const CpuLinear& w, float* out);

// Frees the calling thread's scratch (a prefill's activations: up to chunk × widest layer floats).
void release_thread_scratch();

// Several layers of the same input: outs[i] [rows, layers[i]->out_features]. Decode runs every
// layer's rows as one job of the pool (one wake-up and one wait instead of one per layer).
void linear_many(const Kernels& kernels, ThreadPool& pool, const float* x, int64_t rows,
                 std::span<const CpuLinear* const> layers, std::span<float* const> outs);

}  // namespace salut::backend::cpu
