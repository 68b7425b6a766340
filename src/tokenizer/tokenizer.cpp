#include "tokenizer/tokenizer.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer_parts.h"
#include "tokenizer/unicode.h"

namespace salut::tokenizer {
namespace {

std::string read_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw Error(Errc::not_found, fmt::format("{} does not exist", path.string()));
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (!in) throw Error(Errc::io, fmt::format("cannot read {}", path.string()));
  return std::move(buffer).str();
}

// Pre-tokenizes one stretch of normalized text and tokenizes its pieces.
void encode_text(const TokenizerParts& parts, std::string_view text, bool at_start, std::vector<int32_t>& ids) {
  thread_local PreTokenized pre;
  pre.text.assign(text);
  pre.pieces.assign(1, {0, text.size(), at_start});
  if (parts.pre_tokenizer) parts.pre_tokenizer->pre_tokenize(pre);
  for (const PreTokenized::Piece& piece : pre.pieces) parts.model->tokenize(pre.view(piece), ids);
}

}  // namespace

void TokenizerParts::finish() {
  added = AddedVocabulary();
  added.add(added_tokens, *model, normalizer.get());
  vocab_size = model->vocab_size();
  for (const auto& [content, id] : added.by_content())
    if (model->token_to_id(content) < 0) ++vocab_size;
  if (pre_tokenizer && pre_tokenizer->ends_with_byte_level() && model->read_raw_bytes())
    pre_tokenizer->leave_bytes_unmapped();
}

Tokenizer::Tokenizer(std::shared_ptr<const TokenizerParts> parts) : parts_(std::move(parts)) {}

Tokenizer make_tokenizer(std::shared_ptr<const TokenizerParts> parts) { return Tokenizer(std::move(parts)); }

Tokenizer Tokenizer::from_json(std::string_view tokenizer_json) {
  auto parts = std::make_shared<TokenizerParts>(parse_tokenizer_json(tokenizer_json));
  parts->finish();
  return Tokenizer(std::move(parts));
}

Tokenizer Tokenizer::from_json(std::string_view tokenizer_json, std::string_view tokenizer_config_json) {
  auto parts = std::make_shared<TokenizerParts>(parse_tokenizer_json(tokenizer_json));
  apply_transformers_config(*parts, tokenizer_config_json);
  parts->finish();
  return Tokenizer(std::move(parts));
}

Tokenizer Tokenizer::from_file(const std::filesystem::path& tokenizer_json) {
  return from_json(read_file(tokenizer_json));
}

Tokenizer Tokenizer::from_dir(const std::filesystem::path& model_dir) {
  std::string json = read_file(model_dir / "tokenizer.json");
  std::filesystem::path config = model_dir / "tokenizer_config.json";
  std::error_code ec;
  if (!std::filesystem::exists(config, ec)) return from_json(json);
  return from_json(json, read_file(config));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  const TokenizerParts& parts = *parts_;
  std::string repaired;
  if (!is_valid_utf8(text)) {
    repaired = to_valid_utf8(text);
    text = repaired;
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 8);
  thread_local std::vector<Segment> segments, inner;
  thread_local std::string normalized;
  parts.added.split_raw(text, segments);
  for (const Segment& segment : segments) {
    if (segment.id >= 0) {
      ids.push_back(segment.id);
      continue;
    }
    normalized.assign(text.substr(segment.begin, segment.end - segment.begin));
    if (parts.normalizer) parts.normalizer->normalize(normalized);
    bool at_start = segment.begin == 0;
    if (!parts.added.has_normalized_tokens()) {
      if (!normalized.empty()) encode_text(parts, normalized, at_start, ids);
      continue;
    }
    parts.added.split_normalized(normalized, inner);
    for (const Segment& s : inner) {
      if (s.id >= 0) ids.push_back(s.id);
      else if (s.end > s.begin)
        encode_text(parts, std::string_view(normalized).substr(s.begin, s.end - s.begin), at_start && s.begin == 0, ids);
    }
  }
  if (add_special_tokens && parts.post_processor) parts.post_processor->add_special_tokens(ids);
  return ids;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  const TokenizerParts& parts = *parts_;
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    std::string_view token;
    if (const std::string* added = parts.added.decode_form(id)) token = *added;
    else if (auto model_token = parts.model->id_to_token(id)) token = *model_token;
    else continue;  // unknown IDs are skipped
    if (skip_special_tokens && parts.added.is_special_content(token)) continue;
    tokens.emplace_back(token);
  }
  std::string text;
  if (parts.decoder) {
    parts.decoder->decode_chain(tokens);
    for (const std::string& t : tokens) text += t;
  } else {
    for (size_t i = 0; i < tokens.size(); ++i) text += (i ? " " : "") + tokens[i];
  }
  return text;
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  int32_t id = parts_->added.token_to_id(token);
  if (id < 0) id = parts_->model->token_to_id(token);
  return id < 0 ? std::nullopt : std::optional<int32_t>(id);
}

std::string Tokenizer::id_to_token(int32_t id) const {
  if (const std::string* added = parts_->added.decode_form(id)) return *added;
  if (auto token = parts_->model->id_to_token(id)) return std::string(*token);
  return "";
}

size_t Tokenizer::vocab_size() const { return parts_->vocab_size; }

bool Tokenizer::is_special(int32_t id) const { return parts_->added.is_special(id); }

std::string Tokenizer::token_bytes(int32_t id) const {
  const TokenizerParts& parts = *parts_;
  if (const std::string* added = parts.added.decode_form(id)) return *added;
  std::optional<std::string_view> token = parts.model->id_to_token(id);
  if (!token) return "";
  if (!parts.decoder) return std::string(*token);
  const Decoder& decoder = *parts.decoder;
  if (int byte = parse_byte_token(*token); byte >= 0 && decoder.reads_byte_runs()) return std::string(1, static_cast<char>(byte));
  // A byte-level decoder reads U+0100 as the byte 0; decode() would repair a lone byte's UTF-8,
  // so the alphabet is mapped here instead (a token with other characters keeps its UTF-8).
  std::vector<std::string> probe{"\xC4\x80"};
  decoder.decode_chain(probe);
  if (probe.size() == 1 && probe[0] == std::string_view("\0", 1)) {
    std::string bytes;
    for (size_t pos = 0; pos < token->size();) {
      int b = byte_of_char(next_code_point(*token, pos));
      if (b < 0) return std::string(*token);
      bytes.push_back(static_cast<char>(b));
    }
    return bytes;
  }
  // Other decoders treat the first token specially (Metaspace's prefix space, Strip), so the token
  // is decoded after another one.
  std::vector<std::string> tokens{"a", std::string(*token)};
  decoder.decode_chain(tokens);
  std::string text;
  for (const std::string& t : tokens) text += t;
  return text.starts_with('a') ? text.substr(1) : text;
}

bool Tokenizer::decodes_to_nothing(int32_t id, bool skip_special_tokens) const {
  const std::string* added = parts_->added.decode_form(id);
  std::optional<std::string_view> token = added ? std::optional<std::string_view>(*added) : parts_->model->id_to_token(id);
  return !token || (skip_special_tokens && parts_->added.is_special_content(*token));
}

bool Tokenizer::streams_by_window() const { return !parts_->decoder || parts_->decoder->streams_by_window(false); }

bool Tokenizer::continues_byte_run(int32_t id) const {
  return parts_->decoder && parts_->decoder->reads_byte_runs() && parse_byte_token(id_to_token(id)) >= 0;
}

}  // namespace salut::tokenizer
