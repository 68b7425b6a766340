// Tool-call and reasoning parsers (src/chat/tool_calls.h): format detection on the real templates,
// each format's syntax, streaming under every split of the input, hostile input, and the round
// trip through the real templates (a call rendered by the template parses back).

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <random>
#include <sstream>

#include "chat/chat_template.h"
#include "chat/tool_calls.h"
#include "test_data.h"

namespace salut::chat {
namespace {

using json = nlohmann::ordered_json;

std::string read_template(const std::string& file) {
  std::ifstream in(testing::data_dir() / "chat" / "templates" / file, std::ios::binary);
  EXPECT_TRUE(in) << file;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Concatenates streamed deltas the way a client does.
void merge(ParsedMessage& message, Delta delta) {
  message.content += delta.content;
  for (ToolCallDelta& c : delta.tool_calls) {
    ASSERT_GE(c.index, 0);
    ASSERT_LE(c.index, static_cast<int>(message.tool_calls.size()));
    if (c.index == static_cast<int>(message.tool_calls.size())) {
      EXPECT_FALSE(c.id.empty()) << "the first piece of a call carries its id";
      message.tool_calls.emplace_back();
    }
    ToolCall& call = message.tool_calls[c.index];
    if (!c.id.empty()) call.id = c.id;
    call.name += c.name;
    call.arguments += c.arguments;
  }
}

ParsedMessage stream(ToolCallFormat format, std::string_view text, const std::vector<size_t>& cuts) {
  ToolCallParser parser(format);
  ParsedMessage message;
  size_t at = 0;
  for (size_t cut : cuts) {
    merge(message, parser.push(text.substr(at, cut - at)));
    at = cut;
  }
  merge(message, parser.push(text.substr(at)));
  merge(message, parser.finish());
  return message;
}

// Everything but the ids, which are random.
void expect_same(const ParsedMessage& a, const ParsedMessage& b, const std::string& how) {
  EXPECT_EQ(a.content, b.content) << how;
  ASSERT_EQ(a.tool_calls.size(), b.tool_calls.size()) << how;
  for (size_t i = 0; i < a.tool_calls.size(); ++i) {
    EXPECT_EQ(a.tool_calls[i].name, b.tool_calls[i].name) << how;
    EXPECT_EQ(a.tool_calls[i].arguments, b.tool_calls[i].arguments) << how;
  }
}

// One push, one byte at a time, every single cut, and random chunkings all agree.
void expect_split_invariant(ToolCallFormat format, std::string_view text, int random_runs = 30) {
  ParsedMessage whole = parse_tool_calls(format, text);
  std::vector<size_t> bytes;
  for (size_t i = 1; i < text.size(); ++i) bytes.push_back(i);
  expect_same(whole, stream(format, text, bytes), "one byte at a time");
  for (size_t i = 1; i < text.size(); ++i) expect_same(whole, stream(format, text, {i}), "cut at " + std::to_string(i));
  std::mt19937 rng(static_cast<unsigned>(text.size()));
  for (int run = 0; run < random_runs; ++run) {
    std::vector<size_t> cuts;
    for (size_t at = 0;;) {
      at += 1 + rng() % 7;
      if (at >= text.size()) break;
      cuts.push_back(at);
    }
    expect_same(whole, stream(format, text, cuts), "random chunks, run " + std::to_string(run));
  }
}

void expect_call(const ToolCall& call, const std::string& name, const json& arguments) {
  EXPECT_EQ(call.name, name);
  EXPECT_EQ(json::parse(call.arguments), arguments) << call.arguments;
  EXPECT_EQ(call.arguments, arguments.dump()) << "compact, in the model's key order";
  EXPECT_TRUE(call.id.starts_with("call_")) << call.id;
  EXPECT_EQ(call.id.size(), 29u);
}

// ---- detection ----

TEST(ToolCallFormat, DetectedFromRealTemplates) {
  const std::vector<std::pair<std::string, ToolCallFormat>> cases = {
      {"qwen3-0.6b.jinja", ToolCallFormat::hermes},
      {"qwen2.5-7b-instruct.jinja", ToolCallFormat::hermes},
      {"ollama-qwen2.5-0.5b.jinja", ToolCallFormat::hermes},
      {"qwen3.5-4b.jinja", ToolCallFormat::hermes},
      {"ollama-qwen3-coder-30b.jinja", ToolCallFormat::hermes},
      {"ollama-qwq-32b.jinja", ToolCallFormat::hermes},
      {"hermes-2-pro-llama-3-8b-json-schema.jinja", ToolCallFormat::hermes},
      {"smollm3-3b.jinja", ToolCallFormat::hermes},
      {"ollama-granite4-latest.jinja", ToolCallFormat::hermes},
      {"llama-3.1-8b-instruct.jinja", ToolCallFormat::llama3},
      {"llama-3.2-11b-vision-instruct.jinja", ToolCallFormat::llama3},
      {"ollama-llama3.2-3b.jinja", ToolCallFormat::llama3},
      {"ollama-nemotron-70b.jinja", ToolCallFormat::llama3},
      {"mistral-7b-instruct-v0.3.jinja", ToolCallFormat::mistral},
      {"mistral-nemo-instruct-2407.jinja", ToolCallFormat::mistral},
      {"ollama-deepseek-v3-671b.jinja", ToolCallFormat::none},  // its own <｜tool▁call▁begin｜> syntax
      {"deepseek-r1.jinja", ToolCallFormat::none},
      {"glm-5.1.jinja", ToolCallFormat::none},  // <tool_call>name<arg_key>...: not a JSON body
      {"c4ai-command-r-v01.jinja", ToolCallFormat::none},
      {"ollama-phi4-mini-3.8b.jinja", ToolCallFormat::none},
      {"ollama-gemma3-1b.jinja", ToolCallFormat::none},
      {"ollama-smollm2-135m.jinja", ToolCallFormat::none},
      {"zephyr-7b-beta.jinja", ToolCallFormat::none},
  };
  for (const auto& [file, format] : cases) {
    EXPECT_STREQ(to_string(detect_tool_call_format(read_template(file))), to_string(format)) << file;
  }
  // Every template of the corpus gets an answer.
  int detected = 0;
  for (const auto& entry : std::filesystem::directory_iterator(testing::data_dir() / "chat" / "templates")) {
    if (entry.path().extension() != ".jinja") continue;
    if (detect_tool_call_format(read_template(entry.path().filename().string())) != ToolCallFormat::none) ++detected;
  }
  EXPECT_GE(detected, 20);
}

// ---- hermes ----

TEST(HermesToolCalls, SingleCall) {
  ParsedMessage m = parse_tool_calls(ToolCallFormat::hermes,
                                     "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", "
                                     "\"unit\": \"c\"}}\n</tool_call>");
  EXPECT_EQ(m.content, "");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  expect_call(m.tool_calls[0], "get_weather", json{{"city", "Paris"}, {"unit", "c"}});
}

TEST(HermesToolCalls, ContentThenSeveralCalls) {
  std::string text =
      "Let me check both.\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
      "</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>\n";
  ParsedMessage m = parse_tool_calls(ToolCallFormat::hermes, text);
  EXPECT_EQ(m.content, "Let me check both.");
  ASSERT_EQ(m.tool_calls.size(), 2u);
  expect_call(m.tool_calls[0], "get_weather", json{{"city", "Paris"}});
  expect_call(m.tool_calls[1], "get_time", json::object());
  EXPECT_NE(m.tool_calls[0].id, m.tool_calls[1].id);
  expect_split_invariant(ToolCallFormat::hermes, text);
}

TEST(HermesToolCalls, ArgumentVariants) {
  // Double-encoded arguments, "parameters", missing arguments, non-ASCII and escapes kept.
  ParsedMessage m = parse_tool_calls(
      ToolCallFormat::hermes,
      "<tool_call>{\"name\": \"a\", \"arguments\": \"{\\\"x\\\": 1}\"}</tool_call>"
      "<tool_call>{\"name\": \"b\", \"parameters\": {\"q\": \"caf\u00e9 \\\"<tool_call>\\\"\"}}</tool_call>"
      "<tool_call>{\"name\": \"c\"}</tool_call>");
  ASSERT_EQ(m.tool_calls.size(), 3u);
  expect_call(m.tool_calls[0], "a", json{{"x", 1}});
  expect_call(m.tool_calls[1], "b", json{{"q", "caf\u00e9 \"<tool_call>\""}});
  expect_call(m.tool_calls[2], "c", json::object());
  EXPECT_EQ(m.content, "");
}

TEST(HermesToolCalls, QwenCoderXmlBody) {
  std::string text =
      "I'll run it.\n<tool_call>\n<function=run_shell>\n<parameter=command>\nls -la\n/tmp\n</parameter>\n"
      "<parameter=timeout>\n30\n</parameter>\n<parameter=opts>\n{\"v\": true}\n</parameter>\n</function>\n"
      "</tool_call>";
  ParsedMessage m = parse_tool_calls(ToolCallFormat::hermes, text);
  EXPECT_EQ(m.content, "I'll run it.");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  expect_call(m.tool_calls[0], "run_shell", json{{"command", "ls -la\n/tmp"}, {"timeout", 30}, {"opts", {{"v", true}}}});
  expect_split_invariant(ToolCallFormat::hermes, text);
}

TEST(HermesToolCalls, NotACallStaysContent) {
  for (std::string text : {
           "<tool_call>{\"name\": \"f\", \"arguments\": {\"x\": }</tool_call> after",  // invalid JSON
           "<tool_call>{\"arguments\": {}}</tool_call>",                               // no name
           "<tool_call>{\"name\": \"has space\", \"arguments\": {}}</tool_call>",      // not a name
           "<tool_call>{\"name\": \"f\", \"arguments\": [1]}</tool_call>",             // not an object
           "<tool_call>{\"name\": \"f\", \"arguments\": {}}",                          // never closed
           "text <tool_",                                                              // a prefix, then the end
           "a < b and <tool> and </tool_call> and <tool_call",
           "  spaces kept at the end  \n",
       }) {
    ParsedMessage m = parse_tool_calls(ToolCallFormat::hermes, text);
    EXPECT_EQ(m.content, text);
    EXPECT_TRUE(m.tool_calls.empty()) << text;
    expect_split_invariant(ToolCallFormat::hermes, text, 5);
  }
}

TEST(HermesToolCalls, UnclosedCallBeforeARealOne) {
  std::string text = "<tool_call>{\"name\": \"f\"\n<tool_call>{\"name\": \"g\", \"arguments\": {\"a\": 1}}</tool_call>";
  ParsedMessage m = parse_tool_calls(ToolCallFormat::hermes, text);
  EXPECT_EQ(m.content, "<tool_call>{\"name\": \"f\"");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  expect_call(m.tool_calls[0], "g", json{{"a", 1}});
  expect_split_invariant(ToolCallFormat::hermes, text);
}

TEST(HermesToolCalls, HoldsBackOnlyWhatMayBeMarkup) {
  ToolCallParser parser(ToolCallFormat::hermes);
  EXPECT_EQ(parser.push("Hello").content, "Hello");
  EXPECT_EQ(parser.push(" wor").content, " wor");
  EXPECT_EQ(parser.push("ld <tool_").content, "ld");  // " <tool_" may be a call (the space goes with it)
  Delta d = parser.push("kit>");
  EXPECT_EQ(d.content, " <tool_kit>");
  EXPECT_EQ(parser.push("\n<tool_call>{\"name\": \"f\", \"argu").content, "");
  d = parser.push("ments\": {}}</tool_call>");
  ASSERT_EQ(d.tool_calls.size(), 1u);
  EXPECT_EQ(d.tool_calls[0].index, 0);
  EXPECT_EQ(d.tool_calls[0].name, "f");
  EXPECT_EQ(d.tool_calls[0].arguments, "{}");
  EXPECT_TRUE(parser.finish().empty());
  EXPECT_EQ(parser.tool_call_count(), 1);
}

// ---- llama3 ----

TEST(Llama3ToolCalls, BareJsonAndPythonTag) {
  for (std::string text : {"{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}",
                           "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}",
                           "\n {\"type\": \"function\", \"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n"}) {
    ParsedMessage m = parse_tool_calls(ToolCallFormat::llama3, text);
    EXPECT_EQ(m.content, "") << text;
    ASSERT_EQ(m.tool_calls.size(), 1u) << text;
    expect_call(m.tool_calls[0], "get_weather", json{{"city", "Paris"}});
    expect_split_invariant(ToolCallFormat::llama3, text, 10);
  }
}

TEST(Llama3ToolCalls, SeveralCalls) {
  std::string text =
      "<|python_tag|>{\"name\": \"a\", \"parameters\": {\"x\": 1}}; {\"name\": \"b\", \"parameters\": {}}\n"
      "{\"name\": \"c\", \"parameters\": {\"s\": \"};{\"}}";
  ParsedMessage m = parse_tool_calls(ToolCallFormat::llama3, text);
  EXPECT_EQ(m.content, "");
  ASSERT_EQ(m.tool_calls.size(), 3u);
  expect_call(m.tool_calls[0], "a", json{{"x", 1}});
  expect_call(m.tool_calls[1], "b", json::object());
  expect_call(m.tool_calls[2], "c", json{{"s", "};{"}});
  expect_split_invariant(ToolCallFormat::llama3, text);
}

TEST(Llama3ToolCalls, TextAfterCallsIsContent) {
  std::string text = "{\"name\": \"a\", \"parameters\": {}}\nDone, see above.";
  ParsedMessage m = parse_tool_calls(ToolCallFormat::llama3, text);
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.content, "Done, see above.");
  expect_split_invariant(ToolCallFormat::llama3, text);
}

TEST(Llama3ToolCalls, NotACallStaysContent) {
  for (std::string text : {
           "{\"answer\": 42}",                                        // JSON, but not a call
           "  {\"name\": \"a\", \"parameters\": {}",                  // never closed
           "Sure: {\"name\": \"a\", \"parameters\": {}}",             // a '{' counts only at the start
           "<|python_tag|>brave_search.call(query=\"weather\")",     // built-in tool syntax: not read
           "{\"name\": \"a\", \"parameters\": {}}}",                  // trailing garbage after a call...
           "{]",
       }) {
    ParsedMessage m = parse_tool_calls(ToolCallFormat::llama3, text);
    if (m.tool_calls.empty()) {
      EXPECT_EQ(m.content, text);
    } else {
      EXPECT_EQ(m.content, "}") << "...stays content";
    }
    expect_split_invariant(ToolCallFormat::llama3, text, 5);
  }
}

// ---- mistral ----

TEST(MistralToolCalls, JsonArray) {
  std::string text =
      "[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}, \"id\": \"abcDEF123\"}, "
      "{\"name\": \"get_time\", \"arguments\": {\"tz\": \"CET\"}}]";
  ParsedMessage m = parse_tool_calls(ToolCallFormat::mistral, text);
  EXPECT_EQ(m.content, "");
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(m.tool_calls[0].name, "get_weather");
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"city\":\"Paris\"}");
  EXPECT_EQ(m.tool_calls[1].arguments, "{\"tz\":\"CET\"}");
  for (const ToolCall& c : m.tool_calls) {
    EXPECT_EQ(c.id.size(), 9u) << "Mistral's templates refuse other ids";
    EXPECT_TRUE(std::all_of(c.id.begin(), c.id.end(), [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)); }));
  }
  expect_split_invariant(ToolCallFormat::mistral, text);
}

