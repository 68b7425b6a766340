#include "tokenizer/wordpiece.h"

#include <fmt/format.h>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace salut::tokenizer {
namespace {

int32_t unk_id_or_throw(const Vocab& vocab, const std::string& unk_token) {
  int32_t id = vocab.find(unk_token);
  if (id < 0)
    throw Error(Errc::invalid_argument, fmt::format("the unknown token {:?} is not in the vocabulary", unk_token));
  return id;
}

class WordPiece final : public Model {
 public:
  WordPiece(Vocab vocab, std::string unk, std::string prefix, size_t max_chars)
      : vocab_(std::move(vocab)), unk_(std::move(unk)), prefix_(std::move(prefix)), max_chars_(max_chars) {}

  void tokenize(std::string_view word, std::vector<int32_t>& ids) const override {
    size_t chars = 0;
    for (size_t pos = 0; pos < word.size(); ++chars) next_code_point(word, pos);
    if (chars > max_chars_) return ids.push_back(unk_id_or_throw(vocab_, unk_));
    size_t first = ids.size();
    std::string candidate;
    for (size_t start = 0; start < word.size();) {
      // The longest vocabulary entry that starts here (with the prefix inside a word).
      size_t end = word.size();
      int32_t found = -1;
      while (start < end) {
        candidate.assign(start > 0 ? prefix_ : "");
        candidate.append(word.substr(start, end - start));
        found = vocab_.find(candidate);
        if (found >= 0) break;
        size_t last = end;
        previous_code_point(word.substr(0, end), last);
        end = last;
      }
      if (found < 0) {  // no way to spell the word: it is unknown as a whole
        ids.resize(first);
        return ids.push_back(unk_id_or_throw(vocab_, unk_));
      }
      ids.push_back(found);
      start = end;
    }
  }

  int32_t token_to_id(std::string_view token) const override { return vocab_.find(token); }
  std::optional<std::string_view> id_to_token(int32_t id) const override { return vocab_.token(id); }
  size_t vocab_size() const override { return vocab_.size(); }

 private:
  Vocab vocab_;
  std::string unk_, prefix_;
  size_t max_chars_;
};

class WordLevel final : public Model {
 public:
  WordLevel(Vocab vocab, std::string unk) : vocab_(std::move(vocab)), unk_(std::move(unk)) {}

  void tokenize(std::string_view word, std::vector<int32_t>& ids) const override {
    int32_t id = vocab_.find(word);
    ids.push_back(id >= 0 ? id : unk_id_or_throw(vocab_, unk_));
  }
  int32_t token_to_id(std::string_view token) const override { return vocab_.find(token); }
  std::optional<std::string_view> id_to_token(int32_t id) const override { return vocab_.token(id); }
  size_t vocab_size() const override { return vocab_.size(); }

 private:
  Vocab vocab_;
  std::string unk_;
};

}  // namespace

std::unique_ptr<Model> make_wordpiece(Vocab vocab, std::string unk_token, std::string continuing_subword_prefix,
                                      size_t max_input_chars_per_word) {
  return std::make_unique<WordPiece>(std::move(vocab), std::move(unk_token), std::move(continuing_subword_prefix),
                                     max_input_chars_per_word);
}

std::unique_ptr<Model> make_wordlevel(Vocab vocab, std::string unk_token) {
  return std::make_unique<WordLevel>(std::move(vocab), std::move(unk_token));
}

}  // namespace salut::tokenizer
