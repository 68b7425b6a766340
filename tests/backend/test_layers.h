#pragma once
// Linear layers made in memory for the kernel tests: random packed values with random scales
// and biases in every format MLX writes, at odd (unaligned) addresses, the packed weights ending
// right before an unreadable page so that any read past the tensor crashes the test. And the
// exact answer, in double precision, to compare the kernels with.

#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/quantized_matmul.h"
#include "backend/cpu/thread_pool.h"
#include "weights/dtype.h"
#include "weights/quantization.h"

namespace salut::testing {

using weights::DType;
using weights::QuantMode;

// Bytes whose end touches a PROT_NONE page.
class GuardedBytes {
 public:
  explicit GuardedBytes(size_t size) : size_(size) {
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    mapped_ = ((size + page - 1) / page + 1) * page;
    base_ = static_cast<std::byte*>(mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    mprotect(base_ + mapped_ - page, page, PROT_NONE);
  }
  ~GuardedBytes() { munmap(base_, mapped_); }
  GuardedBytes(const GuardedBytes&) = delete;
  GuardedBytes& operator=(const GuardedBytes&) = delete;
  std::byte* data() { return base_ + mapped_ - size_t(sysconf(_SC_PAGESIZE)) - size_; }

 private:
  size_t size_, mapped_;
  std::byte* base_;
};

struct LayerSpec {
  std::optional<QuantMode> mode;  // nullopt: dense
  int bits = 4;
  int group = 64;
  DType dtype = DType::F16;  // dense weights, or affine scales and biases
  bool global_scale = false;  // nvfp4

  std::string name() const {
    if (!mode) return "dense_" + std::string(weights::name(dtype));
    std::string n = std::string(weights::name(*mode));
    if (*mode == QuantMode::affine)
      n += "_b" + std::to_string(bits) + "_g" + std::to_string(group) + "_" + std::string(weights::name(dtype));
    if (global_scale) n += "_global";
    return n;
  }
};

inline void store_float(DType t, float v, std::byte* p) {
  if (t == DType::F32) {
    std::memcpy(p, &v, 4);
  } else {
    const uint16_t h = t == DType::F16 ? weights::f32_to_f16(v) : weights::f32_to_bf16(v);
    std::memcpy(p, &h, 2);
  }
}

// A random layer of `out` x `in` in the format `spec` says.
class TestLayer {
 public:
  TestLayer(const LayerSpec& spec, int64_t out, int64_t in, uint32_t seed) : spec_(spec), out_(out), in_(in) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    if (!spec.mode) {
      const size_t item = weights::item_size(spec.dtype);
      weight_ = std::make_unique<GuardedBytes>(size_t(out * in) * item);
      for (int64_t i = 0; i < out * in; ++i) store_float(spec.dtype, uniform(rng), weight_->data() + i * item);
      view_.weight = add_view(DType(spec.dtype), {out, in}, weight_->data(), size_t(out * in) * item);
    } else {
      const int64_t words = in * spec.bits / 32, groups = in / spec.group;
      const size_t bytes = size_t(out * words) * 4;
      weight_ = std::make_unique<GuardedBytes>(bytes);
      for (size_t i = 0; i < bytes; ++i) {
        int b = byte(rng);
        if (*spec.mode == QuantMode::mxfp8 && (b & 0x7f) == 0x7f) b &= 0x7e;  // no NaN weights
        weight_->data()[i] = std::byte(b);
      }
      view_.weight = add_view(DType::U32, {out, words}, weight_->data(), bytes);
      const bool affine = *spec.mode == QuantMode::affine;
      const DType sdt = affine ? spec.dtype : DType::U8;
      const size_t sitem = weights::item_size(sdt);
      scales_ = odd_buffer(size_t(out * groups) * sitem);
      for (int64_t i = 0; i < out * groups; ++i) {
        std::byte* p = scales_.data() + 1 + i * sitem;
        if (affine) store_float(sdt, 0.02f * uniform(rng), p);
        else if (*spec.mode == QuantMode::nvfp4) *p = std::byte(0x28 + byte(rng) % 0x30);  // E4M3 2^-4 .. 2^1
        else *p = std::byte(118 + byte(rng) % 12);                                       // E8M0 2^-9 .. 2^2
      }
      view_.scales = add_view(sdt, {out, groups}, scales_.data() + 1, size_t(out * groups) * sitem);
      if (affine) {
        biases_ = odd_buffer(size_t(out * groups) * sitem);
        for (int64_t i = 0; i < out * groups; ++i) store_float(sdt, 0.1f * uniform(rng), biases_.data() + 1 + i * sitem);
        view_.biases = add_view(sdt, {out, groups}, biases_.data() + 1, size_t(out * groups) * sitem);
      }
      view_.quant = weights::QuantSpec{*spec.mode, spec.bits, spec.group};
      if (spec.global_scale) view_.global_scale = 3.5f;
    }
    view_.module = spec.name();
    view_.out_features = out;
    view_.in_features = in;
  }

