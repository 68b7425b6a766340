#pragma once
// Reading the small parts of tokenizer.json (normalizers, pre-tokenizers, ...) from nlohmann
// values, with errors that name the component and field.

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace salut::tokenizer {

using Json = nlohmann::json;

[[noreturn]] void config_error(std::string_view component, std::string_view message);

// The component's "type" (throws if missing or not a string).
std::string type_of(const Json& config, std::string_view component);

const Json& require(const Json& config, std::string_view key, std::string_view component);
std::string get_string(const Json& config, std::string_view key, std::string_view component);
bool get_bool(const Json& config, std::string_view key, std::string_view component);
// The field's value; `fallback` when it is missing or null.
bool get_bool_or(const Json& config, std::string_view key, bool fallback, std::string_view component);
uint64_t get_uint(const Json& config, std::string_view key, std::string_view component);
// A single-character string field (Metaspace's replacement, Strip's content).
char32_t get_char(const Json& config, std::string_view key, std::string_view component);

}  // namespace salut::tokenizer
