// dequantize_row against MLX's own mx.dequantize (quant.safetensors, made by make_quant_fixtures.py):
// every mode, bit width, group size and scale dtype, bit for bit. resolve_linear on models quantized
// by mlx-lm, and on layers whose shapes or dtypes are wrong.

#include "weights/quantization.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <set>

#include "weights_test_util.h"

namespace salut::weights {
namespace {

using nlohmann::json;
using salut::testing::RawTensor;
using salut::testing::throws_error;

// Bitwise equality, NaN equal to NaN (its payload and sign are not part of MLX's contract).
bool same(float a, float b) { return (std::isnan(a) && std::isnan(b)) || std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b); }

class MlxQuantFixtures : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    // One folder per case would be many; link the fixture file as the model of one folder and
    // resolve each case as a module of it.
    std::filesystem::create_symlink(testing::weights_data() / "quant.safetensors", dir_->path() / "model.safetensors");
    store_ = new WeightStore(WeightStore::open(dir_->path()));
  }
  static void TearDownTestSuite() {
    delete store_;
    delete dir_;
  }
  static testing::TempDir* dir_;
  static WeightStore* store_;
};
testing::TempDir* MlxQuantFixtures::dir_ = nullptr;
WeightStore* MlxQuantFixtures::store_ = nullptr;

TEST_F(MlxQuantFixtures, DequantizeRowMatchesMlxBitForBit) {
  const auto cases = json::parse(store_->files()[0].metadata().at("cases"));
  ASSERT_GE(cases.size(), 100u);
  std::set<std::string> modes;
  const ModelConfig config = ModelConfig::parse(
      json{{"model_type", "test"}, {"quantization", {{"group_size", 64}, {"bits", 4}}}}, nullptr, "config.json");
  for (const auto& c : cases) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    const QuantSpec want{*parse_quant_mode(c["mode"].get<std::string>()), c["bits"].get<int>(), c["group_size"].get<int>()};
    const auto& expected = store_->get(name + ".expected");
    const int64_t rows = expected.shape[0], cols = expected.shape[1];
    // Shapes alone, given the input width, give back the spec (mlx-lm's infer_quant_config).
    const LinearView layer = resolve_linear(*store_, config, name, cols);
    ASSERT_TRUE(layer.quantized());
    EXPECT_EQ(*layer.quant, want);
    EXPECT_EQ(layer.in_features, cols);
    EXPECT_EQ(layer.out_features, rows);
    EXPECT_EQ(layer.global_scale.has_value(), name.starts_with("nvfp4_global"));
    modes.insert(c["mode"].get<std::string>());

    std::vector<float> row(size_t(cols), 0.0f);
    int64_t mismatches = 0;
    for (int64_t r = 0; r < rows; ++r) {
      dequantize_row(layer, r, row.data());
      for (int64_t j = 0; j < cols; ++j) {
        const std::byte* e = expected.data + size_t(r * cols + j) * item_size(expected.dtype);
        const float want_value = load_float(expected.dtype, e);
        if (!same(row[size_t(j)], want_value) && mismatches++ < 5)
          ADD_FAILURE() << name << " row " << r << " col " << j << ": " << row[size_t(j)] << " != " << want_value;
      }
    }
    EXPECT_EQ(mismatches, 0);
  }
  EXPECT_EQ(modes, (std::set<std::string>{"affine", "mxfp4", "nvfp4", "mxfp8"}));
}

