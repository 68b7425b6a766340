#pragma once
// A strict streaming JSON reader for the large parts of tokenizer.json: the vocabulary and
// merges hold hundreds of thousands of entries, and building an nlohmann DOM of an 11 MB file
// takes longer than our whole load budget. Small values are handed to nlohmann as raw spans.
// Like serde_json (what `tokenizers` uses), it rejects nesting deeper than 128 levels.

#include <cstdint>
#include <string>
#include <string_view>

namespace salut::tokenizer {

class JsonReader {
 public:
  // `what` names the document in error messages ("tokenizer.json").
  JsonReader(std::string_view text, std::string what);

  // Calls on_member(key) for each member of the object that starts here; the callback must
  // consume the member's value. The key view is valid only during the call.
  template <class OnMember>
  void for_each_member(OnMember&& on_member) {
    enter('{');
    if (!consume('}')) {
      do {
        read_string(key_);
        expect(':');
        std::string key = std::move(key_);
        on_member(std::string_view(key));
        key_ = std::move(key);
        key_.clear();
      } while (consume(','));
      expect('}');
    }
    --depth_;
  }

  // Calls on_element() for each element of the array that starts here; it must consume it.
  template <class OnElement>
  void for_each_element(OnElement&& on_element) {
    enter('[');
    if (!consume(']')) {
      do on_element();
      while (consume(','));
      expect(']');
    }
    --depth_;
  }

  // The next value's first character ('\0' at the end of the text).
  char peek();
  // Appends the unescaped string value that starts here to `out`.
  void read_string(std::string& out);
  int64_t read_integer();
  double read_number();
  bool read_bool();
  // Consumes `null` and returns true, or returns false and consumes nothing.
  bool read_null();
  // Validates the value that starts here and returns its text.
  std::string_view skip_value();
  // Requires that only whitespace is left.
  void expect_end();

  [[noreturn]] void fail(std::string_view message) const;

 private:
  void skip_space();
  bool consume(char c);
  void expect(char c);
  void enter(char open);
  void skip_literal(std::string_view word);
  void skip_number();
  uint32_t read_hex4();

  std::string_view text_;
  std::string what_;
  size_t pos_ = 0;
  int depth_ = 0;
  std::string key_;
};

}  // namespace salut::tokenizer
