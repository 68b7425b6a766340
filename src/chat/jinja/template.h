#pragma once
// A Jinja template in the subset chat templates use, with the semantics Hugging Face transformers
// gives them (jinja2's ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, its own tojson,
// raise_exception and strftime_now).
//
// No C++ Jinja library is packaged for Debian, so this is a small interpreter written for Salut:
// lexer.cpp → parser.cpp (ast.h) → renderer.cpp, with Python's value semantics in value.cpp, ops.cpp,
// pyformat.cpp, methods.cpp and the builtins in filters.cpp, tests.cpp and globals.cpp.

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/jinja/ast.h"
#include "chat/jinja/renderer.h"
#include "chat/jinja/value.h"

namespace salut::jinja {

class Template {
 public:
  // Parses once; throws salut::Error (invalid_argument) with the line of a syntax error.
  static Template parse(std::string_view source);

  // Renders with the context's keys as variables. Throws salut::Error (invalid_argument): a
  // raise_exception() in the template gives exactly its message (as RaisedError).
  std::string render(const nlohmann::ordered_json& context, const RenderOptions& options = {}) const;
  std::string render(std::vector<std::pair<std::string, Value>> variables, const RenderOptions& options = {}) const;

 private:
  std::shared_ptr<const Body> body_;
};

// A JSON value as the Python object json.loads() would give (dict order kept).
Value from_json(const nlohmann::ordered_json& json);

}  // namespace salut::jinja
