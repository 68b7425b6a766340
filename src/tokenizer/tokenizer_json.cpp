// Loading tokenizer.json. The model's vocabulary and merges are streamed straight into their
// tables by JsonReader; the small components are parsed with nlohmann.

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "core/error.h"
#include "tokenizer/bpe.h"
#include "tokenizer/json_reader.h"
#include "tokenizer/tokenizer_parts.h"
#include "tokenizer/wordpiece.h"

namespace salut::tokenizer {
namespace {

// The "model" object, read in one pass whatever the order of its fields.
struct ModelFields {
  std::string type;
  Vocab vocab;
  bool has_vocab = false;
  bool vocab_is_list = false;  // Unigram's [[piece, score], ...]
  MergeList merges;
  bool has_merges = false;
  std::optional<std::string> unk_token, continuing_subword_prefix, end_of_word_suffix;
  bool fuse_unk = false, byte_fallback = false, ignore_merges = false;
  std::optional<uint64_t> max_input_chars_per_word;
};

std::optional<std::string> read_optional_string(JsonReader& r) {
  if (r.read_null()) return std::nullopt;
  std::string s;
  r.read_string(s);
  return s;
}

bool read_optional_bool(JsonReader& r) { return r.read_null() ? false : r.read_bool(); }

// All entries are read first, so that the table is sized once; then they are inserted in
// batches whose slots are prefetched first: the table is larger than the caches, and waiting for
// each slot in turn would be most of the load time.
void read_vocab(JsonReader& r, Vocab& vocab) {
  struct Entry {
    size_t offset, length;
    int64_t id;
    uint64_t hash;
  };
  std::string text;
  std::vector<Entry> entries;
  r.for_each_member([&](std::string_view token) {
    entries.push_back({text.size(), token.size(), r.read_integer(), Vocab::hash(token)});
    text.append(token);
  });
  vocab.reserve(entries.size());
  constexpr size_t kBatch = 32;
  for (size_t first = 0; first < entries.size(); first += kBatch) {
    size_t end = std::min(entries.size(), first + kBatch);
    for (size_t i = first; i < end; ++i) vocab.prefetch(entries[i].hash);
    for (size_t i = first; i < end; ++i)
      vocab.insert(std::string_view(text).substr(entries[i].offset, entries[i].length), entries[i].id, entries[i].hash);
  }
  vocab.finish();
}

// Merges are "left right" strings (split at the one space) or [left, right] pairs.
void read_merges(JsonReader& r, MergeList& merges) {
  std::string line, right;
  size_t rank = 0;
  r.for_each_element([&] {
    ++rank;
    line.clear();
    right.clear();
    if (r.peek() == '[') {
      int parts = 0;
      r.for_each_element([&] {
        ++parts;
        if (parts > 2) r.fail("a merge pair must have two tokens");
        r.read_string(parts == 1 ? line : right);
      });
      if (parts != 2) r.fail("a merge pair must have two tokens");
      merges.add(line, right);
      return;
    }
    r.read_string(line);
    if (line.starts_with("#version")) return;  // a merges.txt header; `tokenizers` skips it too
    size_t space = line.find(' ');
    if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos)
      r.fail(fmt::format("merge {} ({:?}) is not two tokens separated by a space", rank, line));
    merges.add(std::string_view(line).substr(0, space), std::string_view(line).substr(space + 1));
  });
}

ModelFields read_model(JsonReader& r) {
  ModelFields m;
  if (r.peek() != '{') r.fail("\"model\" must be an object");
  r.for_each_member([&](std::string_view key) {
    if (key == "type") {
      r.read_string(m.type);
    } else if (key == "vocab") {
      if (r.peek() == '{') {
        read_vocab(r, m.vocab);
      } else {
        r.skip_value();
        m.vocab_is_list = true;
      }
      m.has_vocab = true;
    } else if (key == "merges") {
      read_merges(r, m.merges);
      m.has_merges = true;
    } else if (key == "unk_token") {
      m.unk_token = read_optional_string(r);
    } else if (key == "continuing_subword_prefix") {
      m.continuing_subword_prefix = read_optional_string(r);
    } else if (key == "end_of_word_suffix") {
      m.end_of_word_suffix = read_optional_string(r);
    } else if (key == "fuse_unk") {
      m.fuse_unk = read_optional_bool(r);
    } else if (key == "byte_fallback") {
      m.byte_fallback = read_optional_bool(r);
    } else if (key == "ignore_merges") {
      m.ignore_merges = read_optional_bool(r);
    } else if (key == "max_input_chars_per_word") {
      int64_t n = r.read_integer();
      if (n < 0) r.fail("max_input_chars_per_word must be ≥ 0");
      m.max_input_chars_per_word = static_cast<uint64_t>(n);
    } else if (key == "dropout") {
      // BPE dropout only makes sense in training; like transformers at inference we ignore it.
      if (!r.read_null()) {
        double p = r.read_number();
        if (!(p >= 0.0 && p <= 1.0)) r.fail("dropout must be between 0 and 1");
      }
    } else {
      r.skip_value();
    }
  });
  return m;
}

std::unique_ptr<Model> build_model(ModelFields& m) {
  std::string type = m.type;
  if (type.empty() && m.has_merges) type = "BPE";  // very old files have no "type"
  if (type.empty()) throw Error(Errc::invalid_argument, "tokenizer.json: the model has no \"type\"");
  if (type == "Unigram")
    throw Error(Errc::invalid_argument, "tokenizer.json: Unigram models are not supported (BPE, WordPiece, WordLevel are)");
  if (type != "BPE" && type != "WordPiece" && type != "WordLevel")
    throw Error(Errc::invalid_argument, fmt::format("tokenizer.json: unknown model type {:?}", type));
  if (!m.has_vocab) throw Error(Errc::invalid_argument, fmt::format("tokenizer.json: the {} model has no vocab", type));
  if (m.vocab_is_list)
    throw Error(Errc::invalid_argument, fmt::format("tokenizer.json: the {} model's vocab must be an object", type));
  if (type == "BPE") {
    if (!m.has_merges) throw Error(Errc::invalid_argument, "tokenizer.json: the BPE model has no merges");
    BpeOptions options;
    options.unk_token = m.unk_token;
    options.continuing_subword_prefix = m.continuing_subword_prefix.value_or("");
    options.end_of_word_suffix = m.end_of_word_suffix.value_or("");
    options.fuse_unk = m.fuse_unk;
    options.byte_fallback = m.byte_fallback;
    options.ignore_merges = m.ignore_merges;
    return std::make_unique<Bpe>(std::move(m.vocab), m.merges, std::move(options));
  }
  if (type == "WordPiece") {
    return make_wordpiece(std::move(m.vocab), m.unk_token.value_or("[UNK]"), m.continuing_subword_prefix.value_or("##"),
                          m.max_input_chars_per_word.value_or(100));
  }
  return make_wordlevel(std::move(m.vocab), m.unk_token.value_or("<unk>"));
}

std::vector<AddedToken> parse_added_tokens(const Json& list) {
  if (list.is_null()) return {};
  if (!list.is_array()) config_error("added_tokens", "expected a list");
  std::vector<AddedToken> tokens;
  for (const Json& item : list) {
    AddedToken t;
    t.content = get_string(item, "content", "added_tokens");
    require(item, "id", "added_tokens");  // required by `tokenizers`, though it assigns IDs itself
    t.single_word = get_bool_or(item, "single_word", false, "added_tokens");
    t.lstrip = get_bool_or(item, "lstrip", false, "added_tokens");
    t.rstrip = get_bool_or(item, "rstrip", false, "added_tokens");
    t.normalized = get_bool_or(item, "normalized", true, "added_tokens");
    t.special = get_bool_or(item, "special", false, "added_tokens");
    tokens.push_back(std::move(t));
  }
  return tokens;
}

}  // namespace

