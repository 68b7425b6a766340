#include "chat/jinja/lexer.h"

#include <charconv>
#include <cstdio>
#include <limits>

#include "chat/jinja/error.h"
#include "chat/jinja/unicode.h"

namespace salut::jinja {

namespace {

bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_char(char c) { return is_ident_start(c) || is_digit(c); }

// Python's \s: any str.isspace() code point.
size_t skip_space(std::string_view s, size_t pos) {
  while (pos < s.size()) {
    size_t next = pos;
    if (!unicode::is_space(unicode::next(s, next))) break;
    pos = next;
  }
  return pos;
}

// jinja2 turns \r\n and \r into \n and drops one trailing newline (keep_trailing_newline=False).
std::string normalize_newlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string_view source) : src_(normalize_newlines(source)) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      size_t start = find_tag_start(pos_);
      if (start == std::string::npos) {
        emit_text(std::string_view(src_).substr(pos_));
        advance_to(src_.size());
        break;
      }
      lex_tag(start);
    }
    out_.push_back(Token{TokenKind::eof, "", 0, 0, line_});
    return std::move(out_);
  }

 private:
  [[noreturn]] void error(const std::string& message) const {
    fail("syntax error at line " + std::to_string(line_) + ": " + message);
  }

  size_t find_tag_start(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string::npos && i + 1 < src_.size(); i = src_.find('{', i + 1)) {
      char c = src_[i + 1];
      if (c == '{' || c == '%' || c == '#') return i;
    }
    return std::string::npos;
  }

  // Moves pos_ forward, counting lines.
  void advance_to(size_t pos) {
    for (size_t i = pos_; i < pos; ++i)
      if (src_[i] == '\n') ++line_;
    if (pos > pos_) line_starting_ = src_[pos - 1] == '\n';
    pos_ = pos;
  }

  void emit(TokenKind kind, std::string value = {}) { out_.push_back(Token{kind, std::move(value), 0, 0, line_}); }

  void emit_text(std::string_view text) {
    if (!text.empty()) emit(TokenKind::text, std::string(text));
  }

  // The text before a tag, after `-` stripping or lstrip_blocks.
  std::string_view strip_before_tag(std::string_view text, char sign, bool lstrip_allowed) const {
    if (sign == '-') return unicode::strip(text, false, true);
    if (sign == '+' || !lstrip_allowed) return text;
    size_t line_start = text.rfind('\n');
    line_start = line_start == std::string_view::npos ? 0 : line_start + 1;
    if (line_start == 0 && !line_starting_) return text;
    std::string_view tail = text.substr(line_start);
    if (!tail.empty() && skip_space(tail, 0) == tail.size()) return text.substr(0, line_start);
    return text;
  }

  // After a block or comment tag: `-` strips all whitespace, `+` nothing, else one newline.
  size_t skip_after_tag(size_t pos, char sign) const {
    if (sign == '-') return skip_space(src_, pos);
    if (sign != '+' && pos < src_.size() && src_[pos] == '\n') return pos + 1;
    return pos;
  }

  void lex_tag(size_t start) {
    std::string_view text = std::string_view(src_).substr(pos_, start - pos_);
    char kind = src_[start + 1];
    size_t p = start + 2;
    char sign = 0;
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) sign = src_[p++];

    if (kind == '%') {
      if (size_t raw_end = match_raw_begin(p); raw_end != std::string::npos) {
        emit_text(strip_before_tag(text, sign, true));
        advance_to(raw_end);
        lex_raw_body();
        return;
      }
    }
    emit_text(strip_before_tag(text, sign, kind != '{'));
    advance_to(p);
    if (kind == '#') {
      lex_comment();
    } else {
      emit(kind == '{' ? TokenKind::print_begin : TokenKind::block_begin);
      lex_expression_tokens(kind == '{');
    }
  }

  // `{% raw %}` after the opening `{%` and sign: returns the position after the tag, or npos.
  size_t match_raw_begin(size_t p) const {
    p = skip_space(src_, p);
    if (src_.compare(p, 3, "raw") != 0 || (p + 3 < src_.size() && is_ident_char(src_[p + 3]))) return std::string::npos;
    p = skip_space(src_, p + 3);
    if (src_.compare(p, 3, "-%}") == 0) return skip_space(src_, p + 3);
    if (src_.compare(p, 2, "%}") == 0) return p + 2;  // jinja2 does not trim a newline here
    return std::string::npos;
  }

  void lex_raw_body() {
    for (size_t i = src_.find("{%", pos_); i != std::string::npos; i = src_.find("{%", i + 1)) {
      size_t p = i + 2;
      char sign = 0;
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) sign = src_[p++];
      p = skip_space(src_, p);
      if (src_.compare(p, 6, "endraw") != 0) continue;
      p = skip_space(src_, p + 6);
      char end_sign = 0;
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) end_sign = src_[p++];
      if (src_.compare(p, 2, "%}") != 0) continue;
      emit_text(strip_before_tag(std::string_view(src_).substr(pos_, i - pos_), sign, true));
      advance_to(skip_after_tag(p + 2, end_sign));
      return;
    }
    error("Missing end of raw directive");
  }

  void lex_comment() {
    size_t q = src_.find("#}", pos_);
    if (q == std::string::npos) error("Missing end of comment tag");
    char sign = (q > pos_ && (src_[q - 1] == '-' || src_[q - 1] == '+')) ? src_[q - 1] : 0;
    advance_to(skip_after_tag(q + 2, sign));
  }

  // Tokens inside {{ }} or {% %}, up to and including the closing delimiter.
  void lex_expression_tokens(bool is_print) {
    std::vector<char> open_brackets;
    while (true) {
      if (pos_ >= src_.size()) error(is_print ? "unexpected end of template, expected '}}'" : "unexpected end of template, expected '%}'");
      if (open_brackets.empty() && try_close_tag(is_print)) return;
      size_t p = skip_space(src_, pos_);
      if (p != pos_) {
        advance_to(p);
        continue;
      }
      char c = src_[pos_];
      if (is_digit(c) && lex_number()) continue;
      if (is_ident_start(c)) {
        size_t e = pos_;
        while (e < src_.size() && is_ident_char(src_[e])) ++e;
        emit(TokenKind::name, src_.substr(pos_, e - pos_));
        advance_to(e);
        continue;
      }
      if (c == '\'' || c == '"') {
        lex_string(c);
        continue;
      }
      lex_operator(open_brackets);
    }
  }

  bool try_close_tag(bool is_print) {
    std::string_view rest = std::string_view(src_).substr(pos_);
    if (is_print) {
      if (rest.starts_with("-}}")) {
        emit(TokenKind::print_end);
        advance_to(skip_space(src_, pos_ + 3));
        return true;
      }
      if (rest.starts_with("}}")) {
        emit(TokenKind::print_end);
        advance_to(pos_ + 2);
        return true;
      }
      return false;
    }
    char sign = 0;
    size_t len = 2;
    if (rest.starts_with("-%}") || rest.starts_with("+%}")) {
      sign = rest[0];
      len = 3;
    } else if (!rest.starts_with("%}")) {
      return false;
    }
    emit(TokenKind::block_end);
    advance_to(skip_after_tag(pos_ + len, sign));
    return true;
  }

  // Digits with optional `_` separators, as jinja2's regexes allow.
  size_t scan_digits(size_t p, bool (*digit)(char)) const {
    if (p >= src_.size() || !digit(src_[p])) return std::string::npos;
    ++p;
    while (p < src_.size()) {
      if (digit(src_[p])) {
        ++p;
      } else if (src_[p] == '_' && p + 1 < src_.size() && digit(src_[p + 1])) {
        p += 2;
      } else {
        break;
      }
    }
    return p;
  }

  bool lex_number() {
    if (pos_ > 0 && src_[pos_ - 1] == '.') {
      // jinja2's float pattern refuses to start right after a dot (`x.1.2`); integers may.
    } else if (size_t end = scan_float(pos_); end != std::string::npos) {
      std::string digits;
      for (size_t i = pos_; i < end; ++i)
        if (src_[i] != '_') digits += src_[i];
      Token t{TokenKind::floating, digits, 0, 0, line_};
      auto r = std::from_chars(digits.data(), digits.data() + digits.size(), t.float_value);
      if (r.ec == std::errc::result_out_of_range) t.float_value = std::strtod(digits.c_str(), nullptr);
      out_.push_back(std::move(t));
      advance_to(end);
      return true;
    }
    return lex_integer();
  }

  size_t scan_float(size_t p) const {
    size_t int_end = scan_digits(p, is_digit);
    if (int_end == std::string::npos) return std::string::npos;
    size_t e = int_end;
    bool has_fraction = false;
    if (e < src_.size() && src_[e] == '.') {
      size_t frac_end = scan_digits(e + 1, is_digit);
      if (frac_end != std::string::npos) e = frac_end, has_fraction = true;
    }
    if (e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
      size_t x = e + 1;
      if (x < src_.size() && (src_[x] == '+' || src_[x] == '-')) ++x;
      size_t exp_end = scan_digits(x, is_digit);
      if (exp_end != std::string::npos) return exp_end;
    }
    return has_fraction ? e : std::string::npos;
  }

  bool lex_integer() {
    static auto is_bin = [](char c) { return c == '0' || c == '1'; };
    static auto is_oct = [](char c) { return c >= '0' && c <= '7'; };
    static auto is_hex = [](char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); };
    static auto is_zero = [](char c) { return c == '0'; };
    int base = 10;
    size_t digits_start = pos_, end = std::string::npos;
    char prefix = pos_ + 1 < src_.size() && src_[pos_] == '0' ? static_cast<char>(src_[pos_ + 1] | 0x20) : 0;
    auto prefixed = [&](bool (*digit)(char)) {
      size_t p = pos_ + 2;
      if (p < src_.size() && src_[p] == '_') ++p;  // 0x_ff is allowed
      return scan_digits(p, digit);
    };
    if (prefix == 'b') base = 2, end = prefixed(is_bin);
    else if (prefix == 'o') base = 8, end = prefixed(is_oct);
    else if (prefix == 'x') base = 16, end = prefixed(is_hex);
    if (end != std::string::npos) {
      digits_start = pos_ + 2;
    } else {
      base = 10;
      end = scan_digits(pos_, src_[pos_] == '0' ? static_cast<bool (*)(char)>(is_zero) : is_digit);
    }
    std::string digits;
    for (size_t i = digits_start; i < end; ++i)
      if (src_[i] != '_') digits += src_[i];
    Token t{TokenKind::integer, src_.substr(pos_, end - pos_), 0, 0, line_};
    auto r = std::from_chars(digits.data(), digits.data() + digits.size(), t.int_value, base);
    if (r.ec != std::errc()) error("integer literal too large: " + t.value);
    out_.push_back(std::move(t));
    advance_to(end);
    return true;
  }

  // A quoted string; escapes decoded like Python's "unicode-escape" codec (how jinja2 does it).
  void lex_string(char quote) {
    size_t p = pos_ + 1;
    std::string value;
    while (true) {
      if (p >= src_.size()) error("unexpected char " + std::string(1, quote) + " (unterminated string)");
      char c = src_[p];
      if (c == quote) break;
      if (c != '\\') {
        value += c;
        ++p;
        continue;
      }
      if (p + 1 >= src_.size()) error("unterminated string");
      p = decode_escape(p + 1, value);
    }
    emit(TokenKind::string, std::move(value));
    advance_to(p + 1);
  }

  size_t hex_value(size_t p, int digits, uint32_t& value) const {
    value = 0;
    for (int i = 0; i < digits; ++i, ++p) {
      char c = p < src_.size() ? src_[p] : '\0';
      int d = is_digit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      if (d < 0) return std::string::npos;
      value = value * 16 + static_cast<uint32_t>(d);
    }
    return p;
  }

  // p is just after the backslash; returns the position after the escape.
  size_t decode_escape(size_t p, std::string& out) {
    char c = src_[p];
    switch (c) {
      case '\n': return p + 1;  // line continuation
      case '\\': case '\'': case '"': out += c; return p + 1;
      case 'a': out += '\a'; return p + 1;
      case 'b': out += '\b'; return p + 1;
      case 'f': out += '\f'; return p + 1;
      case 'n': out += '\n'; return p + 1;
      case 'r': out += '\r'; return p + 1;
      case 't': out += '\t'; return p + 1;
      case 'v': out += '\v'; return p + 1;
      case 'x': case 'u': case 'U': {
        int digits = c == 'x' ? 2 : c == 'u' ? 4 : 8;
        uint32_t cp = 0;
        size_t end = hex_value(p + 1, digits, cp);
        if (end == std::string::npos) error(std::string("truncated \\") + c + " escape");
        if (cp > 0x10FFFF) error("illegal Unicode character");
        if (cp >= 0xD800 && cp <= 0xDFFF) error("surrogate code points are not supported in string literals");
        unicode::append(out, cp);
        return end;
      }
      case 'N': error("\\N{...} escapes are not supported");
      default: break;
    }
    if (c >= '0' && c <= '7') {
      uint32_t cp = 0;
      size_t e = p;
      while (e < p + 3 && e < src_.size() && src_[e] >= '0' && src_[e] <= '7') cp = cp * 8 + static_cast<uint32_t>(src_[e++] - '0');
      unicode::append(out, cp);
      return e;
    }
    if (static_cast<unsigned char>(c) >= 0x80) {
      // jinja2 first writes non-ASCII characters as \xNN / \uNNNN escapes, so a backslash before one
      // becomes a literal backslash followed by that escape's text.
      size_t e = p;
      char32_t cp = unicode::next(src_, e);
      char buf[16];
      if (cp <= 0xFF) std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
      else if (cp <= 0xFFFF) std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      else std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(cp));
      out += buf;
      return e;
    }
    out += '\\';  // unknown escapes stay as written
    out += c;
    return p + 1;
  }

  void lex_operator(std::vector<char>& open_brackets) {
    static constexpr std::string_view two_char[] = {"//", "**", "==", "!=", ">=", "<="};
    std::string_view rest = std::string_view(src_).substr(pos_);
    for (std::string_view op : two_char)
      if (rest.starts_with(op)) {
        emit(TokenKind::op, std::string(op));
        advance_to(pos_ + 2);
        return;
      }
    char c = rest[0];
    if (std::string_view("+-/*%~[](){}><=.:|,;").find(c) == std::string_view::npos) {
      size_t e = pos_;
      unicode::next(src_, e);
      error("unexpected char '" + src_.substr(pos_, e - pos_) + "'");
    }
    if (c == '(' || c == '[' || c == '{') {
      open_brackets.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    } else if (c == ')' || c == ']' || c == '}') {
      if (open_brackets.empty()) error(std::string("unexpected '") + c + "'");
      if (open_brackets.back() != c) error(std::string("unexpected '") + c + "', expected '" + open_brackets.back() + "'");
      open_brackets.pop_back();
    }
    emit(TokenKind::op, std::string(1, c));
    advance_to(pos_ + 1);
  }

  std::string src_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;
  std::vector<Token> out_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) { return Lexer(source).run(); }

}  // namespace salut::jinja
