#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <fmt/format.h>
#include <pcre2.h>

#include <array>

#include "core/error.h"
#include "tokenizer/unicode.h"
#include "tokenizer/unicode_tables.h"

namespace salut::tokenizer {
namespace {

// --- Translation -------------------------------------------------------------------------

// The class body (the text between [ and ]) that gives a property or class escape the set
// Oniguruma gives it; unknown names are passed through to PCRE2 as \p{name}.
std::string class_body(std::string_view name) {
  for (const tables::PropertyExtra& extra : tables::kPropertyExtras)
    if (name == extra.name) return extra.ranges;
  if (name == "h") return "0-9a-fA-F";  // Ruby's \h is a hex digit, not horizontal space
  return fmt::format("\\p{{{}}}", name);
}

// One member of a character class: a set, possibly negated (\S, \P{L}).
struct ClassAtom {
  std::string body;
  bool negated = false;
};

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

class Translator {
 public:
  explicit Translator(std::string_view pattern) : p_(pattern) {}

  std::string run() {
    while (i_ < p_.size()) {
      char c = p_[i_];
      if (c == '\\') {
        translate_escape_outside_class();
      } else if (c == '[') {
        translate_class();
      } else if (c == '{' && is_empty_lower_bound()) {
        out_ += "{0";  // Oniguruma's {,n} is {0,n}; PCRE2 would read it literally
        ++i_;
      } else {
        out_ += c;
        ++i_;
      }
    }
    return std::move(out_);
  }

 private:
  // True at "{,n}" (a quantifier in Oniguruma, literal text in PCRE2).
  bool is_empty_lower_bound() const {
    if (p_.substr(i_, 2) != "{,") return false;
    size_t j = i_ + 2;
    while (j < p_.size() && p_[j] >= '0' && p_[j] <= '9') ++j;
    return j > i_ + 2 && j < p_.size() && p_[j] == '}';
  }

  [[noreturn]] void unsupported(std::string_view what) const {
    throw Error(Errc::invalid_argument, fmt::format("unsupported regex construct {} in pattern {:?}", what, p_));
  }

  // Reads the atom of a class escape at p_[i_] == '\\' (\p{..}, \P{..}, \s, \S, \d, \D, \w,
  // \W, \h, \H), or returns false and reads nothing.
  bool read_class_atom(ClassAtom& atom) {
    char e = i_ + 1 < p_.size() ? p_[i_ + 1] : '\0';
    if (e == 'p' || e == 'P') {
      size_t close = p_.find('}', i_);
      if (i_ + 2 >= p_.size() || p_[i_ + 2] != '{' || close == std::string_view::npos) return false;
      std::string_view name = p_.substr(i_ + 3, close - i_ - 3);
      atom.negated = e == 'P';
      if (!name.empty() && name[0] == '^') {
        atom.negated = !atom.negated;
        name.remove_prefix(1);
      }
      atom.body = class_body(name);
      i_ = close + 1;
      return true;
    }
    static constexpr std::string_view kShorthands = "sSdDwWhH";
    if (e != '\0' && kShorthands.find(e) != std::string_view::npos) {
      char lower = static_cast<char>(e | 0x20);
      atom.body = class_body(std::string_view(&lower, 1));
      atom.negated = e != lower;
      i_ += 2;
      return true;
    }
    return false;
  }

  // Copies an escape that needs no translation, or rewrites \uHHHH.
  void copy_escape(std::string& to) {
    if (i_ + 1 >= p_.size()) {
      to += '\\';
      ++i_;
      return;
    }
    char e = p_[i_ + 1];
    if (e == 'u' && i_ + 6 <= p_.size() && is_hex(p_[i_ + 2]) && is_hex(p_[i_ + 3]) && is_hex(p_[i_ + 4]) &&
        is_hex(p_[i_ + 5])) {
      to += fmt::format("\\x{{{}}}", p_.substr(i_ + 2, 4));
      i_ += 6;
      return;
    }
    to += '\\';
    to += e;
    i_ += 2;
    if ((e == 'x' || e == 'o') && i_ < p_.size() && p_[i_] == '{') {
      size_t close = p_.find('}', i_);
      if (close == std::string_view::npos) close = p_.size() - 1;
      to += p_.substr(i_, close + 1 - i_);
      i_ = close + 1;
    }
  }

