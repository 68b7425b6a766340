#include "chat/jinja/template.h"

#include "chat/jinja/error.h"
#include "chat/jinja/parser.h"

namespace salut::jinja {

namespace {

Value from_json_at(const nlohmann::ordered_json& json, int depth) {
  if (depth > kMaxValueDepth) fail("JSON input nested more than " + std::to_string(kMaxValueDepth) + " levels deep");
  switch (json.type()) {
    case nlohmann::ordered_json::value_t::null: return Value(None{});
    case nlohmann::ordered_json::value_t::boolean: return Value(json.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value(json.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      uint64_t u = json.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) fail("integer too large: " + std::to_string(u));
      return Value(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return Value(json.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value(json.get_ref<const std::string&>());
    case nlohmann::ordered_json::value_t::array: {
      std::vector<Value> items;
      items.reserve(json.size());
      for (const auto& item : json) items.push_back(from_json_at(item, depth + 1));
      return Value::list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      std::vector<std::pair<Value, Value>> entries;
      entries.reserve(json.size());
      for (const auto& [k, v] : json.items()) entries.emplace_back(Value(k), from_json_at(v, depth + 1));
      return Value::dict(std::move(entries));
    }
    default: fail("unsupported JSON value");
  }
}

}  // namespace

Value from_json(const nlohmann::ordered_json& json) { return from_json_at(json, 1); }

Template Template::parse(std::string_view source) {
  Template t;
  t.body_ = std::make_shared<const Body>(jinja::parse(source));
  return t;
}

std::string Template::render(const nlohmann::ordered_json& context, const RenderOptions& options) const {
  if (!context.is_object()) fail("template context must be a JSON object");
  std::vector<std::pair<std::string, Value>> variables;
  for (const auto& [k, v] : context.items()) variables.emplace_back(k, from_json(v));
  return render(std::move(variables), options);
}

std::string Template::render(std::vector<std::pair<std::string, Value>> variables, const RenderOptions& options) const {
  Renderer renderer(options);
  return renderer.render(*body_, std::move(variables));
}

}  // namespace salut::jinja
