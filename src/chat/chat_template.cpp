#include "chat/chat_template.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace salut::chat {

namespace {

using json = nlohmann::ordered_json;

[[noreturn]] void invalid(const std::string& message) { throw Error(Errc::invalid_argument, message); }

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(Errc::io, "cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

json read_json(const std::filesystem::path& path) {
  try {
    return json::parse(read_file(path));
  } catch (const json::exception& e) {
    invalid(path.string() + ": invalid JSON: " + e.what());
  }
}

// transformers' get_chat_template() wording, so users see the message they know.
const char* kNoTemplate =
    "Cannot use chat template functions because tokenizer.chat_template is not set and no template argument was "
    "passed! For information about writing templates and setting the tokenizer.chat_template attribute, please see "
    "the documentation at https://huggingface.co/docs/transformers/main/en/chat_templating";

// The messages as transformers hands them to the template: keys whose value is None dropped
// (_normalize_chat_messages), and the reasoning copied to `thinking` and `reasoning_content`
// (_alias_reasoning_fields).
jinja::Value prepare_messages(const json& messages) {
  if (!messages.is_array()) invalid("request \"messages\" must be an array");
  if (messages.empty()) invalid("Cannot apply chat template to an empty conversation. Provide at least one message.");
  std::vector<jinja::Value> out;
  for (const json& message : messages) {
    if (!message.is_object())
      invalid("Chat messages should be dicts, dataclasses or pydantic models, but got " + message.dump() + ".");
    // {"thinking": reasoning, **message, "reasoning_content": reasoning} in Python's dict order
    const json* reasoning = nullptr;
    for (const char* key : {"reasoning_content", "thinking", "reasoning"}) {
      auto it = message.find(key);
      if (it != message.end() && !it->is_null()) {
        reasoning = &*it;
        break;
      }
    }
    std::vector<std::pair<jinja::Value, jinja::Value>> entries;
    if (reasoning) {
      auto thinking = message.find("thinking");
      bool own = thinking != message.end() && !thinking->is_null();
      entries.emplace_back(jinja::Value("thinking"), jinja::from_json(own ? *thinking : *reasoning));
    }
    bool has_reasoning_content = false;
    for (const auto& [key, value] : message.items()) {
      if (value.is_null() || (reasoning && key == "thinking")) continue;
      has_reasoning_content = has_reasoning_content || key == "reasoning_content";
      entries.emplace_back(jinja::Value(key), jinja::from_json(value));
    }
    if (reasoning && !has_reasoning_content) entries.emplace_back(jinja::Value("reasoning_content"), jinja::from_json(*reasoning));
    out.push_back(jinja::Value::dict(std::move(entries)));
  }
  return jinja::Value::list(std::move(out));
}

}  // namespace

SpecialTokens special_tokens_from_config(const json& config) {
  SpecialTokens tokens;
  if (!config.is_object()) return tokens;
  for (const char* name : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}) {
    auto it = config.find(name);
    if (it == config.end()) continue;
    if (it->is_string()) {
      tokens.emplace_back(name, it->get<std::string>());
    } else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
      tokens.emplace_back(name, (*it)["content"].get<std::string>());
    }
  }
  return tokens;
}

void ChatTemplate::add(std::string name, const std::string& source) {
  templates_.push_back(Named{std::move(name), jinja::Template::parse(source), source});
}

ChatTemplate ChatTemplate::from_source(const std::string& source, SpecialTokens special_tokens) {
  ChatTemplate t;
  t.add("default", source);
  t.special_tokens_ = std::move(special_tokens);
  return t;
}

ChatTemplate ChatTemplate::from_tokenizer_config(const json& config) {
  ChatTemplate t;
  t.special_tokens_ = special_tokens_from_config(config);
  auto it = config.is_object() ? config.find("chat_template") : config.end();
  if (it == config.end() || it->is_null()) return t;
  if (it->is_string()) {
    t.add("default", it->get<std::string>());
  } else if (it->is_array()) {
    for (const json& entry : *it) {
      if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") || !entry["name"].is_string() ||
          !entry["template"].is_string())
        invalid("chat_template list entries must be {\"name\": ..., \"template\": ...}");
      t.add(entry["name"].get<std::string>(), entry["template"].get<std::string>());
    }
  } else {
    invalid("chat_template must be a string or a list of named templates");
  }
  return t;
}

