// The chat cases of the real tokenizer fixtures (tests/data/tokenizers/*/goldens.json.gz, made by
// transformers' apply_chat_template): each prompt byte for byte, each error with its message.

#include <gtest/gtest.h>

#include "chat/chat_template.h"
#include "core/error.h"
#include "test_data.h"

namespace salut::chat {
namespace {

using json = nlohmann::ordered_json;

// Python's repr of a str, for the simple messages transformers raises ("ValueError('...')").
std::string python_repr(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos, has_double = s.find('"') != std::string::npos;
  char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (char c : s) {
    if (c == quote || c == '\\') out += '\\';
    out += c;
  }
  return out + quote;
}

class TokenizerGoldens : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerGoldens, ChatCasesMatchTransformers) {
  auto dir = testing::data_dir() / "tokenizers" / GetParam();
  json goldens = testing::read_json_gz(dir / "goldens.json.gz");
  ChatTemplate tmpl = ChatTemplate::from_tokenizer_config(testing::read_json_gz(dir / "tokenizer_config.json.gz"));
  int cases = 0;
  for (const json& c : goldens["chat"]) {
    ++cases;
    std::string prompt, error;
    try {
      prompt = tmpl.render(c["request"]);
    } catch (const salut::Error& e) {
      error = e.what();
    }
    if (c.contains("prompt")) {
      EXPECT_EQ(error, "") << c["request"].dump();
      EXPECT_EQ(prompt, c["prompt"].get<std::string>()) << c["request"].dump();
    } else {
      // transformers reports e.g. ValueError('message'): the message must be the same text.
      const std::string& golden = c["error"].get_ref<const std::string&>();
      ASSERT_FALSE(error.empty()) << "expected " << golden << " for " << c["request"].dump();
      std::string type = golden.substr(0, golden.find('('));
      EXPECT_EQ(type + "(" + python_repr(error) + ")", golden);
    }
  }
  EXPECT_GT(cases, 0);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TokenizerGoldens, ::testing::Values("qwen3", "llama3_1", "llama2", "deepseek_v3"));

}  // namespace
}  // namespace salut::chat
