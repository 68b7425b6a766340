#include "tokenizer/pre_tokenizer.h"

#include <fmt/format.h>

#include "tokenizer/byte_level.h"
#include "tokenizer/pattern.h"
#include "tokenizer/unicode.h"

namespace salut::tokenizer {
namespace {

// Cuts every piece where `pattern` matches, keeping what `behavior` keeps; drops empty pieces.
void split_pieces(PreTokenized& text, const Pattern& pattern, SplitBehavior behavior, bool invert = false) {
  thread_local std::vector<Span> spans;
  thread_local std::vector<PreTokenized::Piece> out;
  out.clear();
  for (const PreTokenized::Piece& piece : text.pieces) {
    pattern.find_matches(text.view(piece), spans);
    apply_split_behavior(spans, behavior, invert);
    for (const Span& s : spans)
      if (s.end > s.begin) out.push_back({piece.begin + s.begin, piece.begin + s.end, piece.at_start && s.begin == 0});
  }
  text.pieces.swap(out);
}

// Rewrites every piece: rewrite(piece_text, at_start, out) appends the new text to `out`.
template <class Rewrite>
void rewrite_pieces(PreTokenized& text, Rewrite&& rewrite) {
  std::string out;
  out.reserve(text.text.size() + text.text.size() / 2 + 8);
  size_t kept = 0;
  for (const PreTokenized::Piece& piece : text.pieces) {
    size_t begin = out.size();
    rewrite(text.view(piece), piece.at_start, out);
    if (out.size() > begin) text.pieces[kept++] = {begin, out.size(), piece.at_start};
  }
  text.pieces.resize(kept);
  text.text = std::move(out);
}

class Split final : public PreTokenizer {
 public:
  Split(Pattern pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  void pre_tokenize(PreTokenized& text) const override { split_pieces(text, pattern_, behavior_, invert_); }

 private:
  Pattern pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

class ByteLevel final : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, bool use_regex) : add_prefix_space_(add_prefix_space), use_regex_(use_regex) {}

  void pre_tokenize(PreTokenized& text) const override {
    if (add_prefix_space_) {
      rewrite_pieces(text, [](std::string_view piece, bool, std::string& out) {
        if (piece.empty() || piece[0] != ' ') out += ' ';
        out += piece;
      });
    }
    if (use_regex_) split_pieces(text, gpt2_pattern(), SplitBehavior::kIsolated);
    if (map_bytes_) rewrite_pieces(text, [](std::string_view piece, bool, std::string& out) { append_byte_level(out, piece); });
  }

  bool ends_with_byte_level() const override { return true; }
  void leave_bytes_unmapped() override { map_bytes_ = false; }

 private:
  static const Pattern& gpt2_pattern() {
    static const Pattern pattern =
        Pattern::regex(R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)");
    return pattern;
  }

  bool add_prefix_space_, use_regex_;
  bool map_bytes_ = true;
};

class Metaspace final : public PreTokenizer {
 public:
  enum class Prepend { kAlways, kFirst, kNever };
  Metaspace(char32_t replacement, Prepend prepend, bool split)
      : replacement_(replacement), prepend_(prepend), split_(split) {
    append_utf8(replacement_utf8_, replacement);
  }

  void pre_tokenize(PreTokenized& text) const override {
    rewrite_pieces(text, [&](std::string_view piece, bool at_start, std::string& out) {
      bool starts_with_replacement = false;
      if (!piece.empty()) {
        size_t pos = 0;
        starts_with_replacement = piece[0] == ' ' || next_code_point(piece, pos) == replacement_;
      }
      bool prepend = prepend_ == Prepend::kAlways || (prepend_ == Prepend::kFirst && at_start);
      if (prepend && !starts_with_replacement) out += replacement_utf8_;
      for (char c : piece) {
        if (c == ' ') out += replacement_utf8_;
        else out += c;
      }
    });
    if (split_) split_pieces(text, Pattern::character(replacement_), SplitBehavior::kMergedWithNext);
  }

 private:
  char32_t replacement_;
  std::string replacement_utf8_;
  Prepend prepend_;
  bool split_;
};

// \w+|[^\w\s]+ with the regex crate's Unicode classes, gaps removed: runs of word
// characters and runs of other non-space characters.
class Whitespace final : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenized& text) const override {
    thread_local std::vector<PreTokenized::Piece> out;
    out.clear();
    for (const PreTokenized::Piece& piece : text.pieces) {
      std::string_view s = text.view(piece);
      int run_kind = 0;  // 0: whitespace, 1: word, 2: other
      size_t run_start = 0;
      for (size_t pos = 0; pos <= s.size();) {
        size_t start = pos;
        int kind = 0;
        if (pos < s.size()) {
          char32_t c = next_code_point(s, pos);
          kind = is_word_char(c) ? 1 : is_whitespace(c) ? 0 : 2;
        } else {
          ++pos;  // one step past the end flushes the last run
        }
        if (kind != run_kind) {
          if (run_kind != 0) out.push_back({piece.begin + run_start, piece.begin + start, piece.at_start && run_start == 0});
          run_kind = kind;
          run_start = start;
        }
      }
    }
    text.pieces.swap(out);
  }
};

class CharacterSplit final : public PreTokenizer {
 public:
  CharacterSplit(Pattern pattern, SplitBehavior behavior) : pattern_(std::move(pattern)), behavior_(behavior) {}
  void pre_tokenize(PreTokenized& text) const override { split_pieces(text, pattern_, behavior_); }