  const weights::LinearView& view() const { return view_; }
  backend::cpu::CpuLinear linear() const { return backend::cpu::CpuLinear::from_view(view_); }

  // Row r's weights exactly (scale * value + bias, in double).
  std::vector<double> exact_row(int64_t r) const {
    std::vector<float> raw(static_cast<size_t>(in_));
    raw_values(r, raw.data());
    const int64_t group = spec_.mode ? spec_.group : in_;
    std::vector<double> w(static_cast<size_t>(in_));
    for (int64_t g = 0; g < in_ / group; ++g) {
      double scale = 1, bias = 0;
      if (spec_.mode) {
        const size_t at = size_t(r * (in_ / group) + g) * weights::item_size(view_.scales->dtype);
        const std::byte* s = view_.scales->data + at;
        switch (*spec_.mode) {
          case QuantMode::affine:
            scale = weights::load_float(view_.scales->dtype, s);
            bias = weights::load_float(view_.biases->dtype, view_.biases->data + at);
            break;
          case QuantMode::mxfp4:
          case QuantMode::mxfp8: scale = weights::e8m0_to_f32(std::to_integer<uint8_t>(*s)); break;
          case QuantMode::nvfp4:
            scale = double(weights::e4m3_to_f32(std::to_integer<uint8_t>(*s))) *
                    (view_.global_scale ? double(*view_.global_scale / (448.0f * 6.0f)) : 1.0);
            break;
        }
      }
      for (int64_t j = g * group; j < (g + 1) * group; ++j) w[size_t(j)] = scale * raw[size_t(j)] + bias;
    }
    return w;
  }

  // The unscaled values of row r through the reference dequantization (checked bit for bit
  // against MLX in tests/weights) of the same packed data with unit scales and zero biases.
  void raw_values(int64_t r, float* out) const {
    if (!spec_.mode) return weights::dequantize_row(view_, r, out);
    // row r alone, as row 0 of a view with one row of unit scales and zero biases
    weights::LinearView unit = view_;
    weights::TensorView row = *view_.weight;
    row.data += size_t(r) * view_.row_bytes();
    unit.weight = &row;
    const int64_t groups = in_ / spec_.group;
    std::vector<std::byte> ones(size_t(groups) * 4), zeros(size_t(groups) * 4);
    weights::TensorView s = *view_.scales, b = s;
    if (*spec_.mode == QuantMode::affine) {
      for (int64_t g = 0; g < groups; ++g) store_float(DType::F32, 1.0f, ones.data() + 4 * g);
      s.dtype = b.dtype = DType::F32;
      b.data = zeros.data();
      unit.biases = &b;
    } else {
      // E8M0 127 and E4M3 0x38 are both 1.0
      std::fill(ones.begin(), ones.end(), std::byte(*spec_.mode == QuantMode::nvfp4 ? 0x38 : 127));
      unit.global_scale.reset();
    }
    s.data = ones.data();
    unit.scales = &s;
    weights::dequantize_row(unit, 0, out);
  }

  const weights::TensorView* add_view(DType dtype, std::vector<int64_t> shape, const std::byte* data, size_t n) {
    views_.push_back(std::make_unique<weights::TensorView>(weights::TensorView{"t", dtype, shape, data, n}));
    return views_.back().get();
  }
  static std::vector<std::byte> odd_buffer(size_t n) { return std::vector<std::byte>(n + 1); }

  LayerSpec spec_;
  int64_t out_, in_;
  std::unique_ptr<GuardedBytes> weight_;
  std::vector<std::byte> scales_, biases_;
  std::vector<std::unique_ptr<weights::TensorView>> views_;
  weights::LinearView view_;
};

// More threads than this machine may have cores: chunks get claimed late and out of order.
inline backend::cpu::ThreadPool& pool() {
  static backend::cpu::ThreadPool threads(3);
  return threads;
}

inline std::vector<float> random_floats(size_t n, uint32_t seed, float range = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-range, range);
  std::vector<float> v(n);
  for (auto& f : v) f = d(rng);
  return v;
}

}  // namespace salut::testing