TEST(MistralToolCalls, NameArgsForm) {
  std::string text =
      "Checking.[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}[TOOL_CALLS]get_time[CALL_ID]a1b2c3d4e[ARGS] {}";
  ParsedMessage m = parse_tool_calls(ToolCallFormat::mistral, text);
  EXPECT_EQ(m.content, "Checking.");
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(m.tool_calls[0].name, "get_weather");
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"city\":\"Paris\"}");
  EXPECT_EQ(m.tool_calls[1].name, "get_time");
  EXPECT_EQ(m.tool_calls[1].arguments, "{}");
  expect_split_invariant(ToolCallFormat::mistral, text);
}

TEST(MistralToolCalls, NameWithoutArgsTag) {
  std::string text = "[TOOL_CALLS]get_time{\"tz\": \"UTC\"}";
  ParsedMessage m = parse_tool_calls(ToolCallFormat::mistral, text);
  EXPECT_EQ(m.content, "");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].name, "get_time");
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"tz\":\"UTC\"}");
  expect_split_invariant(ToolCallFormat::mistral, text);
}

TEST(MistralToolCalls, NotACallStaysContent) {
  for (std::string text : {
           "[TOOL_CALLS] [{\"name\": \"f\"",                   // never closed
           "[TOOL_CALLS] [{\"arguments\": {}}]",               // no name
           "[TOOL_CALLS]Sure! here it is",                     // not a name
           "[TOOL_CALLS]f[ARGS][1]",                           // arguments not an object
           "[TOOL_CALLS]f[NOPE]{}",
           "[TOOL_CALLS]f[ARG",
           "[TOOL_CALLS]f[CALL_ID]x[CALL_ID]y[ARGS]{}",
           "a [list] and [TOOL_CALLS",
       }) {
    ParsedMessage m = parse_tool_calls(ToolCallFormat::mistral, text);
    EXPECT_EQ(m.content, text);
    EXPECT_TRUE(m.tool_calls.empty()) << text;
    expect_split_invariant(ToolCallFormat::mistral, text, 5);
  }
}

