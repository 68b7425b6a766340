// Decoding arbitrary ID arrays (4 bytes each, little-endian) with the real Qwen 3 (byte-level)
// and Llama 2 (byte fallback, leading-space strip) tokenizers: valid UTF-8, never a crash, and
// the streaming detokenizer gives exactly what decode gives.

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz_util.h"

using namespace salut::tokenizer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Tokenizer qwen = fuzz::real_tokenizer("qwen3", false);
  static const Tokenizer llama2 = fuzz::real_tokenizer("llama2", true);
  std::vector<int32_t> raw(size / 4);
  if (!raw.empty()) std::memcpy(raw.data(), data, raw.size() * 4);
  for (const Tokenizer* tokenizer : {&qwen, &llama2}) {
    // Mostly IDs the tokenizer has (so byte tokens and specials come up often), some not.
    std::vector<int32_t> ids;
    auto bound = static_cast<uint32_t>(tokenizer->vocab_size() + 16);
    for (int32_t v : raw) ids.push_back(v < 0 ? v : static_cast<int32_t>(static_cast<uint32_t>(v) % bound));
    fuzz::check_decoding(*tokenizer, ids);
  }
  return 0;
}