TokenizerParts parse_tokenizer_json(std::string_view json) {
  JsonReader r(json, "tokenizer.json");
  std::optional<ModelFields> model;
  Json normalizer, pre_tokenizer, post_processor, decoder, added_tokens;
  auto small_value = [&] {
    std::string_view text = r.skip_value();
    try {
      return Json::parse(text);
    } catch (const Json::exception& e) {  // what the reader lets through, e.g. a number past double's range
      throw Error(Errc::invalid_argument, fmt::format("tokenizer.json: {}", e.what()));
    }
  };
  r.for_each_member([&](std::string_view key) {
    if (key == "model") model = read_model(r);
    else if (key == "normalizer") normalizer = small_value();
    else if (key == "pre_tokenizer") pre_tokenizer = small_value();
    else if (key == "post_processor") post_processor = small_value();
    else if (key == "decoder") decoder = small_value();
    else if (key == "added_tokens") added_tokens = small_value();
    else r.skip_value();  // version, truncation, padding
  });
  r.expect_end();
  if (!model) throw Error(Errc::invalid_argument, "tokenizer.json: no \"model\"");

  TokenizerParts parts;
  try {
    parts.model = build_model(*model);
    parts.normalizer = parse_normalizer(normalizer);
    parts.pre_tokenizer = parse_pre_tokenizer(pre_tokenizer);
    parts.post_processor = parse_post_processor(post_processor);
    parts.decoder = parse_decoder(decoder);
    parts.added_tokens = parse_added_tokens(added_tokens);
  } catch (const Json::exception& e) {
    throw Error(Errc::invalid_argument, fmt::format("tokenizer.json: {}", e.what()));
  }
  parts.mentions_byte_level = json.find("\"ByteLevel\"") != std::string_view::npos;
  return parts;
}

}  // namespace salut::tokenizer
