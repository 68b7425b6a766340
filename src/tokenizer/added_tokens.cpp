#include "tokenizer/added_tokens.h"

#include <algorithm>
#include <array>
#include <map>

#include "tokenizer/model.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/unicode.h"

namespace salut::tokenizer {

// Leftmost-longest matching of a set of strings with a byte trie; positions whose byte
// cannot start any token are skipped without touching the trie.
class AddedVocabulary::Matcher {
 public:
  void add(std::string_view pattern, int32_t id) {
    if (pattern.empty()) return;
    uint32_t node = 0;
    for (unsigned char b : pattern) {
      auto [it, inserted] = edges_.try_emplace(edge_key(node, b), static_cast<uint32_t>(values_.size()));
      if (inserted) values_.push_back(-1);
      node = it->second;
    }
    if (values_[node] < 0) values_[node] = id;  // two tokens normalizing alike: the first wins
    can_start_[static_cast<unsigned char>(pattern[0])] = true;
  }

  bool empty() const { return edges_.empty(); }

  // The leftmost-longest match at or after `from`.
  bool find(std::string_view text, size_t from, size_t& begin, size_t& end, int32_t& id) const {
    for (size_t pos = from; pos < text.size(); ++pos) {
      if (!can_start_[static_cast<unsigned char>(text[pos])]) continue;
      uint32_t node = 0;
      int32_t best = -1;
      size_t best_end = 0;
      for (size_t j = pos; j < text.size(); ++j) {
        auto it = edges_.find(edge_key(node, static_cast<unsigned char>(text[j])));
        if (it == edges_.end()) break;
        node = it->second;
        if (values_[node] >= 0) {
          best = values_[node];
          best_end = j + 1;
        }
      }
      if (best >= 0) {
        begin = pos;
        end = best_end;
        id = best;
        return true;
      }
    }
    return false;
  }

 private:
  static uint64_t edge_key(uint32_t node, unsigned char b) { return (uint64_t{node} << 8) | b; }

  std::unordered_map<uint64_t, uint32_t> edges_;
  std::vector<int32_t> values_{-1};  // per node; node 0 is the root
  std::array<bool, 256> can_start_{};
};

namespace {

bool ends_with_word_char(std::string_view text) {
  if (text.empty()) return false;
  size_t end = text.size();
  return is_word_char(previous_code_point(text, end));
}

bool starts_with_word_char(std::string_view text) {
  if (text.empty()) return false;
  size_t pos = 0;
  return is_word_char(next_code_point(text, pos));
}

// Where the whitespace at the end of `text` starts.
size_t trailing_space_start(std::string_view text) {
  size_t end = text.size();
  while (end > 0) {
    size_t before = end;
    if (!is_whitespace(previous_code_point(text, before))) break;
    end = before;
  }
  return end;
}

// How many bytes of whitespace `text` starts with.
size_t leading_space_length(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t next = pos;
    if (!is_whitespace(next_code_point(text, next))) break;
    pos = next;
  }
  return pos;
}

}  // namespace

AddedVocabulary::AddedVocabulary() = default;
AddedVocabulary::~AddedVocabulary() = default;
AddedVocabulary::AddedVocabulary(AddedVocabulary&&) noexcept = default;
AddedVocabulary& AddedVocabulary::operator=(AddedVocabulary&&) noexcept = default;

void AddedVocabulary::add(const std::vector<AddedToken>& tokens, const Model& model, const Normalizer* normalizer) {
  size_t model_size = model.vocab_size();
  int64_t next_id = static_cast<int64_t>(model_size);
  if (!by_id_.empty()) {
    int32_t max_id = 0;
    for (const auto& [id, token] : by_id_) max_id = std::max(max_id, id);
    if (static_cast<size_t>(max_id) >= model_size || model_size == 0) next_id = int64_t{max_id} + 1;
  }
  for (const AddedToken& token : tokens) {
    if (token.content.empty()) continue;
    auto known = by_content_.find(token.content);
    if (known != by_content_.end() && by_id_.at(known->second) == token) continue;
    int32_t id;
    if (known != by_content_.end()) id = known->second;
    else if (int32_t model_id = model.token_to_id(token.content); model_id >= 0) id = model_id;
    else id = static_cast<int32_t>(next_id++);
    if (token.normalized && normalizer) {
      std::string form = token.content;
      normalizer->normalize(form);
      if (form != token.content) normalized_form_[id] = std::move(form);
    }
    by_content_[token.content] = id;
    if (token.special) special_.insert(token.content);
    by_id_[id] = token;
  }
  rebuild_matchers();
}

void AddedVocabulary::rebuild_matchers() {
  raw_matcher_ = std::make_unique<Matcher>();
  normalized_matcher_ = std::make_unique<Matcher>();
  std::map<int32_t, const AddedToken*> ordered;  // deterministic order
  for (const auto& [id, token] : by_id_) ordered[id] = &token;
  for (const auto& [id, token] : ordered) {
    if (!token->normalized) {
      raw_matcher_->add(token->content, id);
    } else {
      auto form = normalized_form_.find(id);
      normalized_matcher_->add(form != normalized_form_.end() ? form->second : token->content, id);
    }
  }
}

bool AddedVocabulary::has_normalized_tokens() const { return normalized_matcher_ && !normalized_matcher_->empty(); }

void AddedVocabulary::split_raw(std::string_view text, std::vector<Segment>& out) const {
  split(text, raw_matcher_.get(), out);
}

void AddedVocabulary::split_normalized(std::string_view text, std::vector<Segment>& out) const {
  split(text, normalized_matcher_.get(), out);
}

// tokenizers' find_matches: each leftmost-longest match is kept unless single_word rejects it
// (then the search goes on after it), and grows over whitespace for lstrip / rstrip.
void AddedVocabulary::split(std::string_view text, const Matcher* matcher, std::vector<Segment>& out) const {
  out.clear();
  size_t done = 0;  // end of the last kept token
  size_t from = 0;
  size_t begin, end;
  int32_t id;
  while (matcher && !matcher->empty() && matcher->find(text, from, begin, end, id)) {
    from = end;
    const AddedToken& token = by_id_.at(id);
    if (token.single_word) {
      bool space_before = begin == 0 || !ends_with_word_char(text.substr(0, begin));
      bool space_after = end == text.size() || !starts_with_word_char(text.substr(end));
      if (!space_before || !space_after) continue;
    }
    if (token.lstrip) begin = std::max(trailing_space_start(text.substr(0, begin)), done);
    if (token.rstrip) end += leading_space_length(text.substr(end));
    if (done < begin) out.push_back({done, begin, -1});
    out.push_back({begin, end, id});
    done = end;  // the search itself goes on from the match's own end, as in `tokenizers`
  }
  if (done < text.size() || out.empty()) out.push_back({done, text.size(), -1});
}

int32_t AddedVocabulary::token_to_id(std::string_view content) const {
  auto it = by_content_.find(content);
  return it == by_content_.end() ? -1 : it->second;
}

const std::string* AddedVocabulary::decode_form(int32_t id) const {
  if (auto form = normalized_form_.find(id); form != normalized_form_.end()) return &form->second;
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &it->second.content;
}

bool AddedVocabulary::is_special(int32_t id) const {
  auto it = by_id_.find(id);
  return it != by_id_.end() && is_special_content(it->second.content);
}

}  // namespace salut::tokenizer
