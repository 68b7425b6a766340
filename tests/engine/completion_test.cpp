// Completions (engine/completion.h): stop strings are matched on the text across token
// boundaries, never shown, and held back only while they might still match.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "chat/chat_template.h"
#include "engine/completion.h"
#include "engine/generator.h"
#include "model/transformer.h"
#include "test_models.h"
#include "tokenizer/tokenizer.h"

namespace salut::engine {
namespace {

TEST(Completion, PartialStopLength) {
  const std::vector<std::string> stops = {"</s>", "STOP"};
  EXPECT_EQ(partial_stop_length("hello", stops), 0u);
  EXPECT_EQ(partial_stop_length("hello <", stops), 1u);
  EXPECT_EQ(partial_stop_length("hello </", stops), 2u);
  EXPECT_EQ(partial_stop_length("hello </s", stops), 3u);
  EXPECT_EQ(partial_stop_length("ST", stops), 2u);
  EXPECT_EQ(partial_stop_length("", stops), 0u);
  EXPECT_EQ(partial_stop_length("abc", {}), 0u);
}

class CompletionOnSmolLM2 : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = testing::models_dir() / "SmolLM2-135M-Instruct-4bit";
    if (!std::filesystem::exists(folder_ / "config.json")) GTEST_SKIP() << "no demo model";
    backend_ = backend::make_cpu_backend();
    model_ = std::make_unique<model::Transformer>(folder_, *backend_);
    tokenizer_ = std::make_unique<tokenizer::Tokenizer>(tokenizer::Tokenizer::from_dir(folder_));
    generator_ = std::make_unique<Generator>(*model_, *backend_, 512);
    nlohmann::ordered_json request = {{"messages", {{{"role", "user"}, {"content", "What is the capital of France?"}}}},
                                      {"add_generation_prompt", true}};
    prompt_ = tokenizer_->encode(chat::ChatTemplate::load(folder_).render(request), false);
    for (int64_t id : model_->config().eos_token_ids) eos_.push_back(int32_t(id));
  }

  CompletionResult run(std::vector<std::string> stops, std::string* streamed = nullptr) {
    CompletionRequest r;
    r.prompt = prompt_;
    r.sampling.temperature = 0;
    r.max_tokens = 40;
    r.stop = std::move(stops);
    return complete(*generator_, *tokenizer_, eos_, r, [&](std::string_view text, auto) {
      if (streamed) streamed->append(text);
      return true;
    });
  }

  std::filesystem::path folder_;
  std::unique_ptr<backend::Backend> backend_;
  std::unique_ptr<model::Transformer> model_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  std::unique_ptr<Generator> generator_;
  std::vector<int32_t> prompt_, eos_;
};

TEST_F(CompletionOnSmolLM2, StopStringsCutTheTextAndAreNeverShown) {
  const CompletionResult whole = run({});
  ASSERT_EQ(whole.text, "The capital of France is Paris.");
  EXPECT_EQ(whole.finish, FinishReason::stop);
  // every cut point, including stops that straddle token boundaries ("al of" spans two tokens)
  for (const std::string stop : {"Paris", "al of", "e", ".", "is P", "France is Paris."}) {
    std::string streamed;
    const CompletionResult cut = run({stop, "never appears"}, &streamed);
    EXPECT_EQ(cut.text, whole.text.substr(0, whole.text.find(stop))) << stop;
    EXPECT_EQ(streamed, cut.text) << stop;
    EXPECT_EQ(cut.finish, FinishReason::stop) << stop;
  }
  // a stop that never matches changes nothing, even when its prefix shows up
  EXPECT_EQ(run({"Paris!"}).text, whole.text);
}

TEST_F(CompletionOnSmolLM2, ACallerThatGoesAwayStopsTheGeneration) {
  CompletionRequest r;
  r.prompt = prompt_;
  r.sampling.temperature = 0;
  int calls = 0;
  const CompletionResult result = complete(*generator_, *tokenizer_, eos_, r, [&](std::string_view text, auto) {
    return text.empty() || ++calls < 2;
  });
  EXPECT_EQ(result.finish, FinishReason::cancelled);
  EXPECT_LE(result.completion_tokens, 3);
}

}  // namespace
}  // namespace salut::engine