TEST(QuantizationMlxLm, ResolvesEveryLayerOfAMixedModel) {
  const auto dir = testing::weights_data() / "tiny_llama_mixed";
  const auto store = WeightStore::open(dir);
  const auto config = ModelConfig::load(dir);
  const int64_t h = config.hidden_size, inter = config.intermediate_size, kv = config.num_key_value_heads * config.head_dim;
  struct Layer {
    std::string module;
    int64_t in, out;
  };
  std::vector<Layer> layers{{"model.embed_tokens", h, config.vocab_size}, {"lm_head", h, config.vocab_size}};
  for (int l = 0; l < config.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l);
    layers.push_back({p + ".self_attn.q_proj", h, h});
    layers.push_back({p + ".self_attn.k_proj", h, kv});
    layers.push_back({p + ".self_attn.v_proj", h, kv});
    layers.push_back({p + ".self_attn.o_proj", h, h});
    layers.push_back({p + ".mlp.gate_proj", h, inter});
    layers.push_back({p + ".mlp.up_proj", h, inter});
    layers.push_back({p + ".mlp.down_proj", inter, h});
  }
  for (const auto& l : layers) {
    SCOPED_TRACE(l.module);
    // With and without the input width: overrides name every module of this model.
    for (auto in : {std::optional<int64_t>(l.in), std::optional<int64_t>()}) {
      const auto v = resolve_linear(store, config, l.module, in);
      ASSERT_TRUE(v.quantized());
      EXPECT_EQ(*v.quant, **config.override_for(l.module));
      EXPECT_EQ(v.in_features, l.in);
      EXPECT_EQ(v.out_features, l.out);
      EXPECT_EQ(v.bias, nullptr);
    }
  }
  EXPECT_EQ(resolve_linear(store, config, "model.layers.1.mlp.down_proj").quant->bits, 6);
  EXPECT_EQ(resolve_linear(store, config, "model.layers.0.mlp.down_proj").quant->bits, 3);

  // Rows of embeddings and layers equal mx.dequantize of mlx-lm's own parameters.
  auto expected = SafetensorsFile::open(testing::weights_data() / "tiny_llama_mixed_expected.safetensors");
  for (const auto& t : expected.tensors()) {
    SCOPED_TRACE(std::string(t.name));
    const auto v = resolve_linear(store, config, t.name);
    std::vector<float> row(size_t(v.in_features));
    for (int64_t r = 0; r < v.out_features; ++r) {
      dequantize_row(v, r, row.data());
      for (int64_t j = 0; j < v.in_features; ++j)
        ASSERT_TRUE(same(row[size_t(j)], load_float(t.dtype, t.data + size_t(r * v.in_features + j) * item_size(t.dtype))))
            << r << "," << j;
    }
  }
  // Dense layers: the norms are not linear layers but read the same way.
  EXPECT_TRUE(throws_error([&] { resolve_linear(store, config, "model.norm"); }, Errc::not_a_model, {"expected a matrix"}));
  EXPECT_TRUE(throws_error([&] { resolve_linear(store, config, "model.layers.9.mlp.up_proj"); }, Errc::not_a_model,
                           {"missing tensor 'model.layers.9.mlp.up_proj.weight'", dir.string()}));
}

TEST(QuantizationMlxLm, ResolvesAnMxfp4ShardedModelWithoutOverrides) {
  const auto dir = testing::weights_data() / "tiny_qwen3_mxfp4";
  const auto store = WeightStore::open(dir);
  const auto config = ModelConfig::load(dir);
  for (auto in : {std::optional<int64_t>(config.hidden_size), std::optional<int64_t>()}) {
    const auto q = resolve_linear(store, config, "model.layers.1.self_attn.q_proj", in);
    ASSERT_TRUE(q.quantized());
    EXPECT_EQ(*q.quant, (QuantSpec{QuantMode::mxfp4, 4, 32}));
    EXPECT_EQ(q.out_features, config.num_attention_heads * config.head_dim);
    EXPECT_EQ(q.in_features, config.hidden_size);
    EXPECT_EQ(q.biases, nullptr);
  }
  const auto down = resolve_linear(store, config, "model.layers.0.mlp.down_proj", config.intermediate_size);
  EXPECT_EQ(down.in_features, 96);
  const auto embed = resolve_linear(store, config, "model.embed_tokens", config.hidden_size);
  EXPECT_EQ(embed.out_features, config.vocab_size);
  std::vector<float> row(size_t(embed.in_features));
  dequantize_row(embed, 5, row.data());
  for (float x : row) EXPECT_TRUE(std::isfinite(x));
}

// Hand-made layers in a temporary folder.
class LinearTest : public ::testing::Test {
 protected:
  void write(const std::vector<RawTensor>& tensors) {
    testing::write_file(dir.path() / "model.safetensors", testing::safetensors_file(tensors));
  }
  LinearView resolve(const std::string& module, std::optional<int64_t> in = std::nullopt, json quant = nullptr) {
    json c = {{"model_type", "test"}};
    if (!quant.is_null()) c["quantization"] = quant;
    auto config = ModelConfig::parse(c, nullptr, "config.json");
    store = std::make_unique<WeightStore>(WeightStore::open(dir.path()));
    return resolve_linear(*store, config, module, in);
  }
  static std::string zeros(size_t n) { return std::string(n, '\0'); }
  testing::TempDir dir;
  std::unique_ptr<WeightStore> store;
};

