#pragma once
// Builds the statement tree from tokens, following jinja2's parser.py grammar and precedence.
// Filters and tests are resolved here, so an unknown one fails at load time, as in jinja2.

#include <string_view>

#include "chat/jinja/ast.h"

namespace salut::jinja {

constexpr int kMaxExpressionDepth = 256;
constexpr int kMaxStatementDepth = 64;

// Throws TemplateError ("syntax error at line N: ...").
Body parse(std::string_view source);

}  // namespace salut::jinja