  void translate_escape_outside_class() {
    ClassAtom atom;
    if (read_class_atom(atom)) {
      out_ += atom.negated ? "[^" : "[";
      out_ += atom.body;
      out_ += ']';
      return;
    }
    char e = i_ + 1 < p_.size() ? p_[i_ + 1] : '\0';
    if (e == 'b' || e == 'B') {
      // Word boundaries follow Oniguruma's \w, not PCRE2's.
      std::string w = "[" + class_body("w") + "]";
      if (e == 'b') out_ += fmt::format("(?:(?<={0})(?!{0})|(?<!{0})(?={0}))", w);
      else out_ += fmt::format("(?:(?<={0})(?={0})|(?<!{0})(?!{0}))", w);
      i_ += 2;
      return;
    }
    copy_escape(out_);
  }

  void translate_class() {
    ++i_;  // '['
    bool negated = i_ < p_.size() && p_[i_] == '^';
    if (negated) ++i_;
    std::string plain;                 // members PCRE2 understands as they are
    std::vector<std::string> negations;  // bodies of negated members (\S, \P{L})
    bool first = true;
    while (true) {
      if (i_ >= p_.size()) unsupported("an unterminated character class");
      char c = p_[i_];
      if (c == ']' && !first) {
        ++i_;
        break;
      }
      first = false;
      if (c == '\\') {
        ClassAtom atom;
        if (read_class_atom(atom)) {
          if (atom.negated) negations.push_back(atom.body);
          else plain += atom.body;
        } else {
          copy_escape(plain);
        }
      } else if (c == '[') {
        if (p_.substr(i_, 2) != "[:") unsupported("a nested character class");
        size_t close = p_.find(":]", i_ + 2);
        if (close == std::string_view::npos) unsupported("an unterminated POSIX class");
        plain += p_.substr(i_, close + 2 - i_);
        i_ = close + 2;
      } else if (c == '&' && p_.substr(i_, 2) == "&&") {
        unsupported("a class intersection");
      } else {
        plain += c;
        ++i_;
      }
    }
    if (!plain.empty() && plain[0] == '^') plain.insert(0, "\\");
    emit_class(negated, plain, negations);
  }

  // PCRE2 has no class subtraction, so a class with negated members becomes a group:
  // [a\S] is (?:[a]|[^ws]), and [^a\S] (not a, and whitespace) is (?:(?![a])[ws]).
  void emit_class(bool negated, const std::string& plain, const std::vector<std::string>& negations) {
    if (negations.empty()) {
      out_ += negated ? "[^" : "[";
      out_ += plain;
      out_ += ']';
      return;
    }
    out_ += "(?:";
    if (!negated) {
      std::string sep;
      if (!plain.empty()) {
        out_ += "[" + plain + "]";
        sep = "|";
      }
      for (const std::string& body : negations) {
        out_ += sep + "[^" + body + "]";
        sep = "|";
      }
    } else {
      if (!plain.empty()) out_ += "(?![" + plain + "])";
      for (size_t k = 0; k + 1 < negations.size(); ++k) out_ += "(?=[" + negations[k] + "])";
      out_ += "[" + negations.back() + "]";
    }
    out_ += ')';
  }

