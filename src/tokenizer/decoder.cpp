#include "tokenizer/decoder.h"

#include <fmt/format.h>

#include <algorithm>

#include "tokenizer/byte_level.h"
#include "tokenizer/pattern.h"
#include "tokenizer/unicode.h"

namespace salut::tokenizer {
namespace {

std::vector<char32_t> code_points(std::string_view s) {
  std::vector<char32_t> out;
  for (size_t pos = 0; pos < s.size();) out.push_back(next_code_point(s, pos));
  return out;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  std::string out;
  size_t last = 0;
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, last)) {
    out.append(s, last, at - last);
    out.append(to);
    last = at + from.size();
  }
  out.append(s, last);
  s = std::move(out);
}

// WordPiece's cleanup of spaces before punctuation and contractions.
void cleanup(std::string& s) {
  static constexpr std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."},    {" ?", "?"},     {" !", "!"},    {" ,", ","},           {" ' ", "'"},  {" n't", "n't"},
      {" 'm", "'m"},  {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (auto [from, to] : kRules) replace_all(s, from, to);
}

// Bytes to characters and back: every token whose characters are all in the byte-level
// alphabet becomes those bytes (others keep their UTF-8), then the bytes are read as UTF-8
// with U+FFFD for what is not.
class ByteLevel final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const std::string& token : tokens) {
      size_t start = bytes.size();
      bool mapped = true;
      for (size_t pos = 0; pos < token.size() && mapped;) {
        int b = byte_of_char(next_code_point(token, pos));
        if (b < 0) mapped = false;
        else bytes.push_back(static_cast<char>(b));
      }
      if (!mapped) {
        bytes.resize(start);
        bytes += token;
      }
    }
    tokens.assign(1, to_valid_utf8(bytes));
  }
  bool fuses() const override { return true; }
};

class Replace final : public Decoder {
 public:
  Replace(Pattern pattern, std::string content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
  bool streams_by_window(bool fused) const override { return !fused || pattern_.is_single_character(); }
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<Span> spans;
    for (std::string& token : tokens) {
      pattern_.find_matches(token, spans);
      std::string out;
      for (const Span& s : spans) {
        if (s.is_match) out += content_;
        else out.append(token, s.begin, s.end - s.begin);
      }
      token = std::move(out);
    }
  }

 private:
  Pattern pattern_;
  std::string content_;
};

// <0xNN> tokens: runs of them are read as UTF-8; a run that is not valid UTF-8 becomes one
// U+FFFD per byte.
class ByteFallback final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string run;
    size_t run_length = 0;
    auto flush = [&] {
      if (run_length == 0) return;
      if (is_valid_utf8(run)) {
        out.push_back(run);
      } else {
        for (size_t i = 0; i < run_length; ++i) out.emplace_back("\xEF\xBF\xBD");
      }
      run.clear();
      run_length = 0;
    };
    for (std::string& token : tokens) {
      int byte = tokenizer::parse_byte_token(token);
      if (byte >= 0) {
        run.push_back(static_cast<char>(byte));
        ++run_length;
      } else {
        flush();
        out.push_back(std::move(token));
      }
    }
    flush();
    tokens = std::move(out);
  }


  bool reads_byte_runs() const override { return true; }
};

class Fuse final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const std::string& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
  bool fuses() const override { return true; }
};

// Removes up to `start` leading and `stop` trailing `content` characters from each token.
class Strip final : public Decoder {
 public:
  Strip(char32_t content, size_t start, size_t stop) : content_(content), start_(start), stop_(stop) {}
  bool streams_by_window(bool fused) const override { return !fused || (start_ <= 1 && stop_ == 0); }
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& token : tokens) {
      std::vector<char32_t> chars = code_points(token);
      size_t begin = 0, end = chars.size();
      while (begin < std::min(start_, chars.size()) && chars[begin] == content_) ++begin;
      for (size_t i = 0; i < stop_ && end > 0 && chars[end - 1] == content_; ++i) --end;
      std::string out;
      for (size_t i = begin; i < end; ++i) append_utf8(out, chars[i]);
      token = std::move(out);
    }
  }

 private:
  char32_t content_;
  size_t start_, stop_;
};

class Metaspace final : public Decoder {
 public:
  Metaspace(char32_t replacement, bool prepends) : replacement_(replacement), prepends_(prepends) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      for (char32_t c : code_points(tokens[i])) {
        if (c != replacement_) append_utf8(out, c);
        else if (i != 0 || !prepends_) out += ' ';  // the first token's replacement was the prepended one
      }
      tokens[i] = std::move(out);
    }
  }

 private:
  char32_t replacement_;
  bool prepends_;
};

class WordPiece final : public Decoder {
 public:
  WordPiece(std::string prefix, bool cleanup) : prefix_(std::move(prefix)), cleanup_(cleanup) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& token = tokens[i];
      if (i != 0) {
        if (token.starts_with(prefix_)) token.erase(0, prefix_.size());
        else token = " " + token;
      }
      if (cleanup_) cleanup(token);
    }
  }

 private:
  std::string prefix_;
  bool cleanup_;
};

