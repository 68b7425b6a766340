#pragma once
// Regular expressions as `tokenizers` runs them (Oniguruma, Ruby syntax), on PCRE2 with JIT.
// Patterns are translated once, at load: Oniguruma-only syntax (\h, \uHHHH, {,n}) and the
// character classes whose meaning differs (\s, \w, \d, \p{..} of a newer Unicode version)
// become explicit PCRE2 classes; ^ and $ match at line breaks, as in Ruby.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct pcre2_real_code_8;

namespace salut::tokenizer {

using Match = std::pair<size_t, size_t>;  // [begin, end) byte offsets

class Regex {
 public:
  explicit Regex(std::string_view oniguruma_pattern);
  Regex(Regex&& other) noexcept;
  Regex& operator=(Regex&& other) noexcept;
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  ~Regex();

  // Appends every match in `subject` (valid UTF-8) to `out`, as the onig crate's find_iter
  // reports them: left to right, and an empty match right after a match is skipped.
  void find_all(std::string_view subject, std::vector<Match>& out) const;

  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  pcre2_real_code_8* code_ = nullptr;
  bool jit_ = false;  // compiled to machine code: matched through the faster pcre2_jit_match
};

// The PCRE2 pattern for an Oniguruma one (exposed for tests).
std::string translate_oniguruma(std::string_view pattern);

}  // namespace salut::tokenizer
