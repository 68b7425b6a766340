#include "server/requests.h"

#include <fmt/format.h>

#include <cmath>

namespace salut::server {

using nlohmann::json;
using nlohmann::ordered_json;

json parse_body(const std::string& body) {
  bool too_deep = false;
  json parsed = json::parse(
      body,
      [&](int depth, json::parse_event_t, json&) {
        if (depth > kMaxJsonDepth) too_deep = true;
        return !too_deep;
      },
      /*allow_exceptions=*/false);
  if (too_deep) throw ApiError(400, fmt::format("The request body nests deeper than {} levels", kMaxJsonDepth));
  if (parsed.is_discarded()) throw ApiError(400, "The request body is not valid JSON");
  if (!parsed.is_object()) throw ApiError(400, "The request body must be a JSON object");
  return parsed;
}

namespace {

const char* type_name(const json& v) { return v.type_name(); }

// Field readers: absent or null → the default; a wrong type or range → 400 naming the field.
std::optional<double> number(const json& body, const char* key, double lo, double hi) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number())
    throw ApiError(400, fmt::format("'{}' must be a number, not {}", key, type_name(*it)), key, "invalid_type");
  const double v = it->get<double>();
  if (!(v >= lo && v <= hi))
    throw ApiError(400, fmt::format("'{}' must be between {} and {}, got {}", key, lo, hi, v), key, "invalid_value");
  return v;
}

std::optional<int64_t> integer(const json& body, const char* key, int64_t lo, int64_t hi) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer() && !(it->is_number_float() && std::floor(it->get<double>()) == it->get<double>()))
    throw ApiError(400, fmt::format("'{}' must be an integer, not {}", key, type_name(*it)), key, "invalid_type");
  const double v = it->get<double>();
  if (!(v >= double(lo) && v <= double(hi)))
    throw ApiError(400, fmt::format("'{}' must be between {} and {}, got {}", key, lo, hi, v), key, "invalid_value");
  return int64_t(v);
}

std::optional<bool> boolean(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean())
    throw ApiError(400, fmt::format("'{}' must be a boolean, not {}", key, type_name(*it)), key, "invalid_type");
  return it->get<bool>();
}

void read_generation(const json& body, GenerationRequest& r) {
  auto model = body.find("model");
  if (model == body.end() || !model->is_string() || model->get<std::string>().empty())
    throw ApiError(400, "'model' is required: the ID or folder of the model to use", "model", "missing_required_parameter");
  r.model = model->get<std::string>();

  engine::SamplingParams& s = r.sampling;
  s.temperature = float(number(body, "temperature", 0, 2).value_or(1.0));
  s.top_p = float(number(body, "top_p", 0, 1).value_or(1.0));
  if (s.top_p <= 0) throw ApiError(400, "'top_p' must be greater than 0", "top_p", "invalid_value");
  s.top_k = int(integer(body, "top_k", 0, 1 << 30).value_or(0));
  s.min_p = float(number(body, "min_p", 0, 1).value_or(0));
  s.repetition_penalty = float(number(body, "repetition_penalty", 0, 100).value_or(1.0));
  if (s.repetition_penalty <= 0)
    throw ApiError(400, "'repetition_penalty' must be greater than 0", "repetition_penalty", "invalid_value");
  s.presence_penalty = float(number(body, "presence_penalty", -2, 2).value_or(0));
  s.frequency_penalty = float(number(body, "frequency_penalty", -2, 2).value_or(0));
  if (auto seed = integer(body, "seed", INT64_MIN, INT64_MAX)) s.seed = uint64_t(*seed);
  if (auto it = body.find("logit_bias"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) throw ApiError(400, "'logit_bias' must map token IDs to biases", "logit_bias", "invalid_type");
    for (const auto& [key, value] : it->items()) {
      int32_t id = -1;
      try {
        size_t used = 0;
        const long parsed = std::stol(key, &used);
        if (used == key.size() && parsed >= 0 && parsed <= INT32_MAX) id = int32_t(parsed);
      } catch (...) {
      }
      if (id < 0) throw ApiError(400, fmt::format("'logit_bias' key '{}' is not a token ID", key), "logit_bias", "invalid_value");
      if (!value.is_number() || value.get<double>() < -100 || value.get<double>() > 100)
        throw ApiError(400, "'logit_bias' values must be numbers between -100 and 100", "logit_bias", "invalid_value");
      s.logit_bias[id] = value.get<float>();
    }
  }

  auto max_tokens = integer(body, "max_completion_tokens", 1, INT32_MAX);
  if (!max_tokens) max_tokens = integer(body, "max_tokens", 1, INT32_MAX);
  r.max_tokens = max_tokens.value_or(0);

  if (auto it = body.find("stop"); it != body.end() && !it->is_null()) {
    if (it->is_string()) {
      r.stop.push_back(it->get<std::string>());
    } else if (it->is_array() && it->size() <= 4) {
      for (const auto& s : *it) {
        if (!s.is_string()) throw ApiError(400, "'stop' must be a string or an array of strings", "stop", "invalid_type");
        r.stop.push_back(s.get<std::string>());
      }
    } else {
      throw ApiError(400, "'stop' must be a string or an array of up to 4 strings", "stop", "invalid_value");
    }
    for (const auto& s : r.stop)
      if (s.empty()) throw ApiError(400, "'stop' strings must not be empty", "stop", "invalid_value");
  }

  r.stream = boolean(body, "stream").value_or(false);
  if (auto it = body.find("stream_options"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) throw ApiError(400, "'stream_options' must be an object", "stream_options", "invalid_type");
    if (!r.stream) throw ApiError(400, "'stream_options' is only allowed when 'stream' is true", "stream_options");
    r.include_usage = boolean(*it, "include_usage").value_or(false);
  }
  if (auto n = integer(body, "n", 1, 128); n && *n != 1)
    throw ApiError(400, "Only n = 1 is supported", "n", "unsupported_value");
}

