#include "tokenizer/normalizer.h"

#include <fmt/format.h>

#include <vector>

#include "tokenizer/byte_level.h"
#include "tokenizer/pattern.h"
#include "tokenizer/unicode.h"

namespace salut::tokenizer {
namespace {

// Rewrites text one code point at a time.
template <class F>
void map_code_points(std::string& text, F&& append_mapped) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) append_mapped(out, next_code_point(text, pos));
  text = std::move(out);
}

class UnicodeNormalizer final : public Normalizer {
 public:
  // Normalizing once here builds utf8proc's lookup tables now, not during the first encode.
  explicit UnicodeNormalizer(NormalForm form) : form_(form) { tokenizer::normalize("\xC3\xA9", form); }
  void normalize(std::string& text) const override { text = tokenizer::normalize(text, form_); }

 private:
  NormalForm form_;
};

class Lowercase final : public Normalizer {
 public:
  void normalize(std::string& text) const override {
    map_code_points(text, [](std::string& out, char32_t c) { append_lowercase(out, c); });
  }
};

class Strip final : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  void normalize(std::string& text) const override {
    size_t begin = 0, end = text.size();
    if (left_) {
      for (size_t pos = 0; pos < end && is_whitespace(next_code_point(text, pos));) begin = pos;
    }
    if (right_) {
      while (end > begin) {
        size_t before = end;
        if (!is_whitespace(previous_code_point(text, before))) break;
        end = before;
      }
    }
    text = text.substr(begin, end - begin);
  }

 private:
  bool left_, right_;
};

class StripAccents final : public Normalizer {
 public:
  void normalize(std::string& text) const override {
    map_code_points(text, [](std::string& out, char32_t c) {
      if (!is_combining_mark(c)) append_utf8(out, c);
    });
  }
};

class Prepend final : public Normalizer {
 public:
  explicit Prepend(std::string prefix) : prefix_(std::move(prefix)) {}
  void normalize(std::string& text) const override {
    if (!text.empty()) text.insert(0, prefix_);
  }

 private:
  std::string prefix_;
};

class Replace final : public Normalizer {
 public:
  Replace(Pattern pattern, std::string content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void normalize(std::string& text) const override {
    thread_local std::vector<Span> spans;
    pattern_.find_matches(text, spans);
    std::string out;
    out.reserve(text.size());
    for (const Span& s : spans) {
      if (s.is_match) out += content_;
      else out.append(text, s.begin, s.end - s.begin);
    }
    text = std::move(out);
  }

 private:
  Pattern pattern_;
  std::string content_;
};

class Sequence final : public Normalizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Normalizer>> steps) : steps_(std::move(steps)) {}
  void normalize(std::string& text) const override {
    for (const auto& step : steps_) step->normalize(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

class BertNormalizer final : public Normalizer {
 public:
  BertNormalizer(bool clean_text, bool chinese_chars, bool strip_accents, bool lowercase)
      : clean_text_(clean_text), chinese_chars_(chinese_chars), strip_accents_(strip_accents), lowercase_(lowercase) {}

  void normalize(std::string& text) const override {
    if (clean_text_) {
      // Control characters go first (\v and \f too, though they are whitespace), then the
      // remaining whitespace becomes ' '.
      map_code_points(text, [](std::string& out, char32_t c) {
        if (c == 0 || c == kReplacementChar || is_control(c)) return;
        bool whitespace = c == '\t' || c == '\n' || c == '\r' || is_whitespace(c);
        append_utf8(out, whitespace ? U' ' : c);
      });
    }
    if (chinese_chars_) {
      map_code_points(text, [](std::string& out, char32_t c) {
        if (!is_chinese_char(c)) return append_utf8(out, c);
        out += ' ';
        append_utf8(out, c);
        out += ' ';
      });
    }
    if (strip_accents_) {
      text = tokenizer::normalize(text, NormalForm::NFD);
      map_code_points(text, [](std::string& out, char32_t c) {
        if (!is_nonspacing_mark(c)) append_utf8(out, c);
      });
    }
    if (lowercase_) map_code_points(text, [](std::string& out, char32_t c) { append_lowercase(out, c); });
  }

 private:
  bool clean_text_, chinese_chars_, strip_accents_, lowercase_;
};

// Maps every byte to its GPT-2 byte-level character.
class ByteLevelNormalizer final : public Normalizer {
 public:
  void normalize(std::string& text) const override {
    std::string out;
    append_byte_level(out, text);
    text = std::move(out);
  }
};

// SentencePiece's NMT normalization: drop control characters, turn odd spaces into ' '.
class Nmt final : public Normalizer {
 public:
  void normalize(std::string& text) const override {
    map_code_points(text, [](std::string& out, char32_t c) {
      if ((c >= 0x01 && c <= 0x08) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || c == 0x8F || c == 0x9F)
        return;
      bool space = c == 0x09 || c == 0x0A || c == 0x0C || c == 0x0D || c == 0x1680 || (c >= 0x200B && c <= 0x200F) ||
                   c == 0x2028 || c == 0x2029 || c == 0x2581 || c == 0xFEFF || c == 0xFFFD;
      append_utf8(out, space ? U' ' : c);
    });
  }
};

}  // namespace

std::unique_ptr<Normalizer> parse_normalizer(const Json& config) {
  if (config.is_null()) return nullptr;
  std::string type = type_of(config, "normalizer");
  std::string component = "normalizer " + type;
  if (type == "NFC") return std::make_unique<UnicodeNormalizer>(NormalForm::NFC);
  if (type == "NFD") return std::make_unique<UnicodeNormalizer>(NormalForm::NFD);
  if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(NormalForm::NFKC);
  if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(NormalForm::NFKD);
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "StripAccents") return std::make_unique<StripAccents>();
  if (type == "Nmt") return std::make_unique<Nmt>();
  if (type == "ByteLevel") return std::make_unique<ByteLevelNormalizer>();
  if (type == "Strip")
    return std::make_unique<Strip>(get_bool(config, "strip_left", component), get_bool(config, "strip_right", component));
  if (type == "Prepend") return std::make_unique<Prepend>(get_string(config, "prepend", component));
  if (type == "Replace")
    return std::make_unique<Replace>(parse_pattern(config, component), get_string(config, "content", component));
  if (type == "Sequence") {
    const Json& list = require(config, "normalizers", component);
    if (!list.is_array()) config_error(component, "\"normalizers\" must be a list");
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (const Json& step : list) {
      if (auto n = parse_normalizer(step)) steps.push_back(std::move(n));
      else config_error(component, "null normalizer in a sequence");
    }
    return std::make_unique<Sequence>(std::move(steps));
  }
  if (type == "BertNormalizer") {
    bool lowercase = get_bool_or(config, "lowercase", true, component);
    return std::make_unique<BertNormalizer>(get_bool_or(config, "clean_text", true, component),
                                            get_bool_or(config, "handle_chinese_chars", true, component),
                                            get_bool_or(config, "strip_accents", lowercase, component), lowercase);
  }
  config_error("normalizer", fmt::format("unsupported type {:?}", type));
}

}  // namespace salut::tokenizer