TEST_F(LinearTest, DenseLayersInEveryFloatType) {
  write({{"f32.weight", "F32", {2, 2}, testing::bytes_of<float>({1, 2, 3, 4})},
         {"bf16.weight", "BF16", {1, 2}, testing::bytes_of<uint16_t>({0x3f80, 0xc000})},
         {"f16.weight", "F16", {1, 2}, testing::bytes_of<uint16_t>({0x3c00, 0xc000})},
         {"f16.bias", "F16", {1}, testing::bytes_of<uint16_t>({0x3c00})},
         {"u8.weight", "U8", {1, 2}, zeros(2)}});
  auto f32 = resolve("f32", 2);
  EXPECT_FALSE(f32.quantized());
  float row[2];
  dequantize_row(f32, 1, row);
  EXPECT_EQ(row[0], 3);
  EXPECT_EQ(row[1], 4);
  dequantize_row(resolve("bf16"), 0, row);
  EXPECT_EQ(row[1], -2);
  auto f16 = resolve("f16");
  dequantize_row(f16, 0, row);
  EXPECT_EQ(row[0], 1);
  ASSERT_NE(f16.bias, nullptr);
  EXPECT_TRUE(throws_error([&] { dequantize_row(f32, 2, row); }, Errc::invalid_argument, {"row 2 of 2"}));
  EXPECT_TRUE(throws_error([&] { resolve("u8"); }, Errc::not_a_model, {"u8.weight is U8, expected F32, F16 or BF16"}));
  EXPECT_TRUE(throws_error([&] { resolve("f32", 3); }, Errc::not_a_model, {"f32.weight has shape [2, 2], expected [2, 3]"}));
}

TEST_F(LinearTest, WrongQuantizationShapesAreRefused) {
  // A 4-bit group-64 layer with 2 outputs and 128 inputs: weight [2, 16], scales/biases [2, 2].
  auto layer = [&](std::vector<int64_t> w, std::vector<int64_t> s, std::vector<int64_t> b, const char* sdt = "F16") {
    auto n = [](const std::vector<int64_t>& shape) {
      size_t k = 1;
      for (auto d : shape) k *= size_t(d);
      return k;
    };
    write({{"l.weight", "U32", w, zeros(4 * n(w))},
           {"l.scales", sdt, s, zeros(2 * n(s))},
           {"l.biases", sdt, b, zeros(2 * n(b))}});
  };
  layer({2, 16}, {2, 2}, {2, 2});
  auto ok = resolve("l", 128, {{"group_size", 64}, {"bits", 4}});
  EXPECT_EQ(*ok.quant, (QuantSpec{QuantMode::affine, 4, 64}));
  EXPECT_EQ(resolve("l", std::nullopt, {{"group_size", 64}, {"bits", 4}}).in_features, 128);

  layer({2, 16}, {2, 3}, {2, 3});
  EXPECT_TRUE(throws_error([&] { resolve("l", std::nullopt, {{"group_size", 64}, {"bits", 4}}); }, Errc::not_a_model,
                           {"model.safetensors", "l.scales has shape [2, 3], expected [2, 2]",
                            "affine 4-bit, group 64 (wrong quantization shape)"}));
  EXPECT_TRUE(throws_error([&] { resolve("l", 128); }, Errc::not_a_model,
                           {"fit no quantization of 128 inputs (wrong quantization shape)"}));
  layer({2, 16}, {2, 2}, {2, 1});
  EXPECT_TRUE(throws_error([&] { resolve("l", 128); }, Errc::not_a_model, {"l.biases has shape [2, 1], expected [2, 2]"}));
  layer({2, 16}, {2, 2}, {2, 2});
  // Shapes fix bits x group only: given 256 inputs these are 2-bit groups of 128, given 64 8-bit
  // groups of 32 (which is why callers pass the width); 100 inputs fit nothing.
  EXPECT_EQ(*resolve("l", 256).quant, (QuantSpec{QuantMode::affine, 2, 128}));
  EXPECT_EQ(*resolve("l", 64).quant, (QuantSpec{QuantMode::affine, 8, 32}));
  EXPECT_TRUE(throws_error([&] { resolve("l", 100); }, Errc::not_a_model, {"wrong quantization shape"}));
  // An override of 5 bits: 16 words are not a whole number of 5-bit values.
  EXPECT_TRUE(throws_error([&] { resolve("l", std::nullopt, {{"group_size", 64}, {"bits", 4}, {"l", {{"bits", 5}}}}); },
                           Errc::not_a_model, {"wrong quantization shape"}));
}

