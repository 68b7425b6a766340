#include "tokenizer/json_util.h"

#include <fmt/format.h>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace salut::tokenizer {

void config_error(std::string_view component, std::string_view message) {
  throw Error(Errc::invalid_argument, fmt::format("tokenizer.json: {}: {}", component, message));
}

std::string type_of(const Json& config, std::string_view component) {
  if (!config.is_object()) config_error(component, "expected an object");
  auto it = config.find("type");
  if (it == config.end() || !it->is_string()) config_error(component, "missing \"type\"");
  return it->get<std::string>();
}

const Json& require(const Json& config, std::string_view key, std::string_view component) {
  if (!config.is_object()) config_error(component, "expected an object");
  auto it = config.find(key);
  if (it == config.end()) config_error(component, fmt::format("missing field \"{}\"", key));
  return *it;
}

std::string get_string(const Json& config, std::string_view key, std::string_view component) {
  const Json& value = require(config, key, component);
  if (!value.is_string()) config_error(component, fmt::format("field \"{}\" must be a string", key));
  return value.get<std::string>();
}

bool get_bool(const Json& config, std::string_view key, std::string_view component) {
  const Json& value = require(config, key, component);
  if (!value.is_boolean()) config_error(component, fmt::format("field \"{}\" must be true or false", key));
  return value.get<bool>();
}

bool get_bool_or(const Json& config, std::string_view key, bool fallback, std::string_view component) {
  if (!config.is_object()) config_error(component, "expected an object");
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) config_error(component, fmt::format("field \"{}\" must be true or false", key));
  return it->get<bool>();
}

uint64_t get_uint(const Json& config, std::string_view key, std::string_view component) {
  const Json& value = require(config, key, component);
  if (!value.is_number_unsigned()) config_error(component, fmt::format("field \"{}\" must be a number ≥ 0", key));
  return value.get<uint64_t>();
}

char32_t get_char(const Json& config, std::string_view key, std::string_view component) {
  std::string text = get_string(config, key, component);
  size_t pos = 0;
  char32_t c = text.empty() ? 0 : next_code_point(text, pos);
  if (text.empty() || pos != text.size())
    config_error(component, fmt::format("field \"{}\" must be a single character", key));
  return c;
}

}  // namespace salut::tokenizer
