// Scalar conversions against MLX's own casts (conversions.safetensors from make_quant_fixtures.py).

#include "weights/dtype.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>

#include "weights/safetensors.h"
#include "weights_test_util.h"

namespace salut::weights {
namespace {

TEST(DType, NamesSizesAndParsing) {
  EXPECT_EQ(name(DType::BF16), "BF16");
  EXPECT_EQ(item_size(DType::F32), 4u);
  EXPECT_EQ(item_size(DType::BF16), 2u);
  EXPECT_EQ(item_size(DType::U32), 4u);
  EXPECT_EQ(item_size(DType::F8_E8M0), 1u);
  EXPECT_EQ(item_size(DType::I64), 8u);
  for (auto t : {DType::F32, DType::F16, DType::BF16, DType::F64, DType::U8, DType::U16, DType::U32, DType::U64,
                 DType::I8, DType::I16, DType::I32, DType::I64, DType::BOOL, DType::F8_E4M3, DType::F8_E8M0})
    EXPECT_EQ(parse_dtype(name(t)), t);
  EXPECT_EQ(parse_dtype("F4"), std::nullopt);
  EXPECT_EQ(parse_dtype("f32"), std::nullopt);  // case matters, as in the format
}

TEST(DType, F16RoundTripsEveryValue) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_f32(uint16_t(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f))));
      continue;
    }
    ASSERT_EQ(f32_to_f16(f), h) << std::hex << h;
  }
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_TRUE(std::isinf(f16_to_f32(0xfc00)));
}

TEST(DType, BF16RoundTripsEveryValue) {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const float f = bf16_to_f32(uint16_t(b));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_bf16(f), b) << std::hex << b;
  }
}

class MlxConversions : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    file_ = new SafetensorsFile(SafetensorsFile::open(testing::weights_data() / "conversions.safetensors"));
  }
  static void TearDownTestSuite() { delete file_; }
  static const TensorView& get(std::string_view n) { return *file_->find(n); }
  static SafetensorsFile* file_;
};
SafetensorsFile* MlxConversions::file_ = nullptr;

TEST_F(MlxConversions, F32ToBF16AndF16MatchMlxBitForBit) {
  const auto& in = get("f32_bits");
  const auto& bf = get("bf16_bits");
  const auto& hf = get("f16_bits");
  ASSERT_EQ(in.numel(), bf.numel());
  int nan_count = 0;
  for (int64_t i = 0; i < in.numel(); ++i) {
    const float x = std::bit_cast<float>(load_u32(in.data + 4 * i));
    const uint16_t want_bf = load_u16(bf.data + 2 * i), want_hf = load_u16(hf.data + 2 * i);
    if (std::isnan(x)) {  // NaN stays NaN; payloads are not compared
      ++nan_count;
      EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(x))));
      EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(x))));
      continue;
    }
    ASSERT_EQ(f32_to_bf16(x), want_bf) << "x=" << x << " bits " << std::hex << std::bit_cast<uint32_t>(x);
    ASSERT_EQ(f32_to_f16(x), want_hf) << "x=" << x << " bits " << std::hex << std::bit_cast<uint32_t>(x);
  }
  EXPECT_GT(nan_count, 0);
}

TEST_F(MlxConversions, E4M3MatchesMlxFromFp8) {
  const auto& out = get("e4m3_out");
  ASSERT_EQ(out.numel(), 256);
  for (int v = 0; v < 256; ++v) {
    const float want = load_f32(out.data + 4 * v);
    const float got = e4m3_to_f32(uint8_t(v));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << v;
    } else {
      EXPECT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want)) << v;
    }
  }
  EXPECT_EQ(e4m3_to_f32(0x7e), 448.0f);
  EXPECT_EQ(e4m3_to_f32(0x01), std::ldexp(1.0f, -9));
}

TEST(DType, E8M0IsAPowerOfTwo) {
  EXPECT_EQ(e8m0_to_f32(127), 1.0f);
  EXPECT_EQ(e8m0_to_f32(128), 2.0f);
  EXPECT_EQ(e8m0_to_f32(1), std::ldexp(1.0f, -126));
  EXPECT_EQ(e8m0_to_f32(0), std::ldexp(1.0f, -127));
  EXPECT_EQ(e8m0_to_f32(254), std::ldexp(1.0f, 127));
  EXPECT_TRUE(std::isinf(e8m0_to_f32(255)));
  for (int v = 1; v < 255; ++v) EXPECT_EQ(e8m0_to_f32(uint8_t(v)), std::ldexp(1.0f, v - 127));
}

TEST(DType, E2M1Table) {
  const float want[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  for (int v = 0; v < 8; ++v) {
    EXPECT_EQ(e2m1_to_f32(uint8_t(v)), want[v]);
    EXPECT_EQ(e2m1_to_f32(uint8_t(v | 8)), -want[v]);
    EXPECT_EQ(e2m1_to_f32(uint8_t(v | 0xf0)), e2m1_to_f32(uint8_t(v)));  // only the low nibble counts
  }
  EXPECT_TRUE(std::signbit(e2m1_to_f32(8)));
}

TEST(DType, UnalignedLoads) {
  alignas(8) unsigned char buf[16] = {0, 0x00, 0x00, 0x80, 0x3f, 0x80, 0x3f, 0x00, 0x3c};
  const auto* p = reinterpret_cast<const std::byte*>(buf);
  EXPECT_EQ(load_f32(p + 1), 1.0f);
  EXPECT_EQ(load_float(DType::BF16, p + 5), 1.0f);
  EXPECT_EQ(load_float(DType::F16, p + 7), 1.0f);
}

}  // namespace
}  // namespace salut::weights