TEST_F(LinearTest, WrongDTypesAndMissingPiecesAreRefused) {
  write({{"a.weight", "U32", {2, 16}, zeros(128)}, {"a.scales", "U8", {2, 2}, zeros(4)}, {"a.biases", "U8", {2, 2}, zeros(4)},
         {"b.weight", "U32", {2, 16}, zeros(128)}, {"b.scales", "F16", {2, 2}, zeros(8)},
         {"c.weight", "F32", {2, 16}, zeros(128)}, {"c.scales", "F16", {2, 2}, zeros(8)}, {"c.biases", "F16", {2, 2}, zeros(8)},
         {"d.weight", "U32", {2, 16}, zeros(128)}, {"d.scales", "F16", {2, 2}, zeros(8)}, {"d.biases", "BF16", {2, 2}, zeros(8)},
         {"e.weight", "U32", {2, 4}, zeros(32)}, {"e.scales", "U8", {2, 1}, zeros(2)}, {"e.biases", "F16", {2, 1}, zeros(4)},
         {"f.weight", "BF16", {2, 2}, zeros(8)}, {"f.bias", "BF16", {3}, zeros(6)},
         {"g.weight", "U32", {2, 16}, zeros(128)}, {"g.scales", "BF16", {2, 4}, zeros(16)}, {"g.biases", "BF16", {2, 4}, zeros(16)}});
  const json q = {{"group_size", 64}, {"bits", 4}};
  EXPECT_TRUE(throws_error([&] { resolve("a", std::nullopt, q); }, Errc::not_a_model,
                           {"a.scales is U8, expected F32, F16 or BF16 scales for affine 4-bit, group 64"}));
  EXPECT_TRUE(throws_error([&] { resolve("b", 128); }, Errc::not_a_model, {"missing tensor 'b.biases' (affine"}));
  EXPECT_TRUE(throws_error([&] { resolve("c", 128); }, Errc::not_a_model, {"c.weight is F32, expected U32"}));
  EXPECT_TRUE(throws_error([&] { resolve("d", 128); }, Errc::not_a_model, {"d.biases is BF16 but the scales are F16"}));
  EXPECT_TRUE(throws_error([&] { resolve("e", 32); }, Errc::not_a_model, {"e.biases exists but mxfp4 quantization has no biases"}));
  EXPECT_TRUE(throws_error([&] { resolve("f"); }, Errc::not_a_model, {"f.bias has shape [3], expected [2]"}));
  // The config says dense, the file says quantized; the config says quantized, the file has no scales.
  EXPECT_TRUE(throws_error([&] { resolve("g", 128, {{"group_size", 64}, {"bits", 4}, {"g", false}}); }, Errc::not_a_model,
                           {"g.scales exists but the config's quantization leaves g unquantized"}));
  EXPECT_TRUE(throws_error([&] { resolve("f", 2, {{"group_size", 64}, {"bits", 4}, {"f", true}}); }, Errc::not_a_model,
                           {"missing tensor 'f.scales'"}));
  // Affine with group 32 and 4 bits: inferred from the shapes when the width is known.
  EXPECT_EQ(*resolve("g", 128).quant, (QuantSpec{QuantMode::affine, 4, 32}));
}

TEST_F(LinearTest, ThreeBitValuesCrossWordBoundaries) {
  // 32 inputs at 3 bits = 3 words; element j holds j % 8. Scale 1, bias 0 -> the codes themselves.
  uint32_t words[3] = {0, 0, 0};
  for (int j = 0; j < 32; ++j) {
    const uint64_t bit = uint64_t(j) * 3;
    const uint64_t v = uint64_t(j % 8) << (bit % 32);
    words[bit / 32] |= uint32_t(v);
    if (bit % 32 + 3 > 32) words[bit / 32 + 1] |= uint32_t(v >> 32);
  }
  write({{"x.weight", "U32", {1, 3}, std::string(reinterpret_cast<char*>(words), 12)},
         {"x.scales", "F32", {1, 1}, testing::bytes_of<float>({1})},
         {"x.biases", "F32", {1, 1}, testing::bytes_of<float>({0})}});
  auto v = resolve("x", std::nullopt, {{"group_size", 32}, {"bits", 3}});
  float row[32];
  dequantize_row(v, 0, row);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(row[j], float(j % 8)) << j;
}

}  // namespace
}  // namespace salut::weights
