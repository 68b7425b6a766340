#pragma once
// Turning a model's generated text back into OpenAI chat-completion fields: `tool_calls` (from the
// tool-call syntax each model family was trained on) and `reasoning_content` (<think>…</think>).
//
// Both parsers stream: push() takes text as it is decoded and returns what is safe to send now;
// finish() returns the rest. Text that may still become markup (a partial "<tool_" at the end of
// a chunk) is held back until it is decided. Whatever the split of the input into chunks, the
// concatenated output is the same as one push() of the whole text. Nothing is ever dropped except
// markup and the whitespace around it: a call that never closes or does not parse comes back as
// content. The usual pipeline: ReasoningParser first, its content into ToolCallParser (with
// ToolCallFormat::none when the request has no tools); finish_reason "tool_calls" when
// tool_call_count() > 0.
//
// The text must keep the markup tokens (<tool_call>, <|python_tag|>, [TOOL_CALLS], <think>): the
// detokenizer must not skip them as special tokens.

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace salut::chat {

enum class ToolCallFormat {
  none,    // no tool-call syntax known: everything is content
  hermes,  // Qwen 2.5/3, Hermes, Granite 4, SmolLM3: <tool_call>{"name":..,"arguments":{..}}</tool_call>;
           // Qwen3-Coder / Qwen 3.5 inner form: <tool_call><function=f><parameter=k>v</parameter></function></tool_call>
  llama3,  // Llama 3.1/3.2: {"name": .., "parameters": {..}}, optionally after <|python_tag|>, several
           // separated by ';' or newlines; a bare '{' counts only at the start of the message
  mistral, // [TOOL_CALLS][{"name":..,"arguments":{..}}, ...] and [TOOL_CALLS]name[ARGS]{..}
};

const char* to_string(ToolCallFormat format);

// From the chat template's text: the syntax the template teaches the model (and renders past calls
// in). Templates whose tool syntax no parser here reads (DeepSeek, GLM's <arg_key> form, Command R,
// ...) give none.
ToolCallFormat detect_tool_call_format(std::string_view chat_template_source);

// One piece of a streamed tool call, as in OpenAI's chunk `delta.tool_calls[]`. The first piece of
// an index carries id and name; arguments pieces concatenate to the JSON text of the arguments
// object. (Today each call comes whole, in one piece, once it is complete and valid: a half-parsed
// call cannot be taken back if it turns out not to be one.)
struct ToolCallDelta {
  int index = 0;
  std::string id;         // "call_" + 24 alphanumerics (Mistral: 9 alphanumerics, which its templates require)
  std::string name;
  std::string arguments;  // fragment of the compact JSON arguments object
};

struct Delta {
  std::string content;  // plain text, safe to send to the user now
  std::vector<ToolCallDelta> tool_calls;
  bool empty() const { return content.empty() && tool_calls.empty(); }
};

struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;  // JSON text of an object, compact ("{}" when the model gave none)
};

struct ParsedMessage {
  std::string content;
  std::vector<ToolCall> tool_calls;
};

// Trailing whitespace of a text stream, held back until more text follows (so the whitespace next
// to a tool call can be dropped) or the stream ends.
struct TextSink {
  std::string held;
  bool drop_leading = false;  // drop whitespace until the first other character
  void put(std::string_view text, std::string& out);
};

// Incremental bracket matcher for one JSON object or array: it tracks strings and nesting only,
// so parsing happens once, on the complete text.
class JsonScanner {
 public:
  enum class Result { more, done, bad };
  static constexpr size_t kMaxDepth = 128;  // deeper is refused (nlohmann's dump recurses)
  void reset(size_t start);                 // text[start] is '{' or '['
  Result scan(std::string_view text);       // continues where the last call stopped
  size_t end() const { return pos_; }       // after done: one past the closing bracket

 private:
  std::string stack_;
  size_t pos_ = 0;
  bool in_string_ = false;
  bool escape_ = false;
};

class ToolCallParser {
 public:
  explicit ToolCallParser(ToolCallFormat format);
  ToolCallParser(ToolCallFormat format, uint64_t seed);  // reproducible ids (tests)

  Delta push(std::string_view text);
  Delta finish();  // call once, at the end of generation
  int tool_call_count() const { return calls_; }

 private:
  enum class State {
    text,           // looking for the start of a call
    hermes_body,    // after <tool_call>: a JSON object or Qwen3-Coder's <function=..>
    hermes_json,
    hermes_close,   // after the object: </tool_call>
    hermes_xml,
    mistral_start,  // after [TOOL_CALLS]: a JSON array or name[ARGS]{..}
    mistral_array,
    mistral_name,
    mistral_args,
    llama_json,     // after <|python_tag|> or a leading '{'
    llama_between,  // after a llama3 call: separators, then another call or text
  };

  void step(bool final, Delta& out);
  bool step_text(bool final, Delta& out);
  void start_call(size_t marker_at, size_t marker_len, State next);
  void fail_call(Delta& out);
  JsonScanner::Result scan_json(char open);
  void emit(std::string name, std::string arguments, size_t consumed, Delta& out);
  std::string make_id();

  ToolCallFormat format_;
  State state_ = State::text;
  std::string buf_;          // undecided text; while in a call it starts with the marker
  size_t pos_ = 0;           // where scanning in buf_ resumes
  size_t marker_len_ = 0;    // length of the marker at the start of buf_ in a call
  std::string call_ws_;      // whitespace before the marker, given back if the call fails
  bool brace_ok_ = true;     // llama3: a '{' may still start a call (nothing but whitespace so far)
  JsonScanner scanner_;
  bool scanning_ = false;    // scanner_ holds the JSON value at pos_
  std::string pending_name_; // a call read but not yet closed (hermes), or mistral's name before [ARGS]
  std::string pending_args_;
  TextSink sink_;
  int calls_ = 0;
  bool finished_ = false;
  std::mt19937_64 rng_;
};

// Whole text at once: the same result as streaming it (but for the random ids).
ParsedMessage parse_tool_calls(ToolCallFormat format, std::string_view text);

// ---- Reasoning (<think>…</think>, Qwen 3, DeepSeek R1, QwQ, SmolLM3, ...) ----

struct ReasoningDelta {
  std::string reasoning;  // goes to reasoning_content
  std::string content;
  bool empty() const { return reasoning.empty() && content.empty(); }
};

// Whether the rendered prompt leaves a think block open (DeepSeek R1's "<think>\n", a Qwen 3 style
// template that opens it): the generated text then starts inside it.
bool prompt_opens_think(std::string_view prompt);

class ReasoningParser {
 public:
  // starts_in_think: the prompt already opened <think>. Otherwise a <think> counts only at the start
  // of the text (after whitespace); a later one is content.
  explicit ReasoningParser(bool starts_in_think = false);

  ReasoningDelta push(std::string_view text);
  ReasoningDelta finish();  // an unclosed think block stays reasoning (generation was cut short)

 private:
  enum class State { start, think, content };
  void step(bool final, ReasoningDelta& out);

  State state_;
  std::string buf_;
  TextSink reasoning_sink_{.held = {}, .drop_leading = true};
  TextSink content_sink_;
};

ReasoningDelta split_reasoning(std::string_view text, bool starts_in_think = false);

}  // namespace salut::chat