// The end-of-word suffix becomes a space, except in the last token.
class BpeDecoder final : public Decoder {
 public:
  explicit BpeDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) replace_all(tokens[i], suffix_, i + 1 == tokens.size() ? "" : " ");
  }

 private:
  std::string suffix_;
};

class Ctc final : public Decoder {
 public:
  Ctc(std::string pad, std::string word_delimiter, bool cleanup)
      : pad_(std::move(pad)), word_delimiter_(std::move(word_delimiter)), cleanup_(cleanup) {}
  bool streams_by_window(bool) const override { return false; }
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0 && tokens[i] == tokens[i - 1]) continue;  // repeated frames
      std::string token = tokens[i];
      replace_all(token, pad_, "");
      if (cleanup_) {
        cleanup(token);
        replace_all(token, word_delimiter_, " ");
      }
      if (!token.empty()) out.push_back(std::move(token));
    }
    tokens = std::move(out);
  }

 private:
  std::string pad_, word_delimiter_;
  bool cleanup_;
};

class Sequence final : public Decoder {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Decoder>> steps) : steps_(std::move(steps)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& step : steps_) step->decode_chain(tokens);
  }
  bool reads_byte_runs() const override {
    for (const auto& step : steps_)
      if (step->reads_byte_runs()) return true;
    return false;
  }
  bool streams_by_window(bool fused) const override {
    for (const auto& step : steps_) {
      if (!step->streams_by_window(fused)) return false;
      fused = fused || step->fuses();
    }
    return true;
  }
  bool fuses() const override {
    for (const auto& step : steps_)
      if (step->fuses()) return true;
    return false;
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

std::string string_or(const Json& config, std::string_view key, std::string fallback, std::string_view component) {
  auto it = config.find(key);
  return it == config.end() || it->is_null() ? fallback : get_string(config, key, component);
}

}  // namespace

// As tokenizers: six bytes "<0x", two digits parsed by Rust's from_str_radix (which also takes a
// leading '+'), ">".
int parse_byte_token(std::string_view t) {
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (t[3] == '+') return hex(t[4]);
  int hi = hex(t[3]), lo = hex(t[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

std::unique_ptr<Decoder> parse_decoder(const Json& config) {
  if (config.is_null()) return nullptr;
  std::string type = type_of(config, "decoder");
  std::string component = "decoder " + type;
  if (type == "ByteLevel") return std::make_unique<ByteLevel>();
  if (type == "Replace")
    return std::make_unique<Replace>(parse_pattern(config, component), get_string(config, "content", component));
  if (type == "ByteFallback") return std::make_unique<ByteFallback>();
  if (type == "Fuse") return std::make_unique<Fuse>();
  if (type == "Strip")
    return std::make_unique<Strip>(get_char(config, "content", component), get_uint(config, "start", component),
                                   get_uint(config, "stop", component));
  if (type == "Metaspace") {
    std::string scheme = string_or(config, "prepend_scheme", "always", component);
    if (scheme != "always" && scheme != "first" && scheme != "never")
      config_error(component, "\"prepend_scheme\" must be \"always\", \"first\" or \"never\"");
    if (!get_bool_or(config, "add_prefix_space", true, component) && scheme != "never")
      config_error(component, "add_prefix_space does not match declared prepend_scheme");
    return std::make_unique<Metaspace>(get_char(config, "replacement", component), scheme != "never");
  }
  if (type == "WordPiece")
    return std::make_unique<WordPiece>(string_or(config, "prefix", "##", component),
                                       get_bool_or(config, "cleanup", true, component));
  if (type == "BPEDecoder") return std::make_unique<BpeDecoder>(string_or(config, "suffix", "</w>", component));
  if (type == "CTC")
    return std::make_unique<Ctc>(string_or(config, "pad_token", "<pad>", component),
                                 string_or(config, "word_delimiter_token", "|", component),
                                 get_bool_or(config, "cleanup", true, component));
  if (type == "Sequence") {
    const Json& list = require(config, "decoders", component);
    if (!list.is_array()) config_error(component, "\"decoders\" must be a list");
    std::vector<std::unique_ptr<Decoder>> steps;
    for (const Json& step : list) {
      if (auto d = parse_decoder(step)) steps.push_back(std::move(d));
      else config_error(component, "null decoder in a sequence");
    }
    return std::make_unique<Sequence>(std::move(steps));
  }
  config_error("decoder", fmt::format("unsupported type {:?}", type));
}

std::unique_ptr<Decoder> make_llama_decoder(bool strip_prefix_space) {
  std::vector<std::unique_ptr<Decoder>> steps;
  steps.push_back(std::make_unique<Replace>(Pattern::literal("\xE2\x96\x81"), " "));
  steps.push_back(std::make_unique<ByteFallback>());
  steps.push_back(std::make_unique<Fuse>());
  if (strip_prefix_space) steps.push_back(std::make_unique<Strip>(U' ', 1, 0));
  return std::make_unique<Sequence>(std::move(steps));
}

}  // namespace salut::tokenizer