TEST(NoToolCallFormat, EverythingIsContent) {
  std::string text = "<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>  ";
  ParsedMessage m = parse_tool_calls(ToolCallFormat::none, text);
  EXPECT_EQ(m.content, text);
  EXPECT_TRUE(m.tool_calls.empty());
}

// ---- hostile input ----

TEST(ToolCallsHostile, HugeAndDeepJson) {
  std::string big(1 << 20, 'x');
  std::string text = "<tool_call>{\"name\": \"f\", \"arguments\": {\"blob\": \"" + big + "\"}}</tool_call>";
  ParsedMessage m = parse_tool_calls(ToolCallFormat::hermes, text);
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].arguments.size(), big.size() + 11);

  // Streamed a few bytes at a time, a big call stays linear (the scanners resume).
  std::vector<size_t> cuts;
  for (size_t i = 3; i < text.size(); i += 3) cuts.push_back(i);
  expect_same(m, stream(ToolCallFormat::hermes, text, cuts), "3-byte chunks");

  for (ToolCallFormat format : {ToolCallFormat::hermes, ToolCallFormat::llama3, ToolCallFormat::mistral}) {
    const size_t depth = 200000;
    std::string deep = std::string(depth, '[') + std::string(depth, ']');
    std::string args = "{\"a\": " + deep + "}";
    std::string calls[] = {"<tool_call>{\"name\": \"f\", \"arguments\": " + args + "}</tool_call>",
                           "{\"name\": \"f\", \"parameters\": " + args + "}",
                           "[TOOL_CALLS]f[ARGS]" + args, "[TOOL_CALLS][{\"name\": \"f\", \"arguments\": " + args + "}]"};
    for (const std::string& call : calls) {
      ParsedMessage deep_m = parse_tool_calls(format, call);
      EXPECT_EQ(deep_m.content, call);
      EXPECT_TRUE(deep_m.tool_calls.empty());
    }
  }
  // Nesting within the limit is fine.
  std::string nested = std::string(100, '[') + std::string(100, ']');
  m = parse_tool_calls(ToolCallFormat::hermes, "<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": " + nested + "}}</tool_call>");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"a\":" + nested + "}");
}

