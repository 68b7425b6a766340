#pragma once
// What `tokenizers` splits and replaces on: a regex, a literal string, or a character test,
// and the split behaviours (Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous).

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/json_util.h"
#include "tokenizer/regex.h"

namespace salut::tokenizer {

// A piece of a string: [begin, end) and whether the pattern matched it.
struct Span {
  size_t begin, end;
  bool is_match;
};

class Pattern {
 public:
  static Pattern regex(std::string_view oniguruma_pattern);
  // A literal string (tokenizers escapes it into a regex; an empty one matches everywhere).
  static Pattern literal(std::string_view text);
  // Every character for which `test` holds is a match of its own.
  static Pattern characters(bool (*test)(char32_t));
  static Pattern character(char32_t c);

  // Covers `text` with matches and the gaps between them (tokenizers' find_matches): an empty
  // text gives one empty non-match.
  void find_matches(std::string_view text, std::vector<Span>& out) const;
  // True for a pattern that only ever matches one character (a one-character literal).
  bool is_single_character() const;

 private:
  enum class Kind { kRegex, kLiteral, kTest, kChar };
  Kind kind_ = Kind::kLiteral;
  std::shared_ptr<const Regex> regex_;
  std::string literal_;
  bool (*test_)(char32_t) = nullptr;
  char32_t char_ = 0;
};

// Reads a Replace or Split "pattern": {"String": "..."} or {"Regex": "..."}.
Pattern parse_pattern(const Json& config, std::string_view component);

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// Parses "Removed", "Isolated", ... (throws Error otherwise).
SplitBehavior parse_split_behavior(std::string_view name);

// Turns the spans of find_matches into the pieces to keep, as NormalizedString::split does
// (empty pieces included; callers drop them). `invert` swaps matches and gaps first.
void apply_split_behavior(std::vector<Span>& spans, SplitBehavior behavior, bool invert);

}  // namespace salut::tokenizer
