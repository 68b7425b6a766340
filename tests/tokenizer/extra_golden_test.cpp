// Our own goldens (extra_goldens.json.gz, written by make_extra_goldens.py from the Python
// `tokenizers` and `transformers` packages): a large nasty corpus through the real tokenizers,
// every Unicode code point, and small tokenizers with every component swapped in.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "test_util.h"
#include "tokenizer/unicode.h"

namespace salut::tokenizer::test {
namespace {

using nlohmann::json;

const json& goldens() {
  static const json data = read_json_gz(data_dir() / "extra_goldens.json.gz");
  return data;
}

std::string base64_decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
  };
  std::string out;
  int bits = 0, buffer = 0;
  for (char c : in) {
    int v = value(c);
    if (v < 0) continue;
    buffer = (buffer << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}

// Corpus items are strings, or {"b64": ...} for byte strings that are not UTF-8.
std::vector<std::string> corpus(const json& items) {
  std::vector<std::string> out;
  for (const json& item : items) out.push_back(item.is_string() ? item.get<std::string>() : base64_decode(item["b64"].get<std::string>()));
  return out;
}

std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 120)) {
    if (c < 0x20 || c == 0x7F) out += fmt::format("\\x{:02x}", c);
    else out += static_cast<char>(c);
  }
  return to_valid_utf8(out) + (s.size() > 120 ? "..." : "");
}

std::string digest(const Tokenizer& tokenizer, std::string_view text) {
  std::vector<int32_t> ids = tokenizer.encode(text, false), special = tokenizer.encode(text, true);
  std::string bytes;
  auto add_ids = [&](const std::vector<int32_t>& list) {
    for (int32_t id : list)
      for (int shift = 0; shift < 32; shift += 8) bytes.push_back(static_cast<char>((static_cast<uint32_t>(id) >> shift) & 0xFF));
  };
  add_ids(ids);
  bytes += "\xFF\xFF\xFF\xFF";
  add_ids(special);
  bytes += "\xFF\xFF\xFF\xFF";
  bytes += tokenizer.decode(special, false);
  bytes.push_back('\0');
  bytes += tokenizer.decode(special, true);
  return fnv_bytes(bytes);
}

// The pseudo-random ID lists of make_extra_goldens.py.
std::vector<std::vector<int32_t>> lcg_id_lists(uint64_t seed, uint64_t bound) {
  uint64_t x = seed;
  auto step = [&] {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x >> 33;
  };
  std::vector<std::vector<int32_t>> lists;
  for (int n = 0; n < 40; ++n) {
    uint64_t length = 1 + step() % 24;
    std::vector<int32_t> ids;
    for (uint64_t i = 0; i < length; ++i) ids.push_back(static_cast<int32_t>(step() % (bound + 8)) - 4);
    lists.push_back(std::move(ids));
  }
  return lists;
}

// Checks the decode digest, and that streaming gives what decode gives on those lists.
// `expected` is null where `tokenizers` itself panicked on one of the lists: then only
// streaming against our own decode is checked.
void check_decoding(const Tokenizer& tokenizer, uint64_t seed, const json& expected, const std::string& what) {
  std::string bytes;
  for (const auto& ids : lcg_id_lists(seed, tokenizer.vocab_size())) {
    for (bool skip : {false, true}) {
      std::string text = tokenizer.decode(ids, skip);
      bytes += text;
      bytes.push_back('\0');
      EXPECT_EQ(stream_decode(tokenizer, ids, skip), text) << what << " (streaming)";
    }
  }
  if (!expected.is_null()) {
    EXPECT_EQ(fnv_bytes(bytes), expected.get<std::string>()) << what << " (decode of random IDs)";
  }
}

// A variant: its base tokenizer with the changes of make_extra_goldens.py's apply().
json variant_config(const json& variant) {
  json config = goldens()["bases"][variant["base"].get<std::string>()];
  for (const auto& [key, value] : variant["changes"].items()) {
    if (key == "model") {
      for (const auto& [field, v] : value.items()) config["model"][field] = v;
    } else if (key == "added_tokens") {
      for (const json& token : value) config["added_tokens"].push_back(token);
    } else {
      config[key] = value;
    }
  }
  return config;
}