TEST(ToolCallsHostile, RandomTextNeverLosesAnything) {
  // Pieces of every format's syntax, JSON, and raw bytes (invalid UTF-8, NUL) in random order.
  const std::vector<std::string> pieces = {
      "<tool_call>", "</tool_call>", "<tool_", "call>", "[TOOL_CALLS]", "[ARGS]", "[CALL_ID]", "<|python_tag|>",
      "{", "}", "[", "]", "\"", "\\", ":", ",", ";", " ", "\n", "\"name\"", "\"arguments\"", "\"parameters\"",
      "\"f\"", "f", "1", "null", "<function=f>", "<parameter=x>", "</parameter>", "</function>",
      std::string("\0", 1), "\xff", "\xc3", "\xe2\x82", "\x80", "{\"name\": \"f\", \"arguments\": {}}"};
  std::mt19937 rng(1234);
  int with_calls = 0;
  for (int i = 0; i < 1500; ++i) {
    std::string text;
    for (int n = rng() % 24; n > 0; --n) text += pieces[rng() % pieces.size()];
    for (ToolCallFormat format : {ToolCallFormat::hermes, ToolCallFormat::llama3, ToolCallFormat::mistral}) {
      ParsedMessage m = parse_tool_calls(format, text);
      if (m.tool_calls.empty()) {
        ASSERT_EQ(m.content, text) << "format " << to_string(format);
      } else {
        ++with_calls;
        for (const ToolCall& c : m.tool_calls) {
          json args = json::parse(c.arguments, nullptr, false);
          EXPECT_TRUE(args.is_object()) << c.arguments;
          EXPECT_FALSE(c.name.empty());
        }
      }
      if (i % 10 == 0) expect_split_invariant(format, text, 3);
    }
  }
  EXPECT_GT(with_calls, 0);
}