  std::string_view p_;
  size_t i_ = 0;
  std::string out_;
};

// --- Matching ----------------------------------------------------------------------------

std::string pcre2_message(int code) {
  std::array<PCRE2_UCHAR, 256> buffer{};
  pcre2_get_error_message(code, buffer.data(), buffer.size());
  return reinterpret_cast<const char*>(buffer.data());
}

// Per-thread match state: match data, and a JIT stack large enough for long inputs.
class MatchState {
 public:
  MatchState()
      : data_(pcre2_match_data_create(1, nullptr)),
        context_(pcre2_match_context_create(nullptr)),
        stack_(pcre2_jit_stack_create(32 * 1024, 256 * 1024 * 1024, nullptr)) {
    if (!data_ || !context_ || !stack_) throw Error(Errc::internal, "out of memory for regex matching");
    pcre2_jit_stack_assign(context_, nullptr, stack_);
  }
  ~MatchState() {
    pcre2_jit_stack_free(stack_);
    pcre2_match_context_free(context_);
    pcre2_match_data_free(data_);
  }
  MatchState(const MatchState&) = delete;
  MatchState& operator=(const MatchState&) = delete;

  pcre2_match_data* data() { return data_; }
  pcre2_match_context* context() { return context_; }

 private:
  pcre2_match_data* data_;
  pcre2_match_context* context_;
  pcre2_jit_stack* stack_;
};

MatchState& match_state() {
  thread_local MatchState state;
  return state;
}

}  // namespace

std::string translate_oniguruma(std::string_view pattern) { return Translator(pattern).run(); }

Regex::Regex(std::string_view oniguruma_pattern) : pattern_(oniguruma_pattern) {
  std::string translated = translate_oniguruma(oniguruma_pattern);
  pcre2_compile_context* context = pcre2_compile_context_create(nullptr);
  pcre2_set_newline(context, PCRE2_NEWLINE_LF);
  int error = 0;
  PCRE2_SIZE offset = 0;
  code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                        PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &error, &offset, context);
  pcre2_compile_context_free(context);
  if (!code_) {
    throw Error(Errc::invalid_argument,
                fmt::format("invalid regex {:?}: {} (at offset {} of {:?})", pattern_, pcre2_message(error), offset,
                            translated));
  }
  jit_ = pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE) == 0;  // else pcre2_match interprets
}

Regex::Regex(Regex&& other) noexcept : pattern_(std::move(other.pattern_)), code_(other.code_), jit_(other.jit_) {
  other.code_ = nullptr;
}

Regex& Regex::operator=(Regex&& other) noexcept {
  std::swap(pattern_, other.pattern_);
  std::swap(code_, other.code_);
  std::swap(jit_, other.jit_);
  return *this;
}

Regex::~Regex() { pcre2_code_free(code_); }

void Regex::find_all(std::string_view subject, std::vector<Match>& out) const {
  MatchState& state = match_state();
  const auto* text = reinterpret_cast<PCRE2_SPTR>(subject.data());
  size_t last_end = 0;
  bool skip_next_empty = false;
  while (last_end <= subject.size()) {
    int rc = jit_ ? pcre2_jit_match(code_, text, subject.size(), last_end, 0, state.data(), state.context())
                  : pcre2_match(code_, text, subject.size(), last_end, PCRE2_NO_UTF_CHECK, state.data(), state.context());
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      throw Error(Errc::invalid_argument,
                  fmt::format("regex {:?} failed on a {}-byte input: {}", pattern_, subject.size(), pcre2_message(rc)));
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.data());
    size_t start = ovector[0], end = ovector[1];
    if (end < start) end = start;  // \K in a lookahead can do this; Oniguruma has no \K there
    last_end = end;
    if (start == end) {
      // Step over one character so that an empty match cannot repeat forever.
      last_end += end < subject.size() ? utf8_length(static_cast<unsigned char>(subject[end])) : 1;
      if (skip_next_empty) {
        skip_next_empty = false;
        continue;
      }
    } else {
      skip_next_empty = true;
    }
    out.emplace_back(start, end);
  }
}

}  // namespace salut::tokenizer
