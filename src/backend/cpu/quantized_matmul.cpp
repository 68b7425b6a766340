#include "backend/cpu/quantized_matmul.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/error.h"

namespace salut::backend::cpu {
namespace {

// Decode splits a layer into chunks of rows holding at least this many bytes of weights: small
// enough to share a small layer, big enough that claiming a chunk costs nothing.
constexpr size_t kMinChunkBytes = 16 * 1024;
// From this many activation rows the GEMM path beats one matvec per row.
constexpr int64_t kMinGemmRows = 4;
// GEMM panels: kPanelRows weight rows x kPanelCols inputs of f32 (64 KiB, in L2 with the
// kernel's packed copy): each block of activation rows the kernel holds in L1 meets all 64 rows
// (1.1B Llama prefill 512 on two cores, alternating: 55.9/58.5/63.6 tok/s with 32 rows, 69.9/66.8/62.0
// with 64; 128 no faster).
constexpr int64_t kPanelRows = 64;
constexpr int64_t kPanelCols = 256;  // a multiple of every group size

// The SIMD tables need whole 32-input blocks and a bounded row; anything else takes the
// reference path (no model seen so far needs it).
const Kernels& kernels_for(const Kernels& wanted, const PackedMatrix& w) {
  const bool blocks = w.cols % 32 == 0 || !w.quantized();
  return blocks && w.cols <= kMaxSimdCols ? wanted : scalar_kernels();
}

// Grown once and kept: the hot path allocates nothing (release_thread_scratch gives it back).
thread_local std::vector<float> scratch_buffers[2];
std::vector<float>& scratch(int slot, size_t floats) {
  if (scratch_buffers[slot].size() < floats) scratch_buffers[slot].resize(floats);
  return scratch_buffers[slot];
}

// Decode of one or more layers of the same input rows: each layer's x prepared in its kernels'
// order, then every layer's output rows split into chunks of at least kMinChunkBytes of weights
// (contiguous runs of rows) and run as one job.
void matvec_rows(const Kernels& wanted, ThreadPool& pool, const float* x, int64_t rows,
                 std::span<const PackedMatrix* const> layers, std::span<float* const> outs) {
  struct Chunk {
    int layer;
    int64_t first, last;
  };
  // The caller's own lists (a lambda names a thread_local as the running thread's: take references).
  thread_local std::vector<Chunk> chunk_list;
  thread_local std::vector<size_t> prepared_at_list;
  std::vector<Chunk>& chunks = chunk_list;
  std::vector<size_t>& prepared_at = prepared_at_list;
  chunks.clear();
  prepared_at.clear();
  size_t prepared_floats = 0;
  // Layers of the same shape and format (q/k/v, gate/up usually) share one prepared x.
  auto same_preparation = [](const PackedMatrix& a, const PackedMatrix& b) {
    return a.format == b.format && a.bits == b.bits && a.group_size == b.group_size && a.cols == b.cols;
  };
  for (size_t i = 0; i < layers.size(); ++i) {
    const PackedMatrix& w = *layers[i];
    const bool shared = i > 0 && same_preparation(w, *layers[i - 1]);
    prepared_at.push_back(shared ? prepared_at.back() : prepared_floats);
    if (!shared) prepared_floats += size_t(prepared_size(w));
    const int64_t grain = std::max<int64_t>(1, int64_t(kMinChunkBytes / std::max<size_t>(w.weight_stride, 1)));
    // several chunks per thread, so that a slow or late thread leaves little to wait for
    const int64_t n = std::clamp<int64_t>(w.rows / grain, 1, int64_t(pool.threads()) * 8);
    for (int64_t c = 0; c < n; ++c) chunks.push_back({int(i), w.rows * c / n, w.rows * (c + 1) / n});
  }
  float* prepared = scratch(0, prepared_floats).data();
  for (int64_t r = 0; r < rows; ++r) {
    for (size_t i = 0; i < layers.size(); ++i)
      if (i == 0 || prepared_at[i] != prepared_at[i - 1])  // not sharing the previous layer's
        kernels_for(wanted, *layers[i]).prepare_matvec(*layers[i], x + r * layers[i]->cols, prepared + prepared_at[i]);
    pool.run(int64_t(chunks.size()), [&](int64_t c) {
      const Chunk& chunk = chunks[size_t(c)];
      const PackedMatrix& w = *layers[size_t(chunk.layer)];
      float* y = outs[size_t(chunk.layer)] + r * w.rows;
      kernels_for(wanted, w).matvec(w, prepared + prepared_at[size_t(chunk.layer)], chunk.first, chunk.last,
                                    y + chunk.first);
    });
  }
}

void gemm_rows(const Kernels& k, ThreadPool& pool, const float* x, int64_t rows, const PackedMatrix& w, float* out) {
  // Activations in the kernels' order, all columns at once: [rows, cols].
  float* a = scratch(1, size_t(rows * w.cols)).data();
  pool.run_range(rows, 4, [&](int64_t first, int64_t last) {
    k.prepare_gemm(w, x + first * w.cols, last - first, 0, w.cols, a + first * w.cols);
    std::fill(out + first * w.rows, out + last * w.rows, 0.0f);
  });
  const int64_t tiles = (w.rows + kPanelRows - 1) / kPanelRows;
  pool.run(tiles, [&](int64_t tile) {
    float* panel = scratch(0, size_t(kPanelRows * kPanelCols)).data();
    const int64_t o0 = tile * kPanelRows, count = std::min(kPanelRows, w.rows - o0);
    for (int64_t k0 = 0; k0 < w.cols; k0 += kPanelCols) {
      const int64_t kc = std::min(kPanelCols, w.cols - k0);
      k.dequantize(w, o0, count, k0, kc, panel);
      k.gemm(rows, count, kc, a + k0, w.cols, panel, kc, out + o0, w.rows);
    }
  });
}

}  // namespace

void release_thread_scratch() {
  for (auto& buffer : scratch_buffers) std::vector<float>().swap(buffer);
}

CpuLinear CpuLinear::from_view(const weights::LinearView& view) {
  return CpuLinear{view, 0, view.out_features, pack_view(view, 0, view.out_features)};
}

CpuLinear CpuLinear::rows(int64_t first, int64_t count) const {
  if (first < 0 || count <= 0 || first + count > out_features)
    throw Error(Errc::not_a_model, fmt::format("{}: rows [{}, {}) are outside its {} outputs", view.module, first,
                                               first + count, out_features));
  return CpuLinear{view, first_row + first, count, pack_view(view, first_row + first, count)};
}

// Unrounded, as the kernels compute: embeddings feed float32 activations.
void CpuLinear::dequantize_row(int64_t row, float* out) const {
  weights::dequantize_row(view, first_row + row, out, weights::Rounding::none);
}

void linear(const Kernels& wanted, ThreadPool& pool, const float* x, int64_t rows, const CpuLinear& w, float* out) {
  const CpuLinear* layers[] = {&w};
  float* outs[] = {out};
  linear_many(wanted, pool, x, rows, layers, outs);
}

void linear_many(const Kernels& wanted, ThreadPool& pool, const float* x, int64_t rows,
                 std::span<const CpuLinear* const> layers, std::span<float* const> outs) {
  thread_local std::vector<const PackedMatrix*> one_by_one;  // layers the GEMM path does not take
  thread_local std::vector<float*> their_outs;
  one_by_one.clear();
  their_outs.clear();
  for (size_t i = 0; i < layers.size(); ++i) {
    const PackedMatrix& m = layers[i]->packed;
    // The GEMM path works on whole 32-input blocks (dense layers of other widths: one row at a time).
    if (rows >= kMinGemmRows && m.cols % 32 == 0) {
      gemm_rows(kernels_for(wanted, m), pool, x, rows, m, outs[i]);
    } else {
      one_by_one.push_back(&m);
      their_outs.push_back(outs[i]);
    }
  }
  if (!one_by_one.empty()) matvec_rows(wanted, pool, x, rows, one_by_one, their_outs);
}

}  // namespace salut::backend::cpu