// ---- reasoning ----

void expect_reasoning_split_invariant(std::string_view text, bool starts_in_think) {
  ReasoningDelta whole = split_reasoning(text, starts_in_think);
  for (size_t step = 1; step <= 3; ++step) {
    for (size_t first = 0; first <= text.size(); ++first) {
      ReasoningParser parser(starts_in_think);
      ReasoningDelta got = parser.push(text.substr(0, first));
      for (size_t at = first; at < text.size(); at += step) {
        ReasoningDelta d = parser.push(text.substr(at, step));
        got.reasoning += d.reasoning;
        got.content += d.content;
      }
      ReasoningDelta d = parser.finish();
      got.reasoning += d.reasoning;
      got.content += d.content;
      EXPECT_EQ(got.reasoning, whole.reasoning) << "first cut " << first << ", then " << step;
      EXPECT_EQ(got.content, whole.content) << "first cut " << first << ", then " << step;
    }
  }
}

TEST(Reasoning, ThinkBlockSplitFromAnswer) {
  std::string text = "<think>\nThe user wants X.\nSo Y.\n</think>\n\nThe answer is Y.";
  ReasoningDelta r = split_reasoning(text);
  EXPECT_EQ(r.reasoning, "The user wants X.\nSo Y.");
  EXPECT_EQ(r.content, "The answer is Y.");
  expect_reasoning_split_invariant(text, false);
}

