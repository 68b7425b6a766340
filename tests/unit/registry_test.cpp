#include "store/registry.h"

#include <gtest/gtest.h>

#include "test_dirs.h"

namespace salut::store {
namespace {

using salut::testing::read_file;
using salut::testing::TempDir;
using salut::testing::write_file;

const std::string kCommit = "0123456789abcdef0123456789abcdef01234567";

void cache_model(const HfCache& cache, const std::string& text, bool with_weights = true) {
  ModelId id = ModelId::parse(text);
  write_file(cache.blob_path(id, "cfg"), R"({"model_type": "llama"})");
  cache.link_snapshot_file(id, kCommit, "config.json", "cfg");
  if (with_weights) {
    write_file(cache.blob_path(id, "w"), std::string(1000, 'w'));
    cache.link_snapshot_file(id, kCommit, "model.safetensors", "w");
  }
  cache.write_ref(id, "main", kCommit);
}

TEST(CustomModels, AddRemoveKeepCommentsAndReportBadLines) {
  TempDir dir;
  CustomModels custom(dir.path() / "salut/custom-models.txt");
  EXPECT_TRUE(custom.list().empty());
  EXPECT_TRUE(custom.add(ModelId::parse("me/private-finetune")));
  EXPECT_FALSE(custom.add(ModelId::parse("me/private-finetune")));
  write_file(custom.file(), read_file(custom.file()) + "\n# a comment\n  other/model@v2  \nnot an id\n../../etc/passwd\n");
  std::vector<CustomListProblem> problems;
  auto ids = custom.list(&problems);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0].str(), "me/private-finetune");
  EXPECT_EQ(ids[1].str(), "other/model@v2");
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].text, "not an id");
  EXPECT_EQ(problems[0].line, 6);

  EXPECT_TRUE(custom.remove(ModelId::parse("me/private-finetune")));
  EXPECT_FALSE(custom.remove(ModelId::parse("me/private-finetune")));
  std::string text = read_file(custom.file());
  EXPECT_NE(text.find("# a comment"), std::string::npos);
  EXPECT_NE(text.find("not an id"), std::string::npos) << "bad lines are the user's to fix, not ours to drop";
}

TEST(Registry, MergesCachedAndCustomModels) {
  TempDir dir;
  HfCache cache(dir.path() / "hub");
  CustomModels custom(dir.path() / "custom-models.txt");
  cache_model(cache, "mlx-community/Qwen3-8B-MLX-4bit");
  cache_model(cache, "mlx-community/SmolLM2-135M-Instruct");
  cache_model(cache, "someone/only-config", /*with_weights=*/false);  // not an MLX model: skipped
  custom.add(ModelId::parse("mlx-community/SmolLM2-135M-Instruct"));
  custom.add(ModelId::parse("me/not-yet-downloaded"));

  Registry registry(cache, custom);
  auto entries = registry.list();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].id, "me/not-yet-downloaded");
  EXPECT_TRUE(entries[0].custom);
  EXPECT_FALSE(entries[0].downloaded);
  EXPECT_FALSE(entries[0].detected);
  EXPECT_EQ(entries[1].id, "mlx-community/Qwen3-8B-MLX-4bit");
  EXPECT_EQ(entries[1].display_name, "Qwen 3 8B (4-bit)");
  EXPECT_TRUE(entries[1].downloaded);
  EXPECT_FALSE(entries[1].custom);
  EXPECT_EQ(entries[1].size_bytes, 1000u + 23u);
  EXPECT_EQ(entries[1].model_type, "llama");
  EXPECT_EQ(entries[2].id, "mlx-community/SmolLM2-135M-Instruct");
  EXPECT_TRUE(entries[2].custom && entries[2].detected && entries[2].downloaded);
  EXPECT_TRUE(registry.find(ModelId::parse("me/not-yet-downloaded")).has_value());
  EXPECT_FALSE(registry.find(ModelId::parse("me/unknown")).has_value());
}

TEST(Registry, ShardedModelIsIncompleteUntilEveryShardIsThere) {
  TempDir dir;
  HfCache cache(dir.path());
  ModelId id = ModelId::parse("o/big");
  cache_model(cache, "o/big");
  write_file(cache.blob_path(id, "idx"),
             R"({"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}})");
  cache.link_snapshot_file(id, kCommit, "model.safetensors.index.json", "idx");
  cache.link_snapshot_file(id, kCommit, "model-00001-of-00002.safetensors", "w");
  Registry registry(cache, CustomModels(dir.path() / "none.txt"));
  auto entries = registry.list();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_FALSE(entries[0].downloaded);
  cache.link_snapshot_file(id, kCommit, "model-00002-of-00002.safetensors", "w");
  EXPECT_TRUE(registry.list()[0].downloaded);
}

}  // namespace
}  // namespace salut::store
