#include "store/model_id.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <string>

#include "core/error.h"

namespace salut::store {
namespace {

TEST(ModelId, ParsesOwnerNameAndRevision) {
  ModelId id = ModelId::parse("mlx-community/Qwen3-8B-MLX-4bit@v1.0");
  EXPECT_EQ(id.owner, "mlx-community");
  EXPECT_EQ(id.name, "Qwen3-8B-MLX-4bit");
  EXPECT_EQ(id.revision, "v1.0");
  EXPECT_EQ(id.repo(), "mlx-community/Qwen3-8B-MLX-4bit");
  EXPECT_EQ(id.str(), "mlx-community/Qwen3-8B-MLX-4bit@v1.0");
  EXPECT_EQ(ModelId::parse("a/b").revision_or_main(), "main");
}

TEST(ModelId, AcceptsTheFullCharacterSetAndLength) {
  std::string longest(kMaxIdPartLength, 'a');
  EXPECT_NO_THROW(ModelId::parse(longest + "/" + longest + "@" + longest));
  EXPECT_NO_THROW(ModelId::parse("A0._-/b.c_d-e@0123456789abcdef0123456789abcdef01234567"));
}

class BadModelId : public ::testing::TestWithParam<std::string> {};

TEST_P(BadModelId, IsRefusedWithAReason) {
  const std::string& text = GetParam();
  EXPECT_TRUE(model_id_error(text).has_value()) << text;
  try {
    ModelId::parse(text);
    FAIL() << "accepted " << text;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    std::string message = e.what();
    EXPECT_NE(message.find("invalid model ID"), std::string::npos);
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line";
    EXPECT_EQ(message.find('\0'), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, BadModelId,
    ::testing::Values("", "/", "a/", "/b", "a", "../../etc/passwd", "a/b/c", "a//b", "a/..", "../b", "a/b..c",
                      "a/.hidden", "a/-b", "a b/c", "a/b c", "a/b\tc", std::string("a/b\0c", 5),
                      std::string("a\0/b", 4), "a/b\n", "a/b@", "a/b@x@y", "a/b@..", "a/b@../x", "a/b@x/y",
                      std::string(1000, 'a'), "a/" + std::string(97, 'b'), std::string(97, 'a') + "/b",
                      "a/b@" + std::string(97, 'c'), "ä/b", "a/b;rm -rf", "a/b%2F..", "~/x", "a\\b/c", "a--b/c", "a/b--c"));

TEST(ModelRef, PathsMustSayTheyArePaths) {
  EXPECT_TRUE(parse_model_ref("/srv/models/x").is_local());
  EXPECT_TRUE(parse_model_ref("./x").is_local());
  EXPECT_TRUE(parse_model_ref("../x").is_local());
  EXPECT_FALSE(parse_model_ref("owner/name").is_local());
  // A relative owner/name that is a model folder here is that folder (as mlx-lm resolves it).
  const auto dir = std::filesystem::temp_directory_path() / "salut-model-ref-test";
  std::filesystem::create_directories(dir / "owner" / "model");
  std::ofstream(dir / "owner" / "model" / "config.json") << "{}";
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir);
  EXPECT_TRUE(parse_model_ref("owner/model").is_local());
  EXPECT_FALSE(parse_model_ref("owner/model", /*allow_local=*/false).is_local());
  EXPECT_FALSE(parse_model_ref("owner/other").is_local());
  std::filesystem::current_path(cwd);
  std::filesystem::remove_all(dir);
  EXPECT_EQ(parse_model_ref("./a/../b").path(), std::filesystem::path("b"));
  // Where local folders are not accepted (pull, rm), a path is a bad ID.
  EXPECT_THROW(parse_model_ref("../../etc/passwd", /*allow_local=*/false), Error);
}

}  // namespace
}  // namespace salut::store
