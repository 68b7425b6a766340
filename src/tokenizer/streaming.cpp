// The streaming detokenizer, after `tokenizers`' DecodeStream. Decoding IDs one at a time would
// be wrong: a character can span several byte tokens, and decoders treat the first token
// specially (SentencePiece drops its leading space). So the recent IDs are decoded together,
// and only what they add beyond the text already returned is new. Text that ends in U+FFFD may
// be a character still missing bytes, so it waits for the next ID (or finish()). So does a run
// of byte-fallback tokens (<0xE4><0xBD><0xA0>): its decoder reads the run as a whole, and a bad
// byte at its end would turn what came before into U+FFFD too.

#include "tokenizer/tokenizer.h"

namespace salut::tokenizer {
namespace {

bool ends_with_replacement(const std::string& s) { return s.ends_with("\xEF\xBF\xBD"); }

}  // namespace

StreamingDetokenizer::StreamingDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(tokenizer), skip_special_tokens_(skip_special_tokens), by_window_(tokenizer.streams_by_window()) {}

bool StreamingDetokenizer::in_byte_run() const {
  for (auto it = window_.rbegin(); it != window_.rend(); ++it)
    if (!tokenizer_.decodes_to_nothing(*it, skip_special_tokens_)) return tokenizer_.continues_byte_run(*it);
  return false;
}

std::string StreamingDetokenizer::push(int32_t id) {
  if (prefix_.empty() && by_window_ && !window_.empty() && !in_byte_run()) {
    // Nothing returned yet from this window: its text so far becomes the reference once complete.
    std::string text = tokenizer_.decode(window_, skip_special_tokens_);
    if (!ends_with_replacement(text)) {
      prefix_ = std::move(text);
      prefix_ids_ = window_.size();
    }
  }
  window_.push_back(id);
  if (!by_window_ || in_byte_run()) return "";
  std::string text = tokenizer_.decode(window_, skip_special_tokens_);
  if (text.size() <= prefix_.size() || ends_with_replacement(text) || !text.starts_with(prefix_)) return "";
  std::string fresh = text.substr(prefix_.size());
  // Keep the IDs that produced `fresh` as context for the next ones.
  size_t kept = window_.size() - prefix_ids_;
  window_.erase(window_.begin(), window_.begin() + static_cast<std::ptrdiff_t>(prefix_ids_));
  prefix_ = tokenizer_.decode(window_, skip_special_tokens_);
  prefix_ids_ = kept;
  return fresh;
}

std::string StreamingDetokenizer::finish() {
  std::string text = tokenizer_.decode(window_, skip_special_tokens_);
  std::string rest = text.starts_with(prefix_) ? text.substr(prefix_.size()) : "";
  window_.clear();
  prefix_.clear();
  prefix_ids_ = 0;
  return rest;
}

}  // namespace salut::tokenizer
