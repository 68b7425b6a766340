#pragma once
// How Python turns values into text: str(), repr(), json.dumps() (the `tojson` filter that
// transformers installs), `%` formatting and str.format(). Output must match CPython byte for byte.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja/value.h"

namespace salut::jinja {

std::string py_str(const Value& v);  // str(v); Undefined prints as ""
void py_str_to(const Value& v, std::string& out);
std::string py_repr(const Value& v);
std::string float_repr(double f);  // repr(float): shortest round-trip digits, "1.0", "1e+16", "inf"
std::string string_repr(std::string_view s);

struct JsonOptions {
  std::optional<std::string> indent;  // json.dumps(indent=...): a string, or n spaces
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;
};
// json.dumps(v, ...); throws TypeError for values JSON cannot hold (Undefined, callables, ...).
std::string json_dumps(const Value& v, const JsonOptions& options);

// Python's `format % args`: args is a tuple for several values, a dict for %(name)s.
std::string percent_format(std::string_view format, const Value& args);
// Python's str.format(*args, **kwargs) for the common field forms ({}, {0}, {name}, {:>10}, {:.2f}).
std::string brace_format(std::string_view format, const std::vector<Value>& args,
                         const std::vector<std::pair<std::string, Value>>& kwargs);

}  // namespace salut::jinja
