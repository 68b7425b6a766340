// tokenizer.json parsing: any input must load or end in salut::Error (never another exception,
// a crash or a sanitizer report), and a tokenizer that loads must encode and decode safely.

#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "fuzz_util.h"

using namespace salut::tokenizer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view json(reinterpret_cast<const char*>(data), size);
  std::optional<Tokenizer> tokenizer;
  try {
    tokenizer.emplace(Tokenizer::from_json(json));
  } catch (const salut::Error&) {
    return 0;  // refused, with a message: fine
  }
  static const char* const kTexts[] = {"", "Hello, world!", "  two  spaces\n\ttab", "naïve café 你好 😀 123",
                                       "<s>[INST] hi [/INST]</s>", "\xFF\xE4\xBD", "aaaaaaaaaaaaaaaaaaaaaaaa"};
  for (const char* text : kTexts) {
    try {
      for (bool special : {false, true}) {
        std::vector<int32_t> ids = tokenizer->encode(text, special);
        fuzz::check_decoding(*tokenizer, ids);
      }
    } catch (const salut::Error&) {
      // Encoding may fail as `tokenizers` does (an unknown token missing from the vocabulary,
      // a regex past its match limit): an error, never a crash.
    }
  }
  std::vector<int32_t> some_ids;
  for (int32_t id = -2; id < 40; ++id) some_ids.push_back(id);
  fuzz::check_decoding(*tokenizer, some_ids);
  (void)tokenizer->vocab_size();
  (void)tokenizer->token_to_id("a");
  (void)tokenizer->id_to_token(0);
  return 0;
}
