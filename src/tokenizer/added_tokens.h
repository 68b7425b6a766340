#pragma once
// Added tokens (special tokens like <|im_start|>, and user-added words): found in the text
// before the model sees it, leftmost-longest, with tokenizers' single_word, lstrip and rstrip
// rules. Tokens with normalized = false match the raw text; the others match the normalized
// text of what lies between the first ones.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace salut::tokenizer {

class Model;
class Normalizer;

// Lets unordered containers of std::string be searched with a string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;
using StringSet = std::unordered_set<std::string, StringHash, std::equal_to<>>;

struct AddedToken {
  std::string content;
  bool single_word = false;  // only where it is not part of a longer word
  bool lstrip = false;       // swallows the whitespace on its left
  bool rstrip = false;       // swallows the whitespace on its right
  bool normalized = true;    // matched against normalized text
  bool special = false;      // skipped by decode(skip_special_tokens)

  bool operator==(const AddedToken&) const = default;
};

// A stretch of text: an added token (id >= 0) or text for the model (id == -1).
struct Segment {
  size_t begin, end;
  int32_t id;
};

class AddedVocabulary {
 public:
  AddedVocabulary();
  ~AddedVocabulary();
  AddedVocabulary(AddedVocabulary&&) noexcept;
  AddedVocabulary& operator=(AddedVocabulary&&) noexcept;

  // Adds tokens as tokenizers' add_tokens does: a token the model (or this vocabulary) already
  // has keeps that ID, others get new IDs after the model's; the IDs written in
  // tokenizer.json are not used, exactly as in `tokenizers`.
  void add(const std::vector<AddedToken>& tokens, const Model& model, const Normalizer* normalizer);

  // Cuts `text` at the tokens that match raw text (normalized = false).
  void split_raw(std::string_view text, std::vector<Segment>& out) const;
  // Cuts normalized `text` at the tokens that match normalized text.
  void split_normalized(std::string_view text, std::vector<Segment>& out) const;
  bool has_normalized_tokens() const;

  int32_t token_to_id(std::string_view content) const;
  // The token's text as the decoder should see it (its normalized form where normalization
  // changes it), or nullptr for IDs that are not added tokens.
  const std::string* decode_form(int32_t id) const;
  bool is_special_content(std::string_view content) const { return special_.find(content) != special_.end(); }
  bool is_special(int32_t id) const;
  // The number of contents (tokens the model does not have count toward the vocab size).
  size_t size() const { return by_content_.size(); }
  const StringMap<int32_t>& by_content() const { return by_content_; }

 private:
  class Matcher;
  void split(std::string_view text, const Matcher* matcher, std::vector<Segment>& out) const;
  void rebuild_matchers();

  StringMap<int32_t> by_content_;
  std::unordered_map<int32_t, AddedToken> by_id_;
  std::unordered_map<int32_t, std::string> normalized_form_;
  StringSet special_;
  std::unique_ptr<Matcher> raw_matcher_, normalized_matcher_;
};

}  // namespace salut::tokenizer