std::string text_of_content(const json& content, const std::string& where) {
  if (content.is_null()) return "";
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array())
    throw ApiError(400, fmt::format("'{}.content' must be a string or an array of parts", where), "messages", "invalid_type");
  std::string text;
  for (const auto& part : content) {
    if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
      throw ApiError(400, fmt::format("'{}.content' parts must be {{\"type\": \"text\", \"text\": ...}} (this model reads text only)", where),
                     "messages", "invalid_value");
    text += part["text"].get<std::string>();
  }
  return text;
}

}  // namespace

ChatRequest parse_chat_request(const json& body) {
  ChatRequest r;
  read_generation(body, r);

  auto messages = body.find("messages");
  if (messages == body.end() || !messages->is_array() || messages->empty())
    throw ApiError(400, "'messages' must be a non-empty array", "messages", "missing_required_parameter");
  ordered_json list = ordered_json::array();
  for (size_t i = 0; i < messages->size(); ++i) {
    const json& m = (*messages)[i];
    const std::string where = fmt::format("messages[{}]", i);
    if (!m.is_object()) throw ApiError(400, fmt::format("'{}' must be an object", where), "messages", "invalid_type");
    const std::string role = m.contains("role") && m["role"].is_string() ? m["role"].get<std::string>() : "";
    if (role != "system" && role != "developer" && role != "user" && role != "assistant" && role != "tool")
      throw ApiError(400, fmt::format("'{}.role' must be system, user, assistant or tool", where), "messages", "invalid_value");
    ordered_json out = {{"role", role == "developer" ? "system" : role}};
    out["content"] = text_of_content(m.value("content", json()), where);
    if (role == "assistant" && m.contains("tool_calls") && !m["tool_calls"].is_null()) {
      if (!m["tool_calls"].is_array())
        throw ApiError(400, fmt::format("'{}.tool_calls' must be an array", where), "messages", "invalid_type");
      ordered_json calls = ordered_json::array();
      for (const auto& call : m["tool_calls"]) {
        if (!call.is_object() || !call.contains("function") || !call["function"].is_object() ||
            !call["function"].contains("name") || !call["function"]["name"].is_string())
          throw ApiError(400, fmt::format("'{}.tool_calls' entries need function.name", where), "messages", "invalid_value");
        ordered_json function = {{"name", call["function"]["name"]}};
        // Templates render arguments as a mapping (as transformers passes them): parse the string.
        const json& args = call["function"].value("arguments", json("{}"));
        if (args.is_string()) {
          auto parsed = ordered_json::parse(args.get<std::string>(), nullptr, false);
          function["arguments"] = parsed.is_discarded() ? ordered_json(args) : parsed;
        } else {
          function["arguments"] = args;
        }
        calls.push_back({{"id", call.value("id", "")}, {"type", "function"}, {"function", function}});
      }
      out["tool_calls"] = calls;
    }
    if (role == "tool") {
      if (m.contains("tool_call_id") && m["tool_call_id"].is_string()) out["tool_call_id"] = m["tool_call_id"];
      if (m.contains("name") && m["name"].is_string()) out["name"] = m["name"];
    }
    list.push_back(out);
  }
  r.template_input = {{"messages", list}, {"add_generation_prompt", true}};

  if (auto it = body.find("tools"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) throw ApiError(400, "'tools' must be an array", "tools", "invalid_type");
    for (const auto& tool : *it)
      if (!tool.is_object() || tool.value("type", "") != "function" || !tool.contains("function") ||
          !tool["function"].is_object() || !tool["function"].contains("name") || !tool["function"]["name"].is_string())
        throw ApiError(400, "'tools' entries must be {\"type\": \"function\", \"function\": {\"name\", ...}}", "tools",
                       "invalid_value");
    if (!it->empty()) {
      r.template_input["tools"] = ordered_json::parse(it->dump());
      r.has_tools = true;
    }
  }
  if (auto it = body.find("tool_choice"); it != body.end() && !it->is_null()) {
    if (it->is_string()) {
      r.tool_choice = it->get<std::string>();
      if (r.tool_choice != "auto" && r.tool_choice != "none" && r.tool_choice != "required")
        throw ApiError(400, "'tool_choice' must be auto, none, required or a named function", "tool_choice", "invalid_value");
    } else if (it->is_object() && it->contains("function") && (*it)["function"].is_object() &&
               (*it)["function"].contains("name") && (*it)["function"]["name"].is_string()) {
      r.tool_choice = (*it)["function"]["name"].get<std::string>();
    } else {
      throw ApiError(400, "'tool_choice' must be auto, none, required or {\"type\": \"function\", \"function\": {\"name\"}}",
                     "tool_choice", "invalid_value");
    }
    if (r.tool_choice == "none") {
      r.template_input.erase("tools");
      r.has_tools = false;
    }
  }

  if (auto it = body.find("response_format"); it != body.end() && !it->is_null()) {
    const std::string type = it->is_object() ? it->value("type", "") : "";
    if (type != "text" && type != "json_object" && type != "json_schema")
      throw ApiError(400, "'response_format.type' must be text, json_object or json_schema", "response_format", "invalid_value");
    if (type == "json_schema" && (!it->contains("json_schema") || !(*it)["json_schema"].is_object() ||
                                  !(*it)["json_schema"].contains("schema")))
      throw ApiError(400, "'response_format.json_schema.schema' is required", "response_format", "invalid_value");
    if (type != "text") r.response_format = *it;
  }

  if (auto it = body.find("chat_template_kwargs"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) throw ApiError(400, "'chat_template_kwargs' must be an object", "chat_template_kwargs", "invalid_type");
    for (const auto& [key, value] : it->items())
      if (key != "messages" && key != "tools" && key != "add_generation_prompt")
        r.template_input[key] = ordered_json::parse(value.dump());
  }

  const bool logprobs = boolean(body, "logprobs").value_or(false);
  const auto top = integer(body, "top_logprobs", 0, 20);
  if (top && !logprobs) throw ApiError(400, "'top_logprobs' needs 'logprobs': true", "top_logprobs");
  if (logprobs) r.top_logprobs = int(top.value_or(0));
  return r;
}