TEST(Reasoning, PromptAlreadyOpenedThink) {
  std::string text = "Thinking here.\n</think>\n\nAnswer.";
  ReasoningDelta r = split_reasoning(text, /*starts_in_think=*/true);
  EXPECT_EQ(r.reasoning, "Thinking here.");
  EXPECT_EQ(r.content, "Answer.");
  expect_reasoning_split_invariant(text, true);
}

TEST(Reasoning, EdgeCases) {
  EXPECT_EQ(split_reasoning("No thinking at all.\n").content, "No thinking at all.\n");
  EXPECT_EQ(split_reasoning("No thinking at all.\n").reasoning, "");
  ReasoningDelta empty = split_reasoning("<think>\n\n</think>\n\nHi");  // enable_thinking=false style
  EXPECT_EQ(empty.reasoning, "");
  EXPECT_EQ(empty.content, "Hi");
  ReasoningDelta cut = split_reasoning("<think>\nhalf a thou");  // max_tokens hit while thinking
  EXPECT_EQ(cut.reasoning, "half a thou");
  EXPECT_EQ(cut.content, "");
  ReasoningDelta later = split_reasoning("Text <think>not reasoning</think> more");
  EXPECT_EQ(later.content, "Text <think>not reasoning</think> more");
  ReasoningDelta partial = split_reasoning("<thin");
  EXPECT_EQ(partial.content, "<thin");
  for (std::string text : {"<think>\nabc\n</think>\n\nx", "  <think>a</think>b", "<think></think>", "</think>x",
                           "<thi", "\n\n", "<think>a</thi", "<think>\xff\x00</think>\xc3"}) {
    expect_reasoning_split_invariant(text, false);
    expect_reasoning_split_invariant(text, true);
  }
}

