#include "store/hf_cache.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "test_dirs.h"

namespace salut::store {
namespace {

using salut::testing::read_file;
using salut::testing::TempDir;
using salut::testing::write_file;

const std::string kCommit = "0123456789abcdef0123456789abcdef01234567";

TEST(HfCache, RootFollowsHuggingFaceHubPrecedence) {
  setenv("HF_HUB_CACHE", "/x/hub-cache", 1);
  setenv("HF_HOME", "/y/hf-home", 1);
  EXPECT_EQ(HfCache::default_root(), "/x/hub-cache");
  unsetenv("HF_HUB_CACHE");
  EXPECT_EQ(HfCache::default_root(), "/y/hf-home/hub");
  unsetenv("HF_HOME");
  setenv("XDG_CACHE_HOME", "/z/cache", 1);
  EXPECT_EQ(HfCache::default_root(), "/z/cache/huggingface/hub");
  unsetenv("XDG_CACHE_HOME");
  setenv("HOME", "/home/someone", 1);
  EXPECT_EQ(HfCache::default_root(), "/home/someone/.cache/huggingface/hub");
}

TEST(HfCache, LayoutMatchesHuggingFaceHub) {
  TempDir dir;
  HfCache cache(dir.path());
  ModelId id = ModelId::parse("mlx-community/Qwen3-8B-MLX-4bit");
  EXPECT_EQ(cache.repo_dir(id), dir.path() / "models--mlx-community--Qwen3-8B-MLX-4bit");
  EXPECT_EQ(cache.lock_path(id, "abc"), dir.path() / ".locks/models--mlx-community--Qwen3-8B-MLX-4bit/abc.lock");

  write_file(cache.blob_path(id, "etag1"), "{}");
  cache.link_snapshot_file(id, kCommit, "config.json", "etag1");
  cache.link_snapshot_file(id, kCommit, "sub/dir/file.json", "etag1");
  auto snapshot = cache.snapshot_dir(id, kCommit);
  EXPECT_EQ(std::filesystem::read_symlink(snapshot / "config.json"), "../../blobs/etag1");
  EXPECT_EQ(std::filesystem::read_symlink(snapshot / "sub/dir/file.json"), "../../../../blobs/etag1");
  EXPECT_EQ(read_file(snapshot / "sub/dir/file.json"), "{}");

  cache.write_ref(id, "main", kCommit);
  EXPECT_EQ(read_file(cache.repo_dir(id) / "refs/main"), kCommit) << "no trailing newline";
  EXPECT_EQ(cache.resolve_commit(id), kCommit);
  EXPECT_EQ(cache.snapshot_path(id), snapshot);
  EXPECT_EQ(cache.resolve_commit(ModelId::parse("mlx-community/Qwen3-8B-MLX-4bit@" + kCommit)), kCommit);
  EXPECT_FALSE(cache.resolve_commit(ModelId::parse("mlx-community/Qwen3-8B-MLX-4bit@v2")));
}

TEST(HfCache, ListsRefsAndUnreferencedSnapshots) {
  TempDir dir;
  HfCache cache(dir.path());
  ModelId id = ModelId::parse("o/n");
  const std::string other = std::string(40, 'f');
  write_file(cache.blob_path(id, "e"), "x");
  cache.link_snapshot_file(id, kCommit, "config.json", "e");
  cache.link_snapshot_file(id, other, "config.json", "e");
  cache.write_ref(id, "main", kCommit);
  std::filesystem::create_directories(dir.path() / "models--not-a-model");  // ignored
  auto snapshots = cache.list_snapshots();
  ASSERT_EQ(snapshots.size(), 2u);
  EXPECT_EQ(snapshots[0].id.str(), "o/n");
  EXPECT_EQ(snapshots[0].commit, kCommit);
  EXPECT_EQ(snapshots[1].id.str(), "o/n@" + other);
}

TEST(HfCache, RemovesARevisionButKeepsSharedBlobs) {
  TempDir dir;
  HfCache cache(dir.path());
  ModelId id = ModelId::parse("o/n");
  const std::string v2 = std::string(40, 'e');
  write_file(cache.blob_path(id, "shared"), "s");
  write_file(cache.blob_path(id, "only-v2"), "22");
  cache.link_snapshot_file(id, kCommit, "config.json", "shared");
  cache.link_snapshot_file(id, v2, "config.json", "shared");
  cache.link_snapshot_file(id, v2, "model.safetensors", "only-v2");
  cache.write_ref(id, "main", kCommit);
  cache.write_ref(id, "v2", v2);

  uint64_t freed = 0;
  EXPECT_TRUE(cache.remove_revision(ModelId::parse("o/n@v2"), &freed));
  EXPECT_EQ(freed, 2u);
  EXPECT_TRUE(std::filesystem::exists(cache.blob_path(id, "shared")));
  EXPECT_FALSE(std::filesystem::exists(cache.blob_path(id, "only-v2")));
  EXPECT_FALSE(std::filesystem::exists(cache.repo_dir(id) / "refs/v2"));
  EXPECT_TRUE(cache.remove_revision(id, &freed));
  EXPECT_FALSE(std::filesystem::exists(cache.repo_dir(id)));
  EXPECT_FALSE(cache.remove_repo(id));
}

}  // namespace
}  // namespace salut::store
