// Edge cases: broken input, every split behaviour, added-token options, merge formats, bad
// tokenizer.json files. Expected values come from the Python `tokenizers` package.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "core/error.h"
#include "test_util.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/unicode.h"

namespace salut::tokenizer::test {
namespace {

using nlohmann::json;

std::vector<std::string> pre_tokenize(const json& config, std::string_view text) {
  auto pre = parse_pre_tokenizer(config);
  PreTokenized pt{std::string(text), {{0, text.size(), true}}};
  pre->pre_tokenize(pt);
  std::vector<std::string> pieces;
  for (const auto& piece : pt.pieces) pieces.emplace_back(pt.view(piece));
  return pieces;
}

json split(const json& pattern, const char* behavior, bool invert) {
  return {{"type", "Split"}, {"pattern", pattern}, {"behavior", behavior}, {"invert", invert}};
}

using Pieces = std::vector<std::string>;

TEST(SplitBehaviors, AllBehaviorsBothWays) {
  // The examples of the `tokenizers` documentation, checked against the Python package.
  const std::string text = "the-final--countdown";
  const json dash = {{"String", "-"}};
  EXPECT_EQ(pre_tokenize(split(dash, "Removed", false), text), (Pieces{"the", "final", "countdown"}));
  EXPECT_EQ(pre_tokenize(split(dash, "Removed", true), text), (Pieces{"-", "-", "-"}));
  EXPECT_EQ(pre_tokenize(split(dash, "Isolated", false), text), (Pieces{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(pre_tokenize(split(dash, "Isolated", true), text), (Pieces{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(pre_tokenize(split(dash, "MergedWithPrevious", false), text),
            (Pieces{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(pre_tokenize(split(dash, "MergedWithPrevious", true), text),
            (Pieces{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(pre_tokenize(split(dash, "MergedWithNext", false), text), (Pieces{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(pre_tokenize(split(dash, "MergedWithNext", true), text), (Pieces{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(pre_tokenize(split(dash, "Contiguous", false), text), (Pieces{"the", "-", "final", "--", "countdown"}));
  EXPECT_EQ(pre_tokenize(split(dash, "Contiguous", true), text), (Pieces{"the", "-", "final", "--", "countdown"}));
}

TEST(SplitBehaviors, EmptyRegexMatchesFollowOniguruma) {
  // An empty match right after a match is skipped; other empty matches still cut.
  EXPECT_EQ(pre_tokenize(split({{"Regex", "x*"}}, "Removed", false), "axxbc"), (Pieces{"a", "b", "c"}));
  EXPECT_EQ(pre_tokenize(split({{"Regex", "\\s*"}}, "Isolated", false), "a  b"), (Pieces{"a", "  ", "b"}));
  EXPECT_EQ(pre_tokenize(split({{"String", ""}}, "Isolated", false), "abc"), (Pieces{"a", "b", "c"}));
}

TEST(SplitBehaviors, OnigurumaSyntax) {
  // ^ and $ match at line breaks, \h is a hex digit, {,n} is {0,n}.
  EXPECT_EQ(pre_tokenize(split({{"Regex", "^a"}}, "Removed", false), "ab\nab"), (Pieces{"b\n", "b"}));
  EXPECT_EQ(pre_tokenize(split({{"Regex", "\\h+"}}, "Removed", false), "ab09 zz"), (Pieces{" zz"}));
  EXPECT_EQ(pre_tokenize(split({{"Regex", "a{,2}"}}, "Isolated", false), "aaaa"), (Pieces{"aa", "aa"}));
  EXPECT_EQ(pre_tokenize(split({{"Regex", "(?i:'s)"}}, "Isolated", false), "x'S"), (Pieces{"x", "'S"}));
}

TEST(PreTokenizers, OthersMatchTokenizers) {
  EXPECT_EQ(pre_tokenize({{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", "first"}},
                         "hello  world"),
            (Pieces{"\xE2\x96\x81hello", "\xE2\x96\x81", "\xE2\x96\x81world"}));
  EXPECT_EQ(pre_tokenize({{"type", "Digits"}, {"individual_digits", false}}, "a123b45"),
            (Pieces{"a", "123", "b", "45"}));
  EXPECT_EQ(pre_tokenize({{"type", "Whitespace"}}, "Hey man!  Good?"), (Pieces{"Hey", "man", "!", "Good", "?"}));
  EXPECT_EQ(pre_tokenize({{"type", "Punctuation"}, {"behavior", "Contiguous"}}, "Hey!!! you?."),
            (Pieces{"Hey", "!!!", " you", "?."}));
  EXPECT_EQ(pre_tokenize({{"type", "BertPreTokenizer"}}, "Hey, friend!  ok"),
            (Pieces{"Hey", ",", "friend", "!", "ok"}));
  EXPECT_EQ(pre_tokenize({{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}}, "Hi, you?"),
            (Pieces{"\xC4\xA0Hi", ",", "\xC4\xA0you", "?"}));
}

// A tokenizer whose model maps single characters to IDs, to see which characters survive the
// added-token rules: " "=1, a=2, b=3, c=4, x=5, <=6, >=7, U+3000=8, \n=9.
Tokenizer char_tokenizer(const json& added_tokens) {
  json vocab = {{"<unk>", 0}, {" ", 1},         {"a", 2}, {"b", 3}, {"c", 4},
                {"x", 5},     {"<", 6},         {">", 7}, {"\xE3\x80\x80", 8}, {"\n", 9}};
  json config = {{"version", "1.0"},
                 {"added_tokens", added_tokens},
                 {"normalizer", nullptr},
                 {"pre_tokenizer", split({{"Regex", "."}}, "Isolated", false)},
                 {"post_processor", nullptr},
                 {"decoder", nullptr},
                 {"model", {{"type", "WordLevel"}, {"vocab", vocab}, {"unk_token", "<unk>"}}}};
  return Tokenizer::from_json(config.dump());
}

json added(const char* content, bool lstrip, bool rstrip, bool single_word) {
  return {{"id", 0},        {"content", content},     {"single_word", single_word}, {"lstrip", lstrip},
          {"rstrip", rstrip}, {"normalized", false}, {"special", false}};
}

TEST(AddedTokens, LstripRstripSingleWord) {
  using Ids = std::vector<int32_t>;
  Tokenizer lstrip = char_tokenizer(json::array({added("<x>", true, false, false)}));
  EXPECT_EQ(lstrip.encode("a <x> b", false), (Ids{2, 10, 1, 3}));
  EXPECT_EQ(lstrip.encode("a  <x>\xE3\x80\x80\nb", false), (Ids{2, 10, 8, 9, 3}));
  EXPECT_EQ(lstrip.encode(" <x> <x> ", false), (Ids{10, 10, 1}));
  Tokenizer rstrip = char_tokenizer(json::array({added("<x>", false, true, false)}));
  EXPECT_EQ(rstrip.encode("a  <x>\xE3\x80\x80\nb", false), (Ids{2, 1, 1, 10, 3}));
  EXPECT_EQ(rstrip.encode(" <x> <x> ", false), (Ids{1, 10, 10}));
  Tokenizer both = char_tokenizer(json::array({added("<x>", true, true, false)}));
  EXPECT_EQ(both.encode("a  <x>\xE3\x80\x80\nb", false), (Ids{2, 10, 3}));
  Tokenizer single = char_tokenizer(json::array({added("ab", false, false, true)}));
  EXPECT_EQ(single.encode("ab abc xab abx ab", false), (Ids{10, 1, 2, 3, 4, 1, 5, 2, 3, 1, 2, 3, 5, 1, 10}));
}

TEST(AddedTokens, LeftmostLongestAndIdsAssigned) {
  using Ids = std::vector<int32_t>;
  // IDs come from `tokenizers`' rules (after the model's vocabulary), not from the file.
  Tokenizer t = char_tokenizer(json::array({added("ab", false, false, false), added("abc", false, false, false),
                                            added("bc", false, false, false)}));
  EXPECT_EQ(t.encode("ab abc xab abx ab", false), (Ids{10, 1, 11, 1, 5, 10, 1, 10, 5, 1, 10}));
  EXPECT_EQ(t.encode("cabc bca", false), (Ids{4, 11, 1, 12, 2}));
  EXPECT_EQ(t.encode("abcab", false), (Ids{11, 10}));
  EXPECT_EQ(t.vocab_size(), 13u);
  EXPECT_EQ(t.token_to_id("abc"), 11);
  EXPECT_EQ(t.id_to_token(12), "bc");
  EXPECT_FALSE(t.is_special(12));
}

// A BPE over a, b, c with merges a+b and ab+c, in either serialisation.
std::string tiny_bpe(const json& merges) {
  json config = {{"added_tokens", json::array()},
                 {"normalizer", nullptr},
                 {"pre_tokenizer", {{"type", "WhitespaceSplit"}}},
                 {"post_processor", nullptr},
                 {"decoder", nullptr},
                 {"model",
                  {{"type", "BPE"},
                   {"vocab", {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"abc", 4}, {"<unk>", 5}}},
                   {"merges", merges},
                   {"unk_token", "<unk>"},
                   {"fuse_unk", true}}}};
  return config.dump();
}

TEST(Bpe, MergesInBothForms) {
  using Ids = std::vector<int32_t>;
  Tokenizer strings = Tokenizer::from_json(tiny_bpe({"a b", "ab c"}));
  Tokenizer pairs = Tokenizer::from_json(tiny_bpe(json::array({json::array({"a", "b"}), json::array({"ab", "c"})})));
  for (const Tokenizer* t : {&strings, &pairs}) {
    EXPECT_EQ(t->encode("abc ab cab", false), (Ids{4, 3, 2, 3}));
    EXPECT_EQ(t->encode("axyb", false), (Ids{0, 5, 1}));  // x, y fused into one <unk>
  }
}

TEST(Encode, EmptyText) {
  EXPECT_TRUE(real_tokenizer("qwen3", true).encode("", false).empty());
  EXPECT_EQ(real_tokenizer("llama3_1", true).encode("", true), std::vector<int32_t>{128000});
  EXPECT_EQ(real_tokenizer("llama2", true).encode("", true), std::vector<int32_t>{1});
  EXPECT_EQ(real_tokenizer("qwen3", true).decode({}, false), "");
}

TEST(Encode, InvalidUtf8IsRepairedLikePython) {
  // bytes.decode("utf-8", "replace"): one U+FFFD per maximal ill-formed subpart.
  EXPECT_EQ(to_valid_utf8("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(to_valid_utf8("\xE4\xBD"), "\xEF\xBF\xBD");                       // truncated 你
  EXPECT_EQ(to_valid_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
  EXPECT_EQ(to_valid_utf8("\xC0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");             // overlong NUL
  EXPECT_EQ(to_valid_utf8("\xF0\x9F\x98"), "\xEF\xBF\xBD");                   // truncated emoji
  EXPECT_EQ(to_valid_utf8("\xF4\x90\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  for (const char* name : {"qwen3", "llama2"}) {
    const Tokenizer& t = real_tokenizer(name, true);
    std::string bad = "x\xE4\xBD y\xFF\xFE\x80 <|im_end|>\xF0\x9F\x98";
    EXPECT_EQ(t.encode(bad, false), t.encode(to_valid_utf8(bad), false));
    EXPECT_EQ(t.decode(t.encode(bad, false), false), to_valid_utf8(bad)) << name;
  }
}

TEST(Encode, HugeInputs) {
  const Tokenizer& qwen = real_tokenizer("qwen3", true);
  // One piece of a million characters: BPE merges it like `tokenizers` does (slowly in both).
  for (std::string text : {std::string(1 << 20, 'a'), std::string(1 << 19, ' '), std::string(1 << 18, '7'),
                           std::string(1 << 18, '\n')}) {
    std::vector<int32_t> ids = qwen.encode(text, false);
    EXPECT_FALSE(ids.empty());
    EXPECT_EQ(qwen.decode(ids, false), text);
  }
  std::string emoji;
  for (int i = 0; i < 100000; ++i) emoji += "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD";  // 👍🏽
  EXPECT_EQ(qwen.decode(qwen.encode(emoji, false), false), emoji);
  const Tokenizer& llama2 = real_tokenizer("llama2", true);
  std::string words;
  for (int i = 0; i < 200000; ++i) words += "word" + std::to_string(i) + " ";
  EXPECT_EQ(llama2.decode(llama2.encode(words, false), false), words.substr(0, words.size()));
}

TEST(Encode, ThreadsAgree) {
  const Tokenizer& qwen = real_tokenizer("qwen3", true);
  std::vector<std::string> texts;
  for (int i = 0; i < 64; ++i) texts.push_back("Thread-safe " + std::to_string(i * 7919) + " 你好 <|im_start|> text");
  std::vector<std::vector<int32_t>> expected;
  for (const auto& t : texts) expected.push_back(qwen.encode(t, false));
  std::vector<std::thread> threads;
  std::atomic<int> mismatches = 0;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&] {
      for (int round = 0; round < 50; ++round)
        for (size_t i = 0; i < texts.size(); ++i)
          if (qwen.encode(texts[i], false) != expected[i]) ++mismatches;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches, 0);
}

TEST(Decode, UnknownIdsAreSkipped) {
  const Tokenizer& qwen = real_tokenizer("qwen3", true);
  EXPECT_EQ(qwen.decode(std::vector<int32_t>{-1, 9707, 999999999, 1879}, false), "Hello world");
  EXPECT_EQ(qwen.id_to_token(-5), "");
  EXPECT_FALSE(qwen.token_to_id("no such token at all").has_value());
  EXPECT_TRUE(qwen.is_special(151644));  // <|im_start|>
  EXPECT_EQ(qwen.vocab_size(), 151669u);
}

TEST(Streaming, WaitsForCompleteCharacters) {
  const Tokenizer& llama2 = real_tokenizer("llama2", true);
  // 你 is <0xE4><0xBD><0xA0> in Llama 2; nothing may come out before its last byte.
  std::vector<int32_t> ids = llama2.encode("\xE4\xBD\xA0 ok", false);
  StreamingDetokenizer stream(llama2, false);
  std::string out;
  for (int32_t id : ids) {
    std::string piece = stream.push(id);
    EXPECT_TRUE(is_valid_utf8(piece));
    EXPECT_FALSE(piece.ends_with("\xEF\xBF\xBD"));
    out += piece;
  }
  out += stream.finish();
  EXPECT_EQ(out, llama2.decode(ids, false));
  // An invalid byte sequence at the very end comes out at finish().
  StreamingDetokenizer broken(llama2, false);
  std::string tail = broken.push(*llama2.token_to_id("<0xE4>"));
  tail += broken.finish();
  EXPECT_EQ(tail, "\xEF\xBF\xBD");
}

TEST(Streaming, SentencePieceLeadingSpaceAndSpecialTokens) {
  const Tokenizer& llama2 = real_tokenizer("llama2", true);
  for (bool skip : {false, true}) {
    std::vector<int32_t> ids = llama2.encode(" Hello  world </s>again <s> x", true);
    EXPECT_EQ(stream_decode(llama2, ids, skip), llama2.decode(ids, skip));
  }
}

// Found by tokenizer_json_fuzzer: Strip(" ", 2, 0) after Fuse strips the text's first two spaces,
// which a window of recent tokens cannot know. Such decoders stream nothing until finish().
TEST(Streaming, DecodersThatNeedTheWholeTextStillMatchDecode) {
  const std::string json = R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "▁": 2, "▁b": 3}, "merges": []},
    "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
      {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 2, "stop": 1}]}})";
  const Tokenizer tokenizer = Tokenizer::from_json(json);
  for (const std::vector<int32_t>& ids : {std::vector<int32_t>{0, 2, 3}, {2, 2, 0, 2, 2, 1, 2}, {2}, {0, 2, 2}})
    EXPECT_EQ(stream_decode(tokenizer, ids, false), tokenizer.decode(ids, false));
}

void expect_error(std::string_view json_text, std::string_view message_part) {
  try {
    Tokenizer::from_json(json_text);
    ADD_FAILURE() << "no error for: " << json_text.substr(0, 200);
  } catch (const Error& e) {
    EXPECT_NE(std::string_view(e.what()).find(message_part), std::string_view::npos)
        << "message: " << e.what() << "\nexpected to contain: " << message_part;
  }
}

TEST(BadTokenizerJson, ClearErrors) {
  expect_error("", "unexpected end of file");
  expect_error("{\"model\": {\"type\": \"BPE\"", "unexpected end of file");
  expect_error("{\"model\": {}} trailing", "unexpected text after the document");
  expect_error("[1, 2]", "expected an object");
  expect_error(R"({"added_tokens": 5E7890})", "number overflow");  // found by tokenizer_json_fuzzer
  expect_error("{\"a\": \"\\x\"}", "invalid escape");
  expect_error("{\"a\": \"\\ud800\"}", "lone leading surrogate");
  expect_error("{\"version\": \"1.0\"}", "no \"model\"");
  expect_error(R"({"model": {"type": "Transformer", "vocab": {}}})", "unknown model type \"Transformer\"");
  expect_error(R"({"model": {"type": "BPE", "merges": []}})", "has no vocab");
  expect_error(R"({"model": {"type": "BPE", "vocab": {"a": 0}}})", "has no merges");
  expect_error(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})", "merge token \"b\"");
  expect_error(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b c"]}})", "not two tokens");
  expect_error(R"({"model": {"type": "BPE", "vocab": {"a": -1}, "merges": []}})", "out of range");
  expect_error(R"({"model": {"type": "BPE", "vocab": {"a": 1.5}, "merges": []}})", "expected an integer");
  expect_error(R"({"model": {"type": "Unigram", "vocab": [["a", -1.0]]}})", "Unigram models are not supported");
  std::string model = R"("model": {"type": "BPE", "vocab": {"a": 0}, "merges": []})";
  expect_error("{" + model + R"(, "normalizer": {"type": "Magic"}})", "unsupported type \"Magic\"");
  expect_error("{" + model + R"(, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(a"}, )"
                             R"("behavior": "Isolated", "invert": false}})",
               "invalid regex");
  expect_error("{" + model + R"(, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "a"}, )"
                             R"("behavior": "Sideways", "invert": false}})",
               "unknown split behavior");
  expect_error("{" + model + R"(, "decoder": {"type": "Strip", "content": "ab", "start": 1, "stop": 0}})",
               "single character");
  expect_error("{" + model + R"(, "post_processor": {"type": "TemplateProcessing", "single": )"
                             R"([{"SpecialToken": {"id": "<s>", "type_id": 0}}], "pair": [], "special_tokens": {}}})",
               "missing special token \"<s>\"");
  expect_error("{\"a\": " + std::string(200, '[') + std::string(200, ']') + "}", "nesting is too deep");
}

TEST(Files, FromFileAndFromDir) {
  auto dir = std::filesystem::temp_directory_path() / ("salut_tokenizer_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tokenizer.json") << real_tokenizer_json("llama2");
  std::ofstream(dir / "tokenizer_config.json") << read_gz(data_dir() / "llama2" / "tokenizer_config.json.gz");
  Tokenizer plain = Tokenizer::from_file(dir / "tokenizer.json");
  Tokenizer as_transformers = Tokenizer::from_dir(dir);
  // transformers' LlamaTokenizer does not add a second "▁" before a leading space.
  EXPECT_EQ(plain.encode(" leading space", false), (std::vector<int32_t>{28705, 5374, 2764}));
  EXPECT_EQ(as_transformers.encode(" leading space", false), (std::vector<int32_t>{5374, 2764}));
  EXPECT_THROW(Tokenizer::from_file(dir / "missing.json"), Error);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace salut::tokenizer::test
