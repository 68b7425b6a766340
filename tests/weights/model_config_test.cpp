// config.json as mlx-lm reads it: per-architecture defaults, eos IDs, RoPE scaling, quantization.

#include "weights/model_config.h"

#include <gtest/gtest.h>

#include "weights_test_util.h"

namespace salut::weights {
namespace {

using nlohmann::json;
using salut::testing::throws_error;

json base(const std::string& model_type) {
  return {{"model_type", model_type}, {"hidden_size", 64},   {"intermediate_size", 128}, {"num_hidden_layers", 2},
          {"num_attention_heads", 4}, {"rms_norm_eps", 1e-5}, {"vocab_size", 256}};
}

ModelConfig parse(const json& j, const json* gen = nullptr) { return ModelConfig::parse(j, gen, "config.json"); }

TEST(ModelConfig, LlamaDefaults) {
  auto c = parse(base("llama"));
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.rope_theta, 10000);
  EXPECT_FALSE(c.rope_traditional);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_FALSE(c.rope_scaling);
  EXPECT_FALSE(c.quantization);
  EXPECT_FALSE(c.max_position_embeddings);
  auto j = base("mistral");
  j["head_dim"] = 32;
  j["num_key_value_heads"] = 2;
  j["attention_bias"] = true;
  j["tie_word_embeddings"] = false;
  c = parse(j);
  EXPECT_EQ(c.head_dim, 32);  // llama takes head_dim from the config
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_TRUE(c.attention_bias);
  EXPECT_FALSE(c.tie_word_embeddings);
}

TEST(ModelConfig, Qwen2Defaults) {
  auto j = base("qwen2");
  j["head_dim"] = 99;  // ignored: mlx-lm's qwen2 always uses hidden_size / heads
  auto c = parse(j);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.rope_theta, 1000000);
  EXPECT_TRUE(c.attention_bias);  // q/k/v biases
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.max_position_embeddings, 32768);
}

TEST(ModelConfig, Qwen3RequiresWhatMlxLmRequires) {
  auto j = base("qwen3");
  EXPECT_TRUE(throws_error([&] { parse(j); }, Errc::not_a_model, {"config.json", "head_dim is missing"}));
  j["head_dim"] = 32;
  EXPECT_TRUE(throws_error([&] { parse(j); }, Errc::not_a_model, {"rope_theta is missing"}));
  j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 5e6}};  // transformers 5
  EXPECT_TRUE(throws_error([&] { parse(j); }, Errc::not_a_model, {"tie_word_embeddings is missing"}));
  j["tie_word_embeddings"] = false;
  auto c = parse(j);
  EXPECT_EQ(c.head_dim, 32);  // not hidden / heads
  EXPECT_EQ(c.rope_theta, 5e6);
  ASSERT_TRUE(c.rope_scaling);
  EXPECT_EQ(c.rope_scaling->type, "default");
}

