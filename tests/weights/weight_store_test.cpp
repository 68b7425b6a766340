// WeightStore: model folders as mlx-lm saves them (index + one file, index + shards) and as other
// tools leave them (model.safetensors alone), and the ways a folder can be incomplete.

#include "weights/weight_store.h"

#include <gtest/gtest.h>

#include <fstream>

#include "weights_test_util.h"

namespace salut::weights {
namespace {

using salut::testing::RawTensor;
using salut::testing::safetensors_file;
using salut::testing::throws_error;
namespace fs = std::filesystem;

std::string f32s(std::initializer_list<float> v) { return testing::bytes_of<float>(v); }

class WeightStoreTest : public ::testing::Test {
 protected:
  void write(const std::string& name, const std::vector<RawTensor>& tensors) {
    testing::write_file(dir.path() / name, safetensors_file(tensors));
  }
  void write_index(const nlohmann::json& weight_map) {
    testing::write_file(dir.path() / "model.safetensors.index.json",
                        nlohmann::json{{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}}.dump());
  }
  testing::TempDir dir;
};

TEST_F(WeightStoreTest, SingleFileWithoutIndex) {
  write("model.safetensors", {{"a.weight", "F32", {2}, f32s({1, 2})}, {"b.weight", "F32", {1}, f32s({3})}});
  write("adapters.safetensors", {{"x", "F32", {1}, f32s({9})}});  // not model*: ignored, as mlx-lm does
  auto store = WeightStore::open(dir.path());
  EXPECT_EQ(store.names(), (std::vector<std::string_view>{"a.weight", "b.weight"}));
  EXPECT_EQ(store.get("a.weight").shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(store.find("x"), nullptr);
  EXPECT_EQ(store.total_bytes(), 12u);
  EXPECT_EQ(store.files().size(), 1u);
  EXPECT_TRUE(throws_error([&] { store.get("model.norm.weight"); }, Errc::not_a_model,
                           {"missing tensor 'model.norm.weight'", dir.path().string()}));
}

TEST_F(WeightStoreTest, GlobsEveryModelFileWithoutIndex) {
  write("model-00001-of-00002.safetensors", {{"a", "F32", {1}, f32s({1})}});
  write("model-00002-of-00002.safetensors", {{"b", "F32", {1}, f32s({2})}});
  auto store = WeightStore::open(dir.path());
  EXPECT_EQ(store.file_of("b"), "model-00002-of-00002.safetensors");
  EXPECT_EQ(store.files().size(), 2u);
}

TEST_F(WeightStoreTest, TensorInTwoFilesIsRefused) {
  write("model-00001-of-00002.safetensors", {{"a", "F32", {1}, f32s({1})}});
  write("model-00002-of-00002.safetensors", {{"a", "F32", {1}, f32s({2})}});
  EXPECT_TRUE(throws_error([&] { WeightStore::open(dir.path()); }, Errc::not_a_model,
                           {"tensor 'a' is in both model-00001-of-00002.safetensors and model-00002-of-00002"}));
}

TEST_F(WeightStoreTest, NoWeightsIsRefused) {
  testing::write_file(dir.path() / "config.json", "{}");
  EXPECT_TRUE(throws_error([&] { WeightStore::open(dir.path()); }, Errc::not_a_model, {"no model*.safetensors"}));
  EXPECT_TRUE(throws_error([&] { WeightStore::open(dir.path() / "nope"); }, Errc::not_found, {"no such model folder"}));
}

TEST_F(WeightStoreTest, ShardedWithIndex) {
  write("model-00001-of-00002.safetensors",
        {{"model.layers.0.w", "F32", {2}, f32s({1, 2})}, {"model.embed_tokens.weight", "F32", {1}, f32s({0})}});
  write("model-00002-of-00002.safetensors", {{"model.layers.1.w", "F32", {3}, f32s({1, 2, 3})},
                                              {"model.layers.10.w", "F32", {1}, f32s({1})}});
  write("model-stale.safetensors", {{"model.layers.0.w", "F32", {1}, f32s({1})}});  // not in the index: unused
  write_index({{"model.layers.0.w", "model-00001-of-00002.safetensors"},
               {"model.embed_tokens.weight", "model-00001-of-00002.safetensors"},
               {"model.layers.1.w", "model-00002-of-00002.safetensors"},
               {"model.layers.10.w", "model-00002-of-00002.safetensors"}});
  auto store = WeightStore::open(dir.path());
  EXPECT_EQ(store.files().size(), 2u);
  EXPECT_EQ(store.bytes_for_prefix("model.layers.1."), 12u);
  EXPECT_EQ(store.bytes_for_prefix("model.layers.1"), 16u);
  EXPECT_EQ(store.total_bytes(), 28u);
  EXPECT_EQ(store.files_for_prefix("model.layers.1."), (std::vector<std::string>{"model-00002-of-00002.safetensors"}));
  const std::vector<std::string> names{"model.layers.1.w", "model.embed_tokens.weight", "model.layers.0.w"};
  EXPECT_EQ(store.files_for_tensors(names),
            (std::vector<std::string>{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}));
  const std::vector<std::string> missing{"model.layers.2.w"};
  EXPECT_TRUE(throws_error([&] { store.files_for_tensors(missing); }, Errc::not_a_model, {"missing tensor"}));
}

TEST_F(WeightStoreTest, MissingShardIsRefused) {
  write("model-00001-of-00002.safetensors", {{"a", "F32", {1}, f32s({1})}});
  write_index({{"a", "model-00001-of-00002.safetensors"}, {"b", "model-00002-of-00002.safetensors"}});
  EXPECT_TRUE(throws_error([&] { WeightStore::open(dir.path()); }, Errc::not_found,
                           {"shard model-00002-of-00002.safetensors is missing", dir.path().string()}));
}

TEST_F(WeightStoreTest, TensorMissingFromItsShardIsRefused) {
  write("model-00001-of-00002.safetensors", {{"a", "F32", {1}, f32s({1})}});
  write("model-00002-of-00002.safetensors", {{"b", "F32", {1}, f32s({1})}});
  write_index({{"a", "model-00001-of-00002.safetensors"}, {"b", "model-00001-of-00002.safetensors"}});
  EXPECT_TRUE(throws_error([&] { WeightStore::open(dir.path()); }, Errc::not_a_model,
                           {"tensor 'b' is not in model-00001-of-00002.safetensors"}));
}

TEST_F(WeightStoreTest, BadIndexIsRefused) {
  write("model.safetensors", {{"a", "F32", {1}, f32s({1})}});
  testing::write_file(dir.path() / "model.safetensors.index.json", "{\"weight_map\": [");
  EXPECT_TRUE(throws_error([&] { WeightStore::open(dir.path()); }, Errc::not_a_model,
                           {"model.safetensors.index.json", "not valid JSON"}));
  write_index({{"a", "../model.safetensors"}});
  EXPECT_TRUE(throws_error([&] { WeightStore::open(dir.path()); }, Errc::not_a_model, {"not a file name"}));
  write_index({{"a", 3}});
  EXPECT_TRUE(throws_error([&] { WeightStore::open(dir.path()); }, Errc::not_a_model, {"not a file name"}));
  write_index(nlohmann::json::object());
  EXPECT_TRUE(throws_error([&] { WeightStore::open(dir.path()); }, Errc::not_a_model, {"weight_map is empty"}));
}

TEST_F(WeightStoreTest, DanglingIndexLinkIsNotSilentlyIgnored) {
  write("model.safetensors", {{"a", "F32", {1}, f32s({1})}});
  fs::create_symlink(dir.path() / "gone.json", dir.path() / "model.safetensors.index.json");
  EXPECT_TRUE(throws_error([&] { WeightStore::open(dir.path()); }, Errc::io, {"model.safetensors.index.json"}));
}

TEST_F(WeightStoreTest, BadShardNamesTheShard) {
  testing::write_file(dir.path() / "model.safetensors", std::string("\x05\0\0\0\0\0\0\0{}", 10));
  EXPECT_TRUE(throws_error([&] { WeightStore::open(dir.path()); }, Errc::not_a_model,
                           {(dir.path() / "model.safetensors").string(), "header length 5"}));
}

TEST(WeightStoreMlx, OpensModelsSavedByMlxLm) {
  auto llama = WeightStore::open(testing::weights_data() / "tiny_llama_mixed");
  EXPECT_NE(llama.find("model.layers.1.mlp.down_proj.scales"), nullptr);
  EXPECT_NE(llama.find("lm_head.biases"), nullptr);
  auto qwen = WeightStore::open(testing::weights_data() / "tiny_qwen3_mxfp4");
  EXPECT_EQ(qwen.files().size(), 2u);
  EXPECT_NE(qwen.find("model.layers.1.self_attn.k_norm.weight"), nullptr);
  EXPECT_GT(qwen.bytes_for_prefix("model.layers.0."), 0u);
  EXPECT_EQ(qwen.bytes_for_prefix("model.layers.0.") + qwen.bytes_for_prefix("model.layers.1.") +
                qwen.bytes_for_prefix("model.embed_tokens.") + qwen.bytes_for_prefix("model.norm."),
            qwen.total_bytes());
}

}  // namespace
}  // namespace salut::weights