TextCompletionRequest parse_completion_request(const json& body) {
  TextCompletionRequest r;
  read_generation(body, r);
  auto prompt = body.find("prompt");
  if (prompt == body.end() || prompt->is_null())
    throw ApiError(400, "'prompt' is required", "prompt", "missing_required_parameter");
  if (prompt->is_string()) {
    r.prompt = prompt->get<std::string>();
  } else if (prompt->is_array() && !prompt->empty() && prompt->at(0).is_number_integer()) {
    std::vector<int32_t> ids;
    for (const auto& id : *prompt) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
        throw ApiError(400, "'prompt' token IDs must be non-negative integers", "prompt", "invalid_value");
      ids.push_back(id.get<int32_t>());
    }
    r.prompt_ids = std::move(ids);
  } else if (prompt->is_array() && prompt->size() == 1 && prompt->at(0).is_string()) {
    r.prompt = prompt->at(0).get<std::string>();
  } else {
    throw ApiError(400, "'prompt' must be a string (or one string, or an array of token IDs)", "prompt", "invalid_type");
  }
  r.echo = boolean(body, "echo").value_or(false);
  if (auto lp = integer(body, "logprobs", 0, 20)) r.top_logprobs = int(*lp);
  if (body.contains("suffix") && !body["suffix"].is_null())
    throw ApiError(400, "'suffix' is not supported", "suffix", "unsupported_parameter");
  return r;
}

}  // namespace salut::server
