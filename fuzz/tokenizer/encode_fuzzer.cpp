// Encoding arbitrary bytes with the real Qwen 3 and Llama 2 tokenizers (as `tokenizers` loads
// them, and Llama 2 as transformers does): no crash, IDs in range, streaming equals decode,
// and Qwen 3's byte-level encoding gives back the (repaired, NFC) text.

#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"

using namespace salut::tokenizer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Tokenizer qwen = fuzz::real_tokenizer("qwen3", false);
  static const Tokenizer llama2 = fuzz::real_tokenizer("llama2", false);
  static const Tokenizer llama2_transformers = fuzz::real_tokenizer("llama2", true);
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const Tokenizer* tokenizer : {&qwen, &llama2, &llama2_transformers}) {
    for (bool special : {false, true}) {
      std::vector<int32_t> ids = tokenizer->encode(text, special);
      for (int32_t id : ids) fuzz::check(id >= 0 && static_cast<size_t>(id) < tokenizer->vocab_size(), "ID out of range");
      fuzz::check_decoding(*tokenizer, ids);
    }
  }
  // Byte-level BPE loses nothing: decoding gives the NFC text back, special tokens included
  // (they are not normalized, and NFC leaves their ASCII alone).
  std::string valid = to_valid_utf8(text);
  if (qwen.decode(qwen.encode(valid, false), false) != normalize(valid, NormalForm::NFC)) {
    // NFC is applied between special tokens, not across them; only compare texts without '<'.
    fuzz::check(valid.find('<') != std::string::npos, "Qwen 3 round trip lost text");
  }
  return 0;
}
