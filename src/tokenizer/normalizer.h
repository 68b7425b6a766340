#pragma once
// Normalizers: string-to-string rewrites applied to the text between added tokens.
// No offsets are tracked: the public API returns token IDs only.

#include <memory>
#include <string>

#include "tokenizer/json_util.h"

namespace salut::tokenizer {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(std::string& text) const = 0;
};

// Builds the normalizer described by tokenizer.json's "normalizer" (nullptr for null).
std::unique_ptr<Normalizer> parse_normalizer(const Json& config);

}  // namespace salut::tokenizer
