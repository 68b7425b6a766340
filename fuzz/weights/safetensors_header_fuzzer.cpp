// libFuzzer target: parse_safetensors_header on arbitrary bytes. A bad header must end in
// salut::Error; anything else (a crash, a sanitizer report, another exception) is a bug.
// Every tensor of a header that parses must lie inside the input.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "core/error.h"
#include "weights/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  try {
    const auto header = salut::weights::parse_safetensors_header(bytes, "fuzz");
    for (const auto& t : header.tensors)
      if (t.begin > t.end || header.data_offset + t.end > size) std::abort();
  } catch (const salut::Error&) {
  }
  return 0;
}