 private:
  Pattern pattern_;
  SplitBehavior behavior_;
};

class BertPreTokenizer final : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenized& text) const override {
    split_pieces(text, Pattern::characters(is_whitespace), SplitBehavior::kRemoved);
    split_pieces(text, Pattern::characters(is_punctuation), SplitBehavior::kIsolated);
  }
};

class FixedLength final : public PreTokenizer {
 public:
  explicit FixedLength(size_t length) : length_(length) {}
  void pre_tokenize(PreTokenized& text) const override {
    thread_local std::vector<PreTokenized::Piece> out;
    out.clear();
    for (const PreTokenized::Piece& piece : text.pieces) {
      std::string_view s = text.view(piece);
      size_t chunk_start = 0, chars = 0;
      for (size_t pos = 0; pos < s.size();) {
        next_code_point(s, pos);
        if (++chars == length_ || pos == s.size()) {
          out.push_back({piece.begin + chunk_start, piece.begin + pos, piece.at_start && chunk_start == 0});
          chunk_start = pos;
          chars = 0;
        }
      }
    }
    text.pieces.swap(out);
  }

 private:
  size_t length_;
};

class Sequence final : public PreTokenizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> steps) : steps_(std::move(steps)) {}
  void pre_tokenize(PreTokenized& text) const override {
    for (const auto& step : steps_) step->pre_tokenize(text);
  }
  bool ends_with_byte_level() const override { return !steps_.empty() && steps_.back()->ends_with_byte_level(); }
  void leave_bytes_unmapped() override {
    if (!steps_.empty()) steps_.back()->leave_bytes_unmapped();
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

bool is_numeric_char(char32_t c) { return is_numeric(c); }

}  // namespace

std::unique_ptr<PreTokenizer> parse_pre_tokenizer(const Json& config) {
  if (config.is_null()) return nullptr;
  std::string type = type_of(config, "pre_tokenizer");
  std::string component = "pre_tokenizer " + type;
  if (type == "Split") {
    return std::make_unique<Split>(parse_pattern(config, component),
                                   parse_split_behavior(get_string(config, "behavior", component)),
                                   get_bool(config, "invert", component));
  }
  if (type == "ByteLevel") {
    return std::make_unique<ByteLevel>(get_bool_or(config, "add_prefix_space", true, component),
                                       get_bool_or(config, "use_regex", true, component));
  }
  if (type == "Metaspace") {
    char32_t replacement = get_char(config, "replacement", component);
    Metaspace::Prepend prepend = Metaspace::Prepend::kAlways;
    if (auto it = config.find("prepend_scheme"); it != config.end() && !it->is_null()) {
      std::string scheme = it->is_string() ? it->get<std::string>() : "";
      if (scheme == "always") prepend = Metaspace::Prepend::kAlways;
      else if (scheme == "first") prepend = Metaspace::Prepend::kFirst;
      else if (scheme == "never") prepend = Metaspace::Prepend::kNever;
      else config_error(component, "\"prepend_scheme\" must be \"always\", \"first\" or \"never\"");
    }
    // Older files say add_prefix_space; `tokenizers` accepts false only with prepend_scheme "never".
    if (!get_bool_or(config, "add_prefix_space", true, component) && prepend != Metaspace::Prepend::kNever)
      config_error(component, "add_prefix_space does not match declared prepend_scheme");
    return std::make_unique<Metaspace>(replacement, prepend, get_bool_or(config, "split", true, component));
  }
  if (type == "Whitespace") return std::make_unique<Whitespace>();
  if (type == "WhitespaceSplit")
    return std::make_unique<CharacterSplit>(Pattern::characters(is_whitespace), SplitBehavior::kRemoved);
  if (type == "Punctuation") {
    SplitBehavior behavior = SplitBehavior::kIsolated;
    if (auto it = config.find("behavior"); it != config.end() && !it->is_null())
      behavior = parse_split_behavior(get_string(config, "behavior", component));
    return std::make_unique<CharacterSplit>(Pattern::characters(is_punctuation), behavior);
  }
  if (type == "Digits") {
    bool individual = get_bool_or(config, "individual_digits", false, component);
    return std::make_unique<CharacterSplit>(Pattern::characters(is_numeric_char),
                                            individual ? SplitBehavior::kIsolated : SplitBehavior::kContiguous);
  }
  if (type == "CharDelimiterSplit")
    return std::make_unique<CharacterSplit>(Pattern::character(get_char(config, "delimiter", component)),
                                            SplitBehavior::kRemoved);
  if (type == "BertPreTokenizer") return std::make_unique<BertPreTokenizer>();
  if (type == "FixedLength") {
    uint64_t length = config.contains("length") ? get_uint(config, "length", component) : 5;
    if (length == 0) config_error(component, "\"length\" must be at least 1");
    return std::make_unique<FixedLength>(length);
  }
  if (type == "Sequence") {
    const Json& list = require(config, "pretokenizers", component);
    if (!list.is_array()) config_error(component, "\"pretokenizers\" must be a list");
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (const Json& step : list) {
      if (auto p = parse_pre_tokenizer(step)) steps.push_back(std::move(p));
      else config_error(component, "null pre-tokenizer in a sequence");
    }
    return std::make_unique<Sequence>(std::move(steps));
  }
  config_error("pre_tokenizer", fmt::format("unsupported type {:?}", type));
}

}  // namespace salut::tokenizer