ChatTemplate ChatTemplate::load(const std::filesystem::path& model_dir) {
  json config = json::object();
  if (std::filesystem::exists(model_dir / "tokenizer_config.json")) config = read_json(model_dir / "tokenizer_config.json");
  // Special tokens missing from the config may come from the older special_tokens_map.json.
  if (std::filesystem::exists(model_dir / "special_tokens_map.json")) {
    json map = read_json(model_dir / "special_tokens_map.json");
    if (map.is_object() && config.is_object())
      for (const auto& [k, v] : map.items())
        if (!config.contains(k) || config[k].is_null()) config[k] = v;
  }

  ChatTemplate t;
  t.special_tokens_ = special_tokens_from_config(config);
  if (std::filesystem::exists(model_dir / "chat_template.jinja")) {
    t.add("default", read_file(model_dir / "chat_template.jinja"));
    std::filesystem::path extra = model_dir / "additional_chat_templates";
    if (std::filesystem::is_directory(extra)) {
      std::vector<std::filesystem::path> files;
      for (const auto& entry : std::filesystem::directory_iterator(extra))
        if (entry.path().extension() == ".jinja") files.push_back(entry.path());
      std::sort(files.begin(), files.end());
      for (const auto& file : files) t.add(file.stem().string(), read_file(file));
    }
    return t;
  }
  if (std::filesystem::exists(model_dir / "chat_template.json")) {
    json legacy = read_json(model_dir / "chat_template.json");
    if (legacy.is_object() && legacy.contains("chat_template")) {
      ChatTemplate from_json = from_tokenizer_config(json{{"chat_template", legacy["chat_template"]}});
      from_json.special_tokens_ = std::move(t.special_tokens_);
      return from_json;
    }
  }
  ChatTemplate from_config = from_tokenizer_config(config);
  from_config.special_tokens_ = std::move(t.special_tokens_);
  return from_config;
}

// transformers' get_chat_template(): with several templates, `tool_use` when tools are given, else `default`.
const ChatTemplate::Named& ChatTemplate::pick(bool has_tools) const {
  if (templates_.empty()) invalid(kNoTemplate);
  auto find = [&](std::string_view name) -> const Named* {
    for (const Named& n : templates_)
      if (n.name == name) return &n;
    return nullptr;
  };
  if (templates_.size() == 1 && templates_[0].name == "default") return templates_[0];
  if (has_tools)
    if (const auto* t = find("tool_use")) return *t;
  if (const auto* t = find("default")) return *t;
  std::vector<std::string> names;
  for (const Named& n : templates_) names.push_back("'" + n.name + "'");
  std::sort(names.begin(), names.end());
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  invalid("This model has multiple chat templates with no default specified! Please either pass a chat template or "
          "the name of the template you wish to use to the `chat_template` argument. Available template names are [" +
          list + "].");
}

std::string_view ChatTemplate::source(bool has_tools) const {
  return templates_.empty() ? std::string_view() : std::string_view(pick(has_tools).source);
}

std::string ChatTemplate::render(const json& request, const jinja::RenderOptions& options) const {
  if (!request.is_object()) invalid("chat template request must be a JSON object");
  auto tools = request.find("tools");
  bool has_tools = tools != request.end() && !tools->is_null();
  const jinja::Template& tmpl = pick(has_tools).tmpl;
  auto messages = request.find("messages");
  if (messages == request.end()) invalid("request has no \"messages\"");
  if (has_tools && (!tools->is_array() || !std::all_of(tools->begin(), tools->end(), [](const json& t) { return t.is_object(); })))
    invalid("Tools should either be a JSON schema, or a callable function with type hints and a docstring suitable "
            "for auto-conversion to a schema.");
  auto documents = request.find("documents");
  if (documents != request.end() && !documents->is_null() &&
      (!documents->is_array() || !std::all_of(documents->begin(), documents->end(), [](const json& d) { return d.is_object(); })))
    invalid("Documents should be a list of dicts with 'title' and 'text' keys!");
  auto continue_final = request.find("continue_final_message");
  if (continue_final != request.end() && continue_final->is_boolean() && continue_final->get<bool>())
    invalid("continue_final_message is not supported");

  // The variables apply_chat_template passes: special tokens, then the request's other keys (which
  // override them), then messages, tools, documents and add_generation_prompt.
  std::vector<std::pair<std::string, jinja::Value>> variables;
  for (const auto& [name, text] : special_tokens_) variables.emplace_back(name, jinja::Value(text));
  auto set = [&](const std::string& name, jinja::Value value) {
    for (auto& [k, v] : variables)
      if (k == name) {
        v = std::move(value);
        return;
      }
    variables.emplace_back(name, std::move(value));
  };
  for (const auto& [key, value] : request.items()) {
    if (key == "messages" || key == "tools" || key == "documents" || key == "add_generation_prompt" ||
        key == "continue_final_message")
      continue;
    set(key, jinja::from_json(value));
  }
  set("messages", prepare_messages(*messages));
  set("tools", has_tools ? jinja::from_json(*tools) : jinja::Value(jinja::None{}));
  set("documents", documents != request.end() ? jinja::from_json(*documents) : jinja::Value(jinja::None{}));
  auto add_generation_prompt = request.find("add_generation_prompt");
  set("add_generation_prompt",
      add_generation_prompt != request.end() ? jinja::from_json(*add_generation_prompt) : jinja::Value(false));
  return tmpl.render(std::move(variables), options);
}

}  // namespace salut::chat
