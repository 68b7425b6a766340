#pragma once
// A linear layer's weights as plain data, whatever memory they sit in: the CPU backend points it
// into the mapped safetensors files, the CUDA backend at its device copy of the same bytes (MLX's
// layout is what both kernels read). Rows are output features, cols input features.

#include <cstddef>
#include <cstdint>

#if defined(__CUDACC__)
#define SALUT_HOST_DEVICE __host__ __device__
#else
#define SALUT_HOST_DEVICE
#endif

namespace salut::weights {
struct LinearView;
}

namespace salut::backend {

enum class WeightFormat : uint8_t { f32, f16, bf16, affine, mxfp4, nvfp4, mxfp8 };
enum class ScaleFormat : uint8_t { none, f32, f16, bf16, e8m0, e4m3 };

// The order of the packed bytes: MLX's rows (what the files hold, what the CPU reads), or the
// CUDA backend's 16-row tiles (cuda/tiled_matvec.cu: per 16 rows and group, the weights in the
// order its tensor-core matvec's lanes read them, then the group's scales and biases).
enum class PackedLayout : uint8_t { rows, tiles16 };

// Quantized rows hold cols * bits / 32 packed words; cols is a multiple of 32 and of group_size.
struct PackedMatrix {
  WeightFormat format = WeightFormat::f32;
  int bits = 32;            // per stored value: 32/16/16 dense, 2..8 affine, 4 fp4, 8 fp8
  int group_size = 0;       // inputs per scale (0 when dense)
  ScaleFormat scale_format = ScaleFormat::none;
  int64_t rows = 0;
  int64_t cols = 0;
  const std::byte* weight = nullptr;  // row 0
  size_t weight_stride = 0;           // bytes from one row to the next
  const std::byte* scales = nullptr;  // row 0's group scales
  const std::byte* biases = nullptr;  // row 0's group biases (affine)
  size_t scale_stride = 0;            // bytes per row of scales and biases
  float global_scale = 1.0f;          // nvfp4: every group scale is multiplied by this
  const std::byte* weight_end = nullptr;  // end of the tensor's memory: no load may pass it
  PackedLayout layout = PackedLayout::rows;  // tiles16: the strides are the bytes of one 16-row tile

  SALUT_HOST_DEVICE bool quantized() const { return group_size > 0; }
  SALUT_HOST_DEVICE int64_t groups() const { return quantized() ? cols / group_size : 0; }
  SALUT_HOST_DEVICE const std::byte* weight_row(int64_t r) const { return weight + size_t(r) * weight_stride; }
  SALUT_HOST_DEVICE const std::byte* scale_row(int64_t r) const { return scales + size_t(r) * scale_stride; }
  SALUT_HOST_DEVICE const std::byte* bias_row(int64_t r) const { return biases + size_t(r) * scale_stride; }

  // Rows [first, first + count) as a matrix of their own (tiles16: first a multiple of 16).
  SALUT_HOST_DEVICE PackedMatrix row_range(int64_t first, int64_t count) const {
    PackedMatrix m = *this;
    m.rows = count;
    if (layout == PackedLayout::tiles16) {
      m.weight = weight + size_t(first / 16) * weight_stride;
      m.scales = scales + size_t(first / 16) * scale_stride;
      m.biases = biases + size_t(first / 16) * scale_stride;
      return m;
    }
    m.weight = weight_row(first);
    if (scales) m.scales = scale_row(first);
    if (biases) m.biases = bias_row(first);
    return m;
  }
};

// Rows [first_row, first_row + rows) of a layer found in a store, pointing into its mapping.
PackedMatrix pack_view(const weights::LinearView& view, int64_t first_row, int64_t rows);

}  // namespace salut::backend
