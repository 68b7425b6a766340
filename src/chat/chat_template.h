#pragma once
// A model's chat template: turns an OpenAI-style request ({"messages": [...], "tools"?: [...],
// "add_generation_prompt"?: bool, other keyword arguments}) into the prompt text, exactly as
// Hugging Face transformers' tokenizer.apply_chat_template(..., tokenize=False) does.

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/jinja/template.h"

namespace salut::chat {

// Named special tokens the template sees as variables: bos_token, eos_token, unk_token, sep_token,
// pad_token, cls_token, mask_token (those that are set).
using SpecialTokens = std::vector<std::pair<std::string, std::string>>;

// From tokenizer_config.json (values are strings or {"content": ...} objects).
SpecialTokens special_tokens_from_config(const nlohmann::ordered_json& tokenizer_config);

class ChatTemplate {
 public:
  // Reads the model folder, taking the template from the first of: chat_template.jinja (plus
  // additional_chat_templates/*.jinja), chat_template.json, tokenizer_config.json's "chat_template".
  // A model without any template loads; render() then fails with transformers' message.
  static ChatTemplate load(const std::filesystem::path& model_dir);
  static ChatTemplate from_source(const std::string& source, SpecialTokens special_tokens = {});
  // From a parsed tokenizer_config.json: its chat_template (a string or a list of {name, template}).
  static ChatTemplate from_tokenizer_config(const nlohmann::ordered_json& tokenizer_config);

  bool has_template() const { return !templates_.empty(); }
  const SpecialTokens& special_tokens() const { return special_tokens_; }

  // Throws salut::Error (invalid_argument) for a bad request or a template error; a template's
  // raise_exception(msg) gives exactly msg.
  std::string render(const nlohmann::ordered_json& request, const jinja::RenderOptions& options = {}) const;

  // The text of the template render() uses (a tool-call parser reads the model's syntax from it);
  // empty without a template.
  std::string_view source(bool has_tools) const;

 private:
  struct Named {
    std::string name;  // "default", "tool_use", ...
    jinja::Template tmpl;
    std::string source;
  };
  void add(std::string name, const std::string& source);
  const Named& pick(bool has_tools) const;

  std::vector<Named> templates_;
  SpecialTokens special_tokens_;
};

}  // namespace salut::chat
