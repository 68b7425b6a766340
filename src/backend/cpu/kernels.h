#pragma once
// The CPU kernels, one table per instruction set (scalar reference, AVX2+FMA+F16C, AVX-512),
// chosen once at run time. The table's functions are plain loops over raw pointers; threading,
// scratch memory and the choice between decode and prefill paths live in the callers.
//
// A kernel table may read a block's values in any lane order it likes (see block_order), so
// activations are first "prepared" into that order by the same table's prepare functions.

#include <cstddef>
#include <cstdint>

#include "backend/backend.h"
#include "backend/packed_matrix.h"

namespace salut::backend::cpu {

using backend::PackedMatrix;
using backend::ScaleFormat;
using backend::WeightFormat;

// The SIMD tables keep a row's group scales on the stack: wider layers use the scalar table.
inline constexpr int64_t kMaxSimdCols = 65536;

// Floats of scratch a prepared activation row needs: the reordered row, then (quantized) the
// plain sum of each group's inputs, then (int16 activations) each group's activation scale.
inline int64_t prepared_size(const PackedMatrix& w) { return w.cols + 2 * w.groups(); }

// Tables that set Kernels::int16_activations round decode's activations to int16 per group for
// 4- and 8-bit affine layers (x ≈ scale_g · n, scale_g = max|x_g| / 32767): an error of at most
// max|x_g| / 65534 per input, far below MLX's own bf16/f16 rounding, for twice the speed on
// cores whose vector FP pipes are the limit.
inline bool int16_activations_apply(const PackedMatrix& w) {
  return w.format == WeightFormat::affine && (w.bits == 4 || w.bits == 8);
}

struct Kernels {
  const char* name;
  bool int16_activations;  // see int16_activations_apply

  // ---- Linear layers ----
  // Decode: x [cols] -> prepared [prepared_size(w)] (this table's order, scaled as its matvec wants).
  void (*prepare_matvec)(const PackedMatrix& w, const float* x, float* prepared);
  // y[r - first] = row r of W · x for r in [first, last), in f32 as MLX's quantized matmul:
  // Σ_groups scale · Σ q_j x_j + bias · Σ x_j.
  void (*matvec)(const PackedMatrix& w, const float* prepared, int64_t first, int64_t last, float* y);
  // Prefill: columns [k0, k0 + kc) of `rows` activation rows (stride cols) into this table's
  // order (stride kc). k0 and kc are multiples of 32.
  void (*prepare_gemm)(const PackedMatrix& w, const float* x, int64_t rows, int64_t k0, int64_t kc, float* out);
  // Rows [first, first + count) of W, columns [k0, k0 + kc), as f32 in the same order (stride kc).
  void (*dequantize)(const PackedMatrix& w, int64_t first, int64_t count, int64_t k0, int64_t kc, float* out);
  // C [m, n] (stride ldc) += A [m, k] (stride lda) · B [n, k]ᵀ (stride ldb); k a multiple of 32.
  void (*gemm)(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
               int64_t ldc);

  // ---- Row-wise ops ----
  // out = x / sqrt(mean(x²) + eps) * weight over `cols` values, reduced in f32 (may alias).
  void (*rms_norm)(const float* x, int64_t cols, const float* weight, float eps, float* out);
  // out = silu(gate) * up (may alias gate).
  void (*swiglu)(const float* gate, const float* up, int64_t n, float* out);
  // out[i] = e^((x[i] - shift) · scale), returning Σ out[i] (token_draw.h's ExpShifted).
  double (*exp_shifted)(const float* x, int64_t n, float shift, float scale, float* out);
  // One query head over `count` cached positions (keys and values of position t start at
  // keys + t * stride): scores s_t = q·k_t·scale in f32, then out = Σ_t e^(s_t - m) · v_t with
  // m = max_t s_t, not normalised; returns m and sets *total = Σ_t e^(s_t - m). A caller divides
  // by *total, or merges the partial results of several key ranges (split-K decode).
  // `scores` holds `count`.
  float (*attend)(const float* q, const float* keys, const float* values, int64_t stride, int64_t count,
                  int head_dim, float scale, float* scores, float* out, float* total);
};

const Kernels& scalar_kernels();
const Kernels* avx2_kernels();    // nullptr when not built in
const Kernels* avx512_kernels();  // nullptr when not built in

// The kernels this process uses: SALUT_CPU_KERNELS=scalar|avx2|avx512 when set (an unknown or
// unsupported name is an error), else the best the CPU supports. Decided once.
const Kernels& active_kernels();
// Every table this CPU can run, the scalar one first (for tests and benchmarks).
int runnable_kernels(const Kernels* out[3]);

}  // namespace salut::backend::cpu