TEST(Reasoning, PromptOpensThink) {
  EXPECT_TRUE(prompt_opens_think("<｜Assistant｜><think>\n"));
  EXPECT_FALSE(prompt_opens_think("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
  EXPECT_FALSE(prompt_opens_think("<|im_start|>assistant\n"));
  EXPECT_FALSE(prompt_opens_think("<think>old</think> then <|im_start|>user\nhi"));
}

// ---- round trip through the real templates ----

const json kTools = json::parse(R"([{"type": "function", "function": {"name": "get_weather",
  "description": "Current weather in a city", "parameters": {"type": "object",
  "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])");

json conversation(const std::string& call_id) {
  return {{"messages",
           {{{"role", "user"}, {"content", "Weather in Paris?"}},
            {{"role", "assistant"},
             {"content", ""},
             {"tool_calls",
              {{{"id", call_id},
                {"type", "function"},
                {"function", {{"name", "get_weather"}, {"arguments", {{"city", "Paris"}}}}}}}}},
            {{"role", "tool"}, {"tool_call_id", call_id}, {"name", "get_weather"}, {"content", "{\"temp\": 18}"}}}},
          {"tools", kTools},
          {"add_generation_prompt", true}};
}

std::string render(const std::string& file, const json& request, SpecialTokens tokens = {}) {
  try {
    return ChatTemplate::from_source(read_template(file), std::move(tokens)).render(request);
  } catch (const std::exception& e) {
    ADD_FAILURE() << file << " does not render: " << e.what();
    return {};
  }
}

TEST(ToolCallTemplates, Qwen3RendersToolsCallsAndResults) {
  std::string prompt = render("qwen3-0.6b.jinja", conversation("call_1"));
  EXPECT_NE(prompt.find("<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", "
                        "\"description\": \"Current weather in a city\", \"parameters\": {\"type\": \"object\""),
            std::string::npos)
      << prompt;
  std::string call = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";
  EXPECT_NE(prompt.find("<|im_start|>assistant\n" + call + "<|im_end|>"), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("<|im_start|>user\n<tool_response>\n{\"temp\": 18}\n</tool_response><|im_end|>"),
            std::string::npos)
      << prompt;
  EXPECT_TRUE(prompt.ends_with("<|im_start|>assistant\n")) << prompt;

  // What the template shows the model parses back to the same call.
  ParsedMessage m = parse_tool_calls(detect_tool_call_format(read_template("qwen3-0.6b.jinja")), call);
  ASSERT_EQ(m.tool_calls.size(), 1u);
  expect_call(m.tool_calls[0], "get_weather", json{{"city", "Paris"}});
}

TEST(ToolCallTemplates, Llama31RendersToolsCallsAndResults) {
  std::string prompt = render("llama-3.1-8b-instruct.jinja", conversation("call_1"),
                              {{"bos_token", "<|begin_of_text|>"}, {"eos_token", "<|eot_id|>"}});
  EXPECT_NE(prompt.find("Environment: ipython\n"), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("\"name\": \"get_weather\""), std::string::npos) << prompt;  // tojson(indent=4)
  EXPECT_NE(prompt.find("Weather in Paris?<|eot_id|>"), std::string::npos) << prompt;
  std::string call = "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}";
  EXPECT_NE(prompt.find("<|start_header_id|>assistant<|end_header_id|>\n\n" + call + "<|eot_id|>"), std::string::npos)
      << prompt;
  // A string is iterable in Jinja, so this template JSON-encodes string results (as transformers does).
  EXPECT_NE(prompt.find("<|start_header_id|>ipython<|end_header_id|>\n\n\"{\\\"temp\\\": 18}\"<|eot_id|>"),
            std::string::npos)
      << prompt;
  EXPECT_TRUE(prompt.ends_with("<|start_header_id|>assistant<|end_header_id|>\n\n")) << prompt;

  ParsedMessage m = parse_tool_calls(detect_tool_call_format(read_template("llama-3.1-8b-instruct.jinja")), call);
  ASSERT_EQ(m.tool_calls.size(), 1u);
  expect_call(m.tool_calls[0], "get_weather", json{{"city", "Paris"}});
}

TEST(ToolCallTemplates, MistralAcceptsOurIds) {
  std::string text = "[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}]";
  ParsedMessage m = parse_tool_calls(ToolCallFormat::mistral, text);
  ASSERT_EQ(m.tool_calls.size(), 1u);
  std::string prompt = render("mistral-7b-instruct-v0.3.jinja", conversation(m.tool_calls[0].id),
                              {{"bos_token", "<s>"}, {"eos_token", "</s>"}});
  EXPECT_NE(prompt.find("[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}, \"id\": \"" +
                        m.tool_calls[0].id + "\"}]"),
            std::string::npos)
      << prompt;
  EXPECT_NE(prompt.find("[TOOL_RESULTS] {\"content\": "), std::string::npos) << prompt;
}

}  // namespace
}  // namespace salut::chat