void check_real(const std::string& name, bool with_config) {
  const json& entry = goldens()["real"][name];
  json results = entry["tokenizer_json"];
  if (with_config)  // transformers' results, where they differ: {index: result}
    for (const auto& [index, result] : entry["transformers"].items()) results[std::stoul(index)] = result;
  std::vector<std::string> texts = corpus(goldens()["corpus"]);
  ASSERT_EQ(texts.size(), results.size());
  const Tokenizer& tokenizer = real_tokenizer(name, with_config);
  int failures = 0;
  for (size_t i = 0; i < texts.size() && failures < 10; ++i) {
    const json& r = results[i];
    std::vector<int32_t> ids = ids_of(r["ids"]);
    std::vector<int32_t> special = r.contains("ids_special") ? ids_of(r["ids_special"]) : ids;
    std::string decoded = r.contains("decoded") ? r["decoded"].get<std::string>() : to_valid_utf8(texts[i]);
    std::string skipped = r.contains("decoded_skip") ? r["decoded_skip"].get<std::string>() : decoded;
    std::vector<int32_t> got = tokenizer.encode(texts[i], false);
    std::vector<int32_t> got_special = tokenizer.encode(texts[i], true);
    std::string got_decoded = tokenizer.decode(special, false), got_skipped = tokenizer.decode(special, true);
    bool ok = got == ids && got_special == special && got_decoded == decoded && got_skipped == skipped &&
              stream_decode(tokenizer, special, false) == got_decoded &&
              stream_decode(tokenizer, special, true) == got_skipped;
    if (!ok) {
      ++failures;
      ADD_FAILURE() << name << (with_config ? " (transformers)" : " (tokenizer.json)") << " text #" << i << ": "
                    << printable(texts[i]) << "\n  ids " << ::testing::PrintToString(got) << "\n want "
                    << ::testing::PrintToString(ids) << "\n  decoded " << printable(got_decoded) << "\n want    "
                    << printable(decoded);
    }
  }
}

class RealTokenizers : public ::testing::TestWithParam<std::string> {};

TEST_P(RealTokenizers, CorpusAsTokenizersLoadsIt) { check_real(GetParam(), false); }
TEST_P(RealTokenizers, CorpusAsTransformersLoadsIt) { check_real(GetParam(), true); }

TEST_P(RealTokenizers, EveryCodePoint) {
  const json& digests = goldens()["sweeps"][GetParam()];
  const Tokenizer& tokenizer = real_tokenizer(GetParam(), false);
  std::vector<char32_t> code_points;
  for (char32_t c = 0; c < 0x110000; ++c)
    if (c < 0xD800 || c > 0xDFFF) code_points.push_back(c);
  int failures = 0;
  for (size_t chunk = 0; chunk * 4096 < code_points.size() && failures < 5; ++chunk) {
    std::string text;
    for (size_t i = 0; i < 4096 && chunk * 4096 + i < code_points.size(); ++i) {
      if (i && i % 64 == 0) text += '\n';
      else if (i && i % 8 == 0) text += ' ';
      append_utf8(text, code_points[chunk * 4096 + i]);
    }
    if (digest(tokenizer, text) != digests[chunk].get<std::string>()) {
      ++failures;
      ADD_FAILURE() << GetParam() << ": code points from U+" << fmt::format("{:04X}", static_cast<uint32_t>(code_points[chunk * 4096]));
    }
  }
}

TEST_P(RealTokenizers, DecodeRandomIds) {
  check_decoding(real_tokenizer(GetParam(), false), GetParam().size(), goldens()["decode"][GetParam()], GetParam());
}

INSTANTIATE_TEST_SUITE_P(Real, RealTokenizers, ::testing::Values("qwen3", "llama3_1", "llama2", "deepseek_v3"));

TEST(Variants, EveryComponent) {
  std::vector<std::string> texts = corpus(goldens()["variant_corpus"]);
  const json& variants = goldens()["variants"];
  for (size_t v = 0; v < variants.size(); ++v) {
    const json& variant = variants[v];
    std::string name = variant["name"];
    SCOPED_TRACE(name);
    Tokenizer tokenizer = Tokenizer::from_json(variant_config(variant).dump());
    int failures = 0;
    for (size_t i = 0; i < texts.size() && failures < 3; ++i) {
      std::string got = digest(tokenizer, texts[i]);  // computed even where `tokenizers` panicked: no crash here
      if (!variant["digests"][i].is_null() && got != variant["digests"][i].get<std::string>()) {
        ++failures;
        ADD_FAILURE() << name << " text #" << i << ": " << printable(texts[i]) << "\n  ids "
                      << ::testing::PrintToString(tokenizer.encode(texts[i], true)) << "\n  decoded "
                      << printable(tokenizer.decode(tokenizer.encode(texts[i], true), false));
      }
    }
    check_decoding(tokenizer, 1000 + v, variant["decode"], name);
  }
}

}  // namespace
}  // namespace salut::tokenizer::test
