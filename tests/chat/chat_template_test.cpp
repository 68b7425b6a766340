// ChatTemplate: where the template comes from (transformers' order), the variables it sees, and
// the request checks apply_chat_template makes.

#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "chat/chat_template.h"
#include "chat/jinja/error.h"

namespace salut::chat {
namespace {

using json = nlohmann::ordered_json;

class ModelDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("salut_chat_test_" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::filesystem::create_directories((dir_ / name).parent_path());
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  std::string render(const json& request) { return ChatTemplate::load(dir_).render(request); }
  std::filesystem::path dir_;
};

const json kHello = {{"messages", {{{"role", "user"}, {"content", "hi"}}}}};

TEST_F(ModelDir, JinjaFileWinsOverJsonAndConfig) {
  write("tokenizer_config.json", R"({"chat_template": "config", "bos_token": "<s>"})");
  write("chat_template.json", R"({"chat_template": "json"})");
  write("chat_template.jinja", "jinja {{ bos_token }}\n");
  EXPECT_EQ(render(kHello), "jinja <s>");  // the file's trailing newline goes, as in jinja2
}

TEST_F(ModelDir, JsonFileWinsOverConfig) {
  write("tokenizer_config.json", R"({"chat_template": "config"})");
  write("chat_template.json", R"({"chat_template": "json {{ messages[0].content }}"})");
  EXPECT_EQ(render(kHello), "json hi");
}

TEST_F(ModelDir, ConfigTemplateAndSpecialTokenObjects) {
  write("tokenizer_config.json", R"({"chat_template": "{{ bos_token }}|{{ eos_token }}|{{ unk_token is defined }}|{{ pad_token }}",
      "bos_token": {"__type": "AddedToken", "content": "<｜begin｜>", "lstrip": false},
      "eos_token": "</s>", "unk_token": null})");
  write("special_tokens_map.json", R"({"pad_token": "<pad>", "eos_token": "ignored"})");
  EXPECT_EQ(render(kHello), "<｜begin｜>|</s>|False|<pad>");
}

TEST_F(ModelDir, NamedTemplatesPickToolUseWhenToolsAreGiven) {
  write("tokenizer_config.json", R"({"chat_template": [{"name": "default", "template": "plain"},
                                                        {"name": "tool_use", "template": "tools: {{ tools|length }}"}]})");
  EXPECT_EQ(render(kHello), "plain");
  json with_tools = kHello;
  with_tools["tools"] = json::array({{{"type", "function"}, {"function", {{"name", "f"}}}}});
  EXPECT_EQ(render(with_tools), "tools: 1");
  with_tools["tools"] = nullptr;  // transformers: tools=None is no tools
  EXPECT_EQ(render(with_tools), "plain");
}

TEST_F(ModelDir, AdditionalTemplatesBesideTheJinjaFile) {
  write("chat_template.jinja", "default");
  write("additional_chat_templates/tool_use.jinja", "tool use");
  json with_tools = kHello;
  with_tools["tools"] = json::array();
  EXPECT_EQ(render(kHello), "default");
  EXPECT_EQ(render(with_tools), "tool use");
}

TEST_F(ModelDir, NoTemplateFailsWithTransformersMessage) {
  write("tokenizer_config.json", R"({"bos_token": "<s>"})");
  ChatTemplate t = ChatTemplate::load(dir_);
  EXPECT_FALSE(t.has_template());
  try {
    t.render(kHello);
    FAIL() << "rendered without a template";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    EXPECT_TRUE(std::string(e.what()).starts_with("Cannot use chat template functions because tokenizer.chat_template is not set"));
  }
}

TEST_F(ModelDir, BadTemplateFailsAtLoad) {
  write("chat_template.jinja", "{% if %}");
  EXPECT_THROW(ChatTemplate::load(dir_), Error);
}

TEST(ChatTemplate, DefaultsAndKeywordArguments) {
  auto t = ChatTemplate::from_source(
      "{{ add_generation_prompt }} {{ tools }} {{ documents }} {{ enable_thinking }} {{ bos_token }}", {{"bos_token", "<s>"}});
  EXPECT_EQ(t.render(kHello), "False None None  <s>");
  json request = kHello;
  request["enable_thinking"] = false;
  request["bos_token"] = "override";  // keyword arguments win over special tokens, as in transformers
  request["add_generation_prompt"] = true;
  EXPECT_EQ(t.render(request), "True None None False override");
}

TEST(ChatTemplate, MessagesAreNormalizedLikeTransformers) {
  auto t = ChatTemplate::from_source("{% for m in messages %}{{ m|tojson }}\n{% endfor %}");
  json request = json::parse(R"({"messages": [
      {"role": "assistant", "content": null, "tool_calls": [{"id": "x"}]},
      {"role": "assistant", "content": "a", "reasoning": "why"},
      {"role": "assistant", "reasoning_content": "r", "content": "b", "thinking": "t"}]})");
  EXPECT_EQ(t.render(request),
            "{\"role\": \"assistant\", \"tool_calls\": [{\"id\": \"x\"}]}\n"
            "{\"thinking\": \"why\", \"role\": \"assistant\", \"content\": \"a\", \"reasoning\": \"why\", \"reasoning_content\": \"why\"}\n"
            "{\"thinking\": \"t\", \"role\": \"assistant\", \"reasoning_content\": \"r\", \"content\": \"b\"}\n");
}

TEST(ChatTemplate, RequestChecks) {
  auto t = ChatTemplate::from_source("x");
  EXPECT_THROW(t.render(json::parse(R"({"messages": []})")), Error);
  EXPECT_THROW(t.render(json::parse(R"({"messages": ["not a dict"]})")), Error);
  EXPECT_THROW(t.render(json::parse(R"({})")), Error);
  EXPECT_THROW(t.render(json::parse(R"({"messages": [{"role": "user"}], "tools": ["not a dict"]})")), Error);
  EXPECT_THROW(t.render(json::parse("[]")), Error);
}

TEST(ChatTemplate, RaiseExceptionGivesTheTemplatesMessage) {
  auto t = ChatTemplate::from_source("{{ raise_exception('Only user and assistant roles are supported!') }}");
  try {
    t.render(kHello);
    FAIL();
  } catch (const jinja::RaisedError& e) {
    EXPECT_STREQ(e.what(), "Only user and assistant roles are supported!");
    EXPECT_EQ(e.code(), Errc::invalid_argument);
  }
}

}  // namespace
}  // namespace salut::chat
