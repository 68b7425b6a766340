#pragma once
// Splits template source into tokens the way jinja2's lexer does with transformers' settings:
// trim_blocks (drop the newline after a block or comment tag), lstrip_blocks (drop spaces before a
// block or comment tag at the start of a line), `-`/`+` whitespace control, no trailing newline.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace salut::jinja {

enum class TokenKind : uint8_t {
  text,         // template data between tags
  print_begin,  // {{
  print_end,    // }}
  block_begin,  // {%
  block_end,    // %}
  name,
  string,       // value: the unescaped string
  integer,
  floating,
  op,           // value: the operator text ("+", "//", "(", ...)
  eof,
};

struct Token {
  TokenKind kind;
  std::string value;  // text, name, string contents or operator
  int64_t int_value = 0;
  double float_value = 0;
  int line = 1;
};

// Throws TemplateError ("syntax error at line N: ...") on malformed input.
std::vector<Token> tokenize(std::string_view source);

}  // namespace salut::jinja
