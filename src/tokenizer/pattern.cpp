#include "tokenizer/pattern.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace salut::tokenizer {

Pattern Pattern::regex(std::string_view oniguruma_pattern) {
  Pattern p;
  p.kind_ = Kind::kRegex;
  p.regex_ = std::make_shared<const Regex>(oniguruma_pattern);
  return p;
}

Pattern Pattern::literal(std::string_view text) {
  if (text.empty()) return regex("");
  Pattern p;
  p.kind_ = Kind::kLiteral;
  p.literal_ = text;
  return p;
}

Pattern Pattern::characters(bool (*test)(char32_t)) {
  Pattern p;
  p.kind_ = Kind::kTest;
  p.test_ = test;
  return p;
}

Pattern Pattern::character(char32_t c) {
  Pattern p;
  p.kind_ = Kind::kChar;
  p.char_ = c;
  return p;
}

void Pattern::find_matches(std::string_view text, std::vector<Span>& out) const {
  out.clear();
  if (text.empty()) {
    out.push_back({0, 0, false});
    return;
  }
  size_t prev = 0;
  auto add_match = [&](size_t begin, size_t end) {
    if (prev != begin) out.push_back({prev, begin, false});
    out.push_back({begin, end, true});
    prev = end;
  };
  switch (kind_) {
    case Kind::kRegex: {
      thread_local std::vector<Match> matches;
      matches.clear();
      regex_->find_all(text, matches);
      for (auto [begin, end] : matches) add_match(begin, end);
      break;
    }
    case Kind::kLiteral:
      for (size_t at = text.find(literal_); at != std::string_view::npos; at = text.find(literal_, at)) {
        add_match(at, at + literal_.size());
        at += literal_.size();
      }
      break;
    case Kind::kTest:
    case Kind::kChar:
      for (size_t pos = 0; pos < text.size();) {
        size_t start = pos;
        char32_t cp = next_code_point(text, pos);
        if (kind_ == Kind::kTest ? test_(cp) : cp == char_) add_match(start, pos);
      }
      break;
  }
  if (prev != text.size()) out.push_back({prev, text.size(), false});
}

Pattern parse_pattern(const Json& config, std::string_view component) {
  const Json& pattern = require(config, "pattern", component);
  if (pattern.is_object() && pattern.size() == 1) {
    if (auto it = pattern.find("String"); it != pattern.end() && it->is_string())
      return Pattern::literal(it->get<std::string>());
    if (auto it = pattern.find("Regex"); it != pattern.end() && it->is_string())
      return Pattern::regex(it->get<std::string>());
  }
  config_error(component, "\"pattern\" must be {\"String\": ...} or {\"Regex\": ...}");
}

SplitBehavior parse_split_behavior(std::string_view name) {
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  throw Error(Errc::invalid_argument, fmt::format("unknown split behavior {:?}", name));
}

void apply_split_behavior(std::vector<Span>& spans, SplitBehavior behavior, bool invert) {
  if (invert)
    for (Span& s : spans) s.is_match = !s.is_match;
  std::vector<Span> kept;
  kept.reserve(spans.size());
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      return;
    case SplitBehavior::kRemoved:
      std::erase_if(spans, [](const Span& s) { return s.is_match; });
      return;
    case SplitBehavior::kContiguous:
      // Runs of matches and runs of non-matches each become one piece.
      for (const Span& s : spans) {
        if (s.is_match == previous_match && !kept.empty()) kept.back().end = s.end;
        else kept.push_back(s);
        previous_match = s.is_match;
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const Span& s : spans) {
        if (s.is_match && !previous_match && !kept.empty()) kept.back().end = s.end;
        else kept.push_back(s);
        previous_match = s.is_match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->is_match && !previous_match && !kept.empty()) kept.back().begin = it->begin;
        else kept.push_back(*it);
        previous_match = it->is_match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
  }
  spans = std::move(kept);
}

bool Pattern::is_single_character() const {
  if (kind_ == Kind::kChar) return true;
  if (kind_ != Kind::kLiteral || literal_.empty()) return false;
  size_t pos = 0;
  next_code_point(literal_, pos);
  return pos == literal_.size();
}

}  // namespace salut::tokenizer