TEST(ModelConfig, Phi3LongRope) {
  auto j = base("phi3");
  j["partial_rotary_factor"] = 0.5;  // rotary dims 8 -> 4 factors
  j["original_max_position_embeddings"] = 4096;
  j["max_position_embeddings"] = 131072;
  j["rope_scaling"] = {{"type", "su"}, {"long_factor", {1.0, 2.0, 3.0, 4.0}}, {"short_factor", {1, 1, 1, 1}}};
  auto c = parse(j);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.partial_rotary_factor, 0.5);
  ASSERT_TRUE(c.rope_scaling);
  EXPECT_EQ(c.rope_scaling->type, "longrope");
  EXPECT_EQ(c.rope_scaling->long_factor, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(c.original_max_position_embeddings, 4096);
  j["rope_scaling"]["long_factor"] = {1.0, 2.0};
  EXPECT_TRUE(throws_error([&] { parse(j); }, Errc::not_a_model, {"factors have 2 entries", "need 4"}));
  j["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}};  // phi3 drops what it does not know
  EXPECT_FALSE(parse(j).rope_scaling);
  EXPECT_EQ(parse(base("phi3")).max_position_embeddings, 131072);
}

TEST(ModelConfig, Llama3RopeScaling) {
  auto j = base("llama");
  j["rope_scaling"] = {{"rope_type", "llama3"},
                       {"factor", 8.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192}};
  auto c = parse(j);
  ASSERT_TRUE(c.rope_scaling);
  EXPECT_EQ(c.rope_scaling->type, "llama3");
  EXPECT_EQ(c.rope_scaling->factor, 8.0);
  EXPECT_EQ(c.rope_scaling->original_max_position_embeddings, 8192);
  j["rope_scaling"] = {{"type", "linear"}};
  EXPECT_TRUE(throws_error([&] { parse(j); }, Errc::not_a_model, {"rope_scaling", "needs a factor"}));
  j["rope_scaling"] = nullptr;
  EXPECT_FALSE(parse(j).rope_scaling);
}

TEST(ModelConfig, EosIdsAsMlxLmPicksThem) {
  auto j = base("llama");
  j["eos_token_id"] = 2;
  j["bos_token_id"] = 1;
  EXPECT_EQ(parse(j).eos_token_ids, (std::vector<int64_t>{2}));
  EXPECT_EQ(parse(j).bos_token_id, 1);
  json gen = {{"eos_token_id", {7, 8}}};
  EXPECT_EQ(parse(j, &gen).eos_token_ids, (std::vector<int64_t>{7, 8}));  // replaces config.json's
  gen = {{"eos_token_id", 9}};
  EXPECT_EQ(parse(j, &gen).eos_token_ids, (std::vector<int64_t>{9}));
  gen = {{"eos_token_id", json::array()}};  // falsy: config.json's stays
  EXPECT_EQ(parse(j, &gen).eos_token_ids, (std::vector<int64_t>{2}));
  j["eos_token_id"] = {"x"};
  EXPECT_TRUE(throws_error([&] { parse(j); }, Errc::not_a_model, {"eos_token_id", "not a token ID"}));
}

TEST(ModelConfig, InvalidNumbersAreRefused) {
  auto j = base("llama");
  j["num_key_value_heads"] = 3;
  EXPECT_TRUE(throws_error([&] { parse(j); }, Errc::not_a_model, {"not a multiple of num_key_value_heads 3"}));
  j = base("llama");
  j["num_attention_heads"] = 5;
  EXPECT_TRUE(throws_error([&] { parse(j); }, Errc::not_a_model, {"hidden_size 64 is not a multiple"}));
  j = base("llama");
  j["hidden_size"] = -64;
  EXPECT_TRUE(throws_error([&] { parse(j); }, Errc::not_a_model, {"hidden_size is -64, not a positive"}));
  j = base("llama");
  j["vocab_size"] = "many";
  EXPECT_TRUE(throws_error([&] { parse(j); }, Errc::not_a_model, {"vocab_size", "not an integer"}));
  j = base("llama");
  j.erase("num_hidden_layers");
  EXPECT_TRUE(throws_error([&] { parse(j); }, Errc::not_a_model, {"num_hidden_layers is missing"}));
  j = base("llama");
  j["rms_norm_eps"] = 0;
  EXPECT_TRUE(throws_error([&] { parse(j); }, Errc::not_a_model, {"rms_norm_eps"}));
  EXPECT_TRUE(throws_error([&] { parse(json::array()); }, Errc::not_a_model, {"not a JSON object"}));
  EXPECT_TRUE(throws_error([&] { parse(json{{"hidden_size", 3}}); }, Errc::not_a_model, {"model_type is missing"}));
}

TEST(ModelConfig, UnknownModelTypeIsReadNotRefused) {
  auto c = parse(json{{"model_type", "mamba"}, {"hidden_size", 768}});
  EXPECT_EQ(c.model_type, "mamba");
  EXPECT_EQ(c.hidden_size, 768);
  EXPECT_EQ(c.raw["hidden_size"], 768);
}

TEST(ModelConfig, TaggedNonFiniteFloats) {
  auto j = base("llama");
  j["some_cap"] = {{"__float__", "Infinity"}};
  auto c = parse(j);
  EXPECT_TRUE(c.raw["some_cap"].is_number_float());
  EXPECT_TRUE(std::isinf(c.raw["some_cap"].get<double>()));
}

TEST(ModelConfig, QuantizationWithOverrides) {
  auto j = base("llama");
  j["quantization"] = {{"group_size", 64},
                       {"bits", 4},
                       {"model.layers.0.mlp.down_proj", {{"group_size", 32}, {"bits", 6}}},
                       {"model.layers.1.mlp.down_proj", {{"mode", "mxfp8"}}},
                       {"lm_head", false},
                       {"model.embed_tokens", true}};
  auto c = parse(j);
  ASSERT_TRUE(c.quantization);
  EXPECT_EQ(c.quantization->global, (QuantSpec{QuantMode::affine, 4, 64}));
  ASSERT_NE(c.override_for("model.layers.0.mlp.down_proj"), nullptr);
  EXPECT_EQ(**c.override_for("model.layers.0.mlp.down_proj"), (QuantSpec{QuantMode::affine, 6, 32}));
  EXPECT_EQ(**c.override_for("model.layers.1.mlp.down_proj"), (QuantSpec{QuantMode::mxfp8, 8, 32}));
  EXPECT_FALSE(c.override_for("lm_head")->has_value());
  EXPECT_EQ(**c.override_for("model.embed_tokens"), c.quantization->global);
  EXPECT_EQ(c.override_for("model.layers.0.mlp.up_proj"), nullptr);
}

TEST(ModelConfig, QuantizationModes) {
  auto j = base("llama");
  j["quantization"] = {{"group_size", 32}, {"bits", 4}, {"mode", "mxfp4"}};
  EXPECT_EQ(parse(j).quantization->global, (QuantSpec{QuantMode::mxfp4, 4, 32}));
  j["quantization"] = {{"group_size", 16}, {"bits", 4}, {"mode", "nvfp4"}};
  EXPECT_EQ(parse(j).quantization->global, (QuantSpec{QuantMode::nvfp4, 4, 16}));
  j["quantization"] = {{"group_size", 64}, {"bits", 4}, {"mode", "q4_k"}};
  EXPECT_TRUE(throws_error([&] { parse(j); }, Errc::not_a_model, {"config.json", "unsupported quantization mode 'q4_k'"}));
  j["quantization"] = {{"group_size", 64}, {"bits", 4}, {"model.x", {{"mode", "fp3"}}}};
  EXPECT_TRUE(throws_error([&] { parse(j); }, Errc::not_a_model, {"model.x", "unsupported quantization mode 'fp3'"}));
  j["quantization"] = {{"group_size", 64}, {"bits", 7}};
  EXPECT_TRUE(throws_error([&] { parse(j); }, Errc::not_a_model, {"7 bits is not supported"}));
  j["quantization"] = {{"group_size", 48}, {"bits", 4}};
  EXPECT_TRUE(throws_error([&] { parse(j); }, Errc::not_a_model, {"group size 48"}));
  j["quantization"] = {{"group_size", 64}, {"bits", 8}, {"mode", "mxfp4"}};
  EXPECT_TRUE(throws_error([&] { parse(j); }, Errc::not_a_model, {"mxfp4 quantization needs 4 bits"}));
  j["quantization"] = {{"bits", 4}};
  EXPECT_TRUE(throws_error([&] { parse(j); }, Errc::not_a_model, {"group_size and bits are required"}));
}

TEST(ModelConfig, LegacyQuantizationConfig) {
  auto j = base("llama");
  j["quantization_config"] = {{"quant_method", "mxfp4"}};
  EXPECT_EQ(parse(j).quantization->global, (QuantSpec{QuantMode::mxfp4, 4, 32}));
  j["quantization_config"] = {{"quant_method", "fp8"}, {"scale_fmt", "ue8m0"}, {"weight_block_size", {32, 32}}};
  EXPECT_EQ(parse(j).quantization->global, (QuantSpec{QuantMode::mxfp8, 8, 32}));
  j["quantization_config"] = {{"quant_method", "awq"}, {"bits", 4}};
  EXPECT_TRUE(throws_error([&] { parse(j); }, Errc::not_a_model, {"unsupported quantization method 'awq'"}));
  j["quantization_config"] = {{"group_size", 64}, {"bits", 8}};  // MLX's copy without quant_method
  EXPECT_EQ(parse(j).quantization->global, (QuantSpec{QuantMode::affine, 8, 64}));
  j["quantization"] = {{"group_size", 32}, {"bits", 4}};  // "quantization" wins
  EXPECT_EQ(parse(j).quantization->global, (QuantSpec{QuantMode::affine, 4, 32}));
}

TEST(ModelConfig, LoadsMlxLmFolders) {
  auto c = ModelConfig::load(testing::weights_data() / "tiny_llama_mixed");
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{2, 5}));  // from generation_config.json
  ASSERT_TRUE(c.quantization);
  EXPECT_EQ(c.quantization->global, (QuantSpec{QuantMode::affine, 3, 64}));
  EXPECT_EQ(**c.override_for("model.layers.1.mlp.down_proj"), (QuantSpec{QuantMode::affine, 6, 64}));
  EXPECT_EQ(**c.override_for("model.layers.0.mlp.down_proj"), (QuantSpec{QuantMode::affine, 3, 64}));

  auto q = ModelConfig::load(testing::weights_data() / "tiny_qwen3_mxfp4");
  EXPECT_EQ(q.head_dim, 32);
  EXPECT_EQ(q.quantization->global, (QuantSpec{QuantMode::mxfp4, 4, 32}));

  testing::TempDir dir;
  EXPECT_TRUE(throws_error([&] { ModelConfig::load(dir.path()); }, Errc::not_found, {"config.json"}));
  testing::write_file(dir.path() / "config.json", "{");
  EXPECT_TRUE(throws_error([&] { ModelConfig::load(dir.path()); }, Errc::not_a_model, {"config.json", "not valid JSON"}));
  testing::write_file(dir.path() / "config.json", base("llama").dump());
  testing::write_file(dir.path() / "generation_config.json", "{broken");  // ignored, as mlx-lm does
  EXPECT_EQ(ModelConfig::load(dir.path()).model_type, "llama");
}

}  // namespace
}  // namespace salut::weights
