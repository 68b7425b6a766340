#pragma once
// Shared helpers of the tokenizer tests: test data, gzip, cached real tokenizers.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace salut::tokenizer::test {

std::filesystem::path data_dir();  // tests/data/tokenizers
std::string read_gz(const std::filesystem::path& path);
nlohmann::json read_json_gz(const std::filesystem::path& path);

// The real tokenizers of tests/data/tokenizers/<name>/, loaded once: with_config = true reads
// tokenizer_config.json too (transformers' AutoTokenizer), false is tokenizer.json alone.
const Tokenizer& real_tokenizer(const std::string& name, bool with_config);
std::string real_tokenizer_json(const std::string& name);

// Everything a StreamingDetokenizer returns for `ids`, fed one at a time, plus finish().
std::string stream_decode(const Tokenizer& tokenizer, const std::vector<int32_t>& ids, bool skip_special);

// FNV-1a (64-bit, hex) of IDs as little-endian int32, and of bytes; the golden generator
// computes the same.
std::string fnv_ids(const std::vector<int32_t>& ids);
std::string fnv_bytes(std::string_view bytes);

std::vector<int32_t> ids_of(const nlohmann::json& list);

}  // namespace salut::tokenizer::test
