#include "tokenizer/json_reader.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace salut::tokenizer {
namespace {

constexpr int kMaxDepth = 128;

// Bytes that end a plain run inside a string: quote, backslash, controls, non-ASCII.
constexpr auto kStringStop = [] {
  std::array<bool, 256> stop{};
  for (int c = 0; c < 256; ++c) stop[c] = c == '"' || c == '\\' || c < 0x20 || c >= 0x80;
  return stop;
}();

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

JsonReader::JsonReader(std::string_view text, std::string what) : text_(text), what_(std::move(what)) {
  // A UTF-8 byte order mark is not JSON, but files written on Windows sometimes carry one.
  if (text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
}

void JsonReader::fail(std::string_view message) const {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < pos_ && i < text_.size(); ++i) {
    if (text_[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  throw Error(Errc::invalid_argument,
              fmt::format("{}: invalid JSON at line {} column {}: {}", what_, line, column, message));
}

void JsonReader::skip_space() {
  while (pos_ < text_.size()) {
    char c = text_[pos_];
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') break;
    ++pos_;
  }
}

char JsonReader::peek() {
  skip_space();
  return pos_ < text_.size() ? text_[pos_] : '\0';
}

bool JsonReader::consume(char c) {
  if (peek() != c) return false;
  ++pos_;
  return true;
}

void JsonReader::expect(char c) {
  if (!consume(c)) {
    if (pos_ >= text_.size()) fail(fmt::format("unexpected end of file, expected '{}'", c));
    fail(fmt::format("expected '{}'", c));
  }
}

void JsonReader::enter(char open) {
  if (peek() == '\0' && pos_ >= text_.size()) fail("unexpected end of file");
  if (peek() != open) fail(open == '{' ? "expected an object" : "expected an array");
  if (++depth_ > kMaxDepth) fail("nesting is too deep");
  ++pos_;
}

uint32_t JsonReader::read_hex4() {
  if (text_.size() - pos_ < 4) fail("truncated \\u escape");
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) {
    char c = text_[pos_++];
    value <<= 4;
    if (c >= '0' && c <= '9') value |= c - '0';
    else if (c >= 'a' && c <= 'f') value |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') value |= c - 'A' + 10;
    else fail("invalid \\u escape");
  }
  return value;
}

void JsonReader::read_string(std::string& out) {
  if (peek() != '"') fail("expected a string");
  ++pos_;
  while (true) {
    // Copy the plain run up to the next quote, escape, control or non-ASCII byte.
    size_t run = pos_;
    while (pos_ < text_.size() && !kStringStop[static_cast<unsigned char>(text_[pos_])]) ++pos_;
    out.append(text_.substr(run, pos_ - run));
    if (pos_ >= text_.size()) fail("unterminated string");
    auto c = static_cast<unsigned char>(text_[pos_]);
    if (c == '"') {
      ++pos_;
      return;
    }
    if (c < 0x20) fail("control character in string");
    if (c >= 0x80) {
      size_t n = utf8_sequence_length(text_, pos_);
      if (n == 0) fail("invalid UTF-8 in string");
      out.append(text_.substr(pos_, n));
      pos_ += n;
      continue;
    }
    // An escape.
    if (++pos_ >= text_.size()) fail("unterminated string");
    char e = text_[pos_++];
    switch (e) {
      case '"': out.push_back('"'); break;
      case '\\': out.push_back('\\'); break;
      case '/': out.push_back('/'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        uint32_t cp = read_hex4();
        if (cp >= 0xDC00 && cp <= 0xDFFF) fail("lone trailing surrogate in \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (text_.substr(pos_, 2) != "\\u") fail("lone leading surrogate in \\u escape");
          pos_ += 2;
          uint32_t low = read_hex4();
          if (low < 0xDC00 || low > 0xDFFF) fail("invalid surrogate pair in \\u escape");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        append_utf8(out, cp);
        break;
      }
      default:
        fail("invalid escape in string");
    }
  }
}

void JsonReader::skip_number() {
  skip_space();
  size_t start = pos_;
  if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
  if (pos_ >= text_.size() || !is_digit(text_[pos_])) fail("invalid number");
  if (text_[pos_] == '0') {
    ++pos_;  // no leading zeros
  } else {
    while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
  }
  if (pos_ < text_.size() && text_[pos_] == '.') {
    ++pos_;
    if (pos_ >= text_.size() || !is_digit(text_[pos_])) fail("invalid number");
    while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
  }
  if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
    ++pos_;
    if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
    if (pos_ >= text_.size() || !is_digit(text_[pos_])) fail("invalid number");
    while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
  }
  if (pos_ == start) fail("invalid number");
}

int64_t JsonReader::read_integer() {
  skip_space();
  size_t start = pos_;
  skip_number();
  std::string_view digits = text_.substr(start, pos_ - start);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    pos_ = start;
    fail("expected an integer");
  }
  return value;
}

double JsonReader::read_number() {
  skip_space();
  size_t start = pos_;
  skip_number();
  std::string text(text_.substr(start, pos_ - start));
  return std::strtod(text.c_str(), nullptr);
}

void JsonReader::skip_literal(std::string_view word) {
  if (text_.substr(pos_, word.size()) != word) fail("invalid literal");
  pos_ += word.size();
}

bool JsonReader::read_bool() {
  char c = peek();
  if (c != 't' && c != 'f') fail("expected true or false");
  skip_literal(c == 't' ? "true" : "false");
  return c == 't';
}

bool JsonReader::read_null() {
  if (peek() != 'n') return false;
  skip_literal("null");
  return true;
}

std::string_view JsonReader::skip_value() {
  char c = peek();
  size_t start = pos_;
  std::string scratch;
  switch (c) {
    case '{':
      for_each_member([&](std::string_view) { skip_value(); });
      break;
    case '[':
      for_each_element([&] { skip_value(); });
      break;
    case '"':
      read_string(scratch);
      break;
    case 't': skip_literal("true"); break;
    case 'f': skip_literal("false"); break;
    case 'n': skip_literal("null"); break;
    case '\0':
      fail("unexpected end of file");
    default:
      skip_number();
  }
  return text_.substr(start, pos_ - start);
}

void JsonReader::expect_end() {
  if (peek() != '\0' || pos_ < text_.size()) fail("unexpected text after the document");
}

}  // namespace salut::tokenizer
