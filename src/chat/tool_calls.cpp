#include "chat/tool_calls.h"

#include <algorithm>
#include <optional>

#include <nlohmann/json.hpp>

namespace salut::chat {
namespace {

using json = nlohmann::ordered_json;

constexpr std::string_view kHermesOpen = "<tool_call>";
constexpr std::string_view kHermesClose = "</tool_call>";
constexpr std::string_view kPythonTag = "<|python_tag|>";
constexpr std::string_view kMistralCalls = "[TOOL_CALLS]";
constexpr std::string_view kMistralArgs = "[ARGS]";
constexpr std::string_view kMistralCallId = "[CALL_ID]";
constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";
constexpr size_t kMaxName = 256;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool contains(std::string_view s, std::string_view what) { return s.find(what) != std::string_view::npos; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Length of the longest suffix of text that is a proper prefix of marker: text that may still
// become the marker once more arrives.
size_t partial_marker(std::string_view text, std::string_view marker) {
  for (size_t n = std::min(text.size(), marker.size() - 1); n > 0; --n) {
    if (text.substr(text.size() - n) == marker.substr(0, n)) return n;
  }
  return 0;
}

// Function names as models write them (OpenAI allows [A-Za-z0-9_-]; dots and colons appear in
// namespaced tools). Anything else means this is not a call.
bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxName) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == ':';
  });
}

// Nesting deeper than JsonScanner::kMaxDepth is refused before nlohmann sees it: its parser is
// iterative but dump() and the value's destructor are not.
bool shallow(std::string_view text) {
  size_t depth = 0;
  bool in_string = false, escape = false;
  for (char c : text) {
    if (in_string) {
      if (escape) escape = false;
      else if (c == '\\') escape = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > JsonScanner::kMaxDepth) return false;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return true;
}

std::optional<json> parse_json(std::string_view text) {
  if (!shallow(text)) return std::nullopt;
  try {
    json value = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) return std::nullopt;
    return value;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

std::optional<std::string> dump(const json& value) {
  try {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

// The arguments of a call: an object, or a string holding one (some models double-encode);
// absent or null means none.
std::optional<std::string> arguments_text(const json& call) {
  const json* args = nullptr;
  if (auto it = call.find("arguments"); it != call.end()) args = &*it;
  else if (auto it2 = call.find("parameters"); it2 != call.end()) args = &*it2;
  if (args == nullptr || args->is_null()) return "{}";
  if (args->is_object()) return dump(*args);
  if (args->is_string()) {
    std::optional<json> inner = parse_json(args->get_ref<const std::string&>());
    if (inner && inner->is_object()) return dump(*inner);
  }
  return std::nullopt;
}

struct NameArgs {
  std::string name;
  std::string arguments;
};

// {"name": "f", "arguments"|"parameters": {...}} (other keys, such as "type" or "id", are ignored).
// The JSON value a scanner finished reading from `from` (nothing when it did not, or it does not parse).
std::optional<json> scanned_value(std::string_view text, size_t from, const JsonScanner& scanner,
                                  JsonScanner::Result r) {
  if (r != JsonScanner::Result::done) return std::nullopt;
  return parse_json(text.substr(from, scanner.end() - from));
}

std::optional<NameArgs> call_from_json(const json& call) {
  if (!call.is_object()) return std::nullopt;
  auto name = call.find("name");
  if (name == call.end() || !name->is_string() || !valid_name(name->get_ref<const std::string&>())) return std::nullopt;
  std::optional<std::string> args = arguments_text(call);
  if (!args) return std::nullopt;
  return NameArgs{name->get<std::string>(), std::move(*args)};
}

// Qwen3-Coder's form: <function=f>\n<parameter=k>\nvalue\n</parameter>\n</function>. Values carry
// no type; one that reads as JSON (number, boolean, object, ...) is taken as that, else a string.
std::optional<NameArgs> call_from_xml(std::string_view body) {
  constexpr std::string_view kFunction = "<function=", kFunctionEnd = "</function>";
  constexpr std::string_view kParam = "<parameter=", kParamEnd = "</parameter>";
  if (!body.starts_with(kFunction)) return std::nullopt;
  body.remove_prefix(kFunction.size());
  size_t gt = body.find('>');
  if (gt == std::string_view::npos) return std::nullopt;
  NameArgs call{std::string(trim(body.substr(0, gt))), {}};
  if (!valid_name(call.name)) return std::nullopt;
  body = trim(body.substr(gt + 1));
  json args = json::object();
  while (body.starts_with(kParam)) {
    body.remove_prefix(kParam.size());
    gt = body.find('>');
    if (gt == std::string_view::npos) return std::nullopt;
    std::string key(trim(body.substr(0, gt)));
    size_t end = body.find(kParamEnd, gt + 1);
    if (key.empty() || end == std::string_view::npos) return std::nullopt;
    std::string_view value = body.substr(gt + 1, end - gt - 1);
    // The template writes "\n" + value + "\n"; only that framing goes.
    if (value.starts_with('\n')) value.remove_prefix(1);
    if (value.ends_with('\n')) value.remove_suffix(1);
    std::optional<json> parsed = parse_json(value);
    args[key] = parsed ? std::move(*parsed) : json(std::string(value));
    body = trim(body.substr(end + kParamEnd.size()));
  }
  if (body != kFunctionEnd) return std::nullopt;
  std::optional<std::string> text = dump(args);
  if (!text) return std::nullopt;
  call.arguments = std::move(*text);
  return call;
}

constexpr char kAlphanumerics[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

}  // namespace

const char* to_string(ToolCallFormat format) {
  switch (format) {
    case ToolCallFormat::none: return "none";
    case ToolCallFormat::hermes: return "hermes";
    case ToolCallFormat::llama3: return "llama3";
    case ToolCallFormat::mistral: return "mistral";
  }
  return "none";
}

ToolCallFormat detect_tool_call_format(std::string_view source) {
  if (contains(source, kMistralCalls)) return ToolCallFormat::mistral;
  if (contains(source, kHermesOpen)) {
    // GLM writes <tool_call>name<arg_key>k</arg_key><arg_value>v</arg_value>: not a body we read.
    if (contains(source, "<arg_key>")) return ToolCallFormat::none;
    return ToolCallFormat::hermes;
  }
  if (contains(source, kPythonTag)) return ToolCallFormat::llama3;
  // Llama 3.2 dropped <|python_tag|> from the template but keeps the ipython role for tool results
  // and asks for {"name": ..., "parameters": ...}.
  if (contains(source, "ipython") && (contains(source, "\"parameters\"") || contains(source, "<|start_header_id|>")))
    return ToolCallFormat::llama3;
  return ToolCallFormat::none;
}

// ---- TextSink ----

void TextSink::put(std::string_view text, std::string& out) {
  size_t last = text.find_last_not_of(" \t\r\n");
  if (last == std::string_view::npos) {
    if (!drop_leading) held.append(text);
    return;
  }
  if (drop_leading) {
    text.remove_prefix(text.find_first_not_of(" \t\r\n"));
    last = text.find_last_not_of(" \t\r\n");
    drop_leading = false;
  }
  out += held;
  out.append(text.substr(0, last + 1));
  held.assign(text.substr(last + 1));
}

// ---- JsonScanner ----

void JsonScanner::reset(size_t start) {
  stack_.clear();
  pos_ = start;
  in_string_ = false;
  escape_ = false;
}

JsonScanner::Result JsonScanner::scan(std::string_view text) {
  for (; pos_ < text.size(); ++pos_) {
    char c = text[pos_];
    if (in_string_) {
      if (escape_) escape_ = false;
      else if (c == '\\') escape_ = true;
      else if (c == '"') in_string_ = false;
    } else if (c == '"') {
      if (stack_.empty()) return Result::bad;
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      if (stack_.size() >= kMaxDepth) return Result::bad;
      stack_.push_back(c == '{' ? '}' : ']');
    } else if (c == '}' || c == ']') {
      if (stack_.empty() || stack_.back() != c) return Result::bad;
      stack_.pop_back();
      if (stack_.empty()) {
        ++pos_;
        return Result::done;
      }
    } else if (stack_.empty()) {
      return Result::bad;  // the value must start with a bracket
    }
  }
  return Result::more;
}

// ---- ToolCallParser ----

ToolCallParser::ToolCallParser(ToolCallFormat format) : format_(format) {
  uint64_t seed = 0;
  try {
    std::random_device device;
    seed = (uint64_t{device()} << 32) ^ device();
  } catch (...) {
    seed = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(this)) ^ 0x9e3779b97f4a7c15ULL;
  }
  rng_.seed(seed);
}

ToolCallParser::ToolCallParser(ToolCallFormat format, uint64_t seed) : format_(format), rng_(seed) {}

std::string ToolCallParser::make_id() {
  std::uniform_int_distribution<size_t> pick(0, sizeof(kAlphanumerics) - 2);
  bool mistral = format_ == ToolCallFormat::mistral;
  std::string id = mistral ? "" : "call_";
  for (int i = 0, n = mistral ? 9 : 24; i < n; ++i) id += kAlphanumerics[pick(rng_)];
  return id;
}

Delta ToolCallParser::push(std::string_view text) {
  Delta out;
  if (finished_) return out;
  if (format_ == ToolCallFormat::none) {
    out.content.assign(text);
    return out;
  }
  buf_.append(text);
  step(false, out);
  return out;
}

Delta ToolCallParser::finish() {
  Delta out;
  if (finished_) return out;
  finished_ = true;
  if (format_ == ToolCallFormat::none) return out;
  step(true, out);
  // Whitespace that only separated text from tool calls is not content.
  if (calls_ == 0) out.content += sink_.held;
  sink_.held.clear();
  return out;
}

void ToolCallParser::start_call(size_t marker_at, size_t marker_len, State next) {
  buf_.erase(0, marker_at);
  call_ws_ = std::move(sink_.held);
  sink_.held.clear();
  marker_len_ = marker_len;
  pos_ = marker_len;
  brace_ok_ = false;
  state_ = next;
}

// Not a call after all: the marker is text, and scanning resumes right after it (a real call may
// start inside what was taken for this one's body).
void ToolCallParser::fail_call(Delta& out) {
  sink_.put(call_ws_, out.content);
  call_ws_.clear();
  sink_.put(std::string_view(buf_).substr(0, marker_len_), out.content);
  buf_.erase(0, marker_len_);
  pos_ = 0;
  scanning_ = false;
  state_ = State::text;
}

void ToolCallParser::emit(std::string name, std::string arguments, size_t consumed, Delta& out) {
  out.tool_calls.push_back(ToolCallDelta{calls_++, make_id(), std::move(name), std::move(arguments)});
  buf_.erase(0, consumed);
  pos_ = 0;
  scanning_ = false;
  call_ws_.clear();
  sink_.held.clear();
  sink_.drop_leading = true;
}

bool ToolCallParser::step_text(bool final, Delta& out) {
  std::string_view marker = format_ == ToolCallFormat::hermes    ? kHermesOpen
                            : format_ == ToolCallFormat::mistral ? kMistralCalls
                                                                 : kPythonTag;
  if (format_ == ToolCallFormat::llama3 && brace_ok_) {
    size_t first = buf_.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) {
      sink_.put(buf_, out.content);
      buf_.clear();
      return false;
    }
    if (buf_[first] == '{') {
      sink_.put(std::string_view(buf_).substr(0, first), out.content);
      start_call(first, 0, State::llama_json);
      return true;
    }
    brace_ok_ = false;
  }
  size_t at = buf_.find(marker);
  if (at != std::string::npos) {
    sink_.put(std::string_view(buf_).substr(0, at), out.content);
    start_call(at, marker.size(), format_ == ToolCallFormat::hermes    ? State::hermes_body
                                  : format_ == ToolCallFormat::mistral ? State::mistral_start
                                                                       : State::llama_json);
    return true;
  }
  size_t keep = final ? 0 : partial_marker(buf_, marker);
  sink_.put(std::string_view(buf_).substr(0, buf_.size() - keep), out.content);
  buf_.erase(0, buf_.size() - keep);
  return false;
}

// Scans the JSON value that starts at the first non-space at or after pos_ (it must open with
// `open`); pos_ is then its start.
JsonScanner::Result ToolCallParser::scan_json(char open) {
  if (!scanning_) {
    size_t at = buf_.find_first_not_of(" \t\r\n", pos_);
    if (at == std::string::npos) return JsonScanner::Result::more;
    if (buf_[at] != open) return JsonScanner::Result::bad;
    pos_ = at;
    scanner_.reset(at);
    scanning_ = true;
  }
  return scanner_.scan(buf_);
}

// Runs the state machine as far as the buffered text decides it. Every decision depends only on
// the text so far being long enough, never on where a chunk ended, so any split gives the same
// output.
void ToolCallParser::step(bool final, Delta& out) {
  for (;;) {
    std::string_view buf = buf_;
    switch (state_) {
      case State::text:
        if (!step_text(final, out)) return;
        break;

      case State::hermes_body: {
        size_t at = buf.find_first_not_of(" \t\r\n", marker_len_);
        if (at == std::string_view::npos) {
          if (!final) return;
          fail_call(out);
          break;
        }
        state_ = buf[at] == '{' ? State::hermes_json : State::hermes_xml;
        break;
      }

      case State::hermes_json: {
        // The object's end is found by matching brackets, so a "</tool_call>" inside a string
        // argument does not cut it short.
        JsonScanner::Result r = scan_json('{');
        if (r == JsonScanner::Result::more && !final) return;
        const std::optional<json> value = scanned_value(buf, pos_, scanner_, r);
        std::optional<NameArgs> call = value ? call_from_json(*value) : std::nullopt;
        if (!call) {
          fail_call(out);
          break;
        }
        pending_name_ = std::move(call->name);
        pending_args_ = std::move(call->arguments);
        pos_ = scanner_.end();
        scanning_ = false;
        state_ = State::hermes_close;
        break;
      }

      case State::hermes_close: {
        size_t at = buf.find_first_not_of(" \t\r\n", pos_);
        std::string_view rest = at == std::string_view::npos ? std::string_view{} : buf.substr(at);
        if (rest.starts_with(kHermesClose)) {
          emit(std::move(pending_name_), std::move(pending_args_), at + kHermesClose.size(), out);
          pending_name_.clear();
          state_ = State::text;
          break;
        }
        if (kHermesClose.starts_with(rest) && !final) return;
        fail_call(out);  // never closed, or more than the object before </tool_call>
        break;
      }

      case State::hermes_xml: {
        size_t from = std::max(marker_len_, pos_ >= kHermesClose.size() ? pos_ - kHermesClose.size() + 1 : 0);
        size_t close = buf.find(kHermesClose, from);
        if (close == std::string_view::npos) {
          if (final) {
            fail_call(out);
            break;
          }
          pos_ = buf.size();
          return;
        }
        std::optional<NameArgs> call = call_from_xml(trim(buf.substr(marker_len_, close - marker_len_)));
        if (!call) {
          fail_call(out);
          break;
        }
        emit(std::move(call->name), std::move(call->arguments), close + kHermesClose.size(), out);
        state_ = State::text;
        break;
      }

      case State::mistral_start: {
        size_t at = buf.find_first_not_of(" \t\r\n", pos_);
        if (at == std::string_view::npos) {
          if (!final) return;
          fail_call(out);
          break;
        }
        pos_ = at;
        pending_name_.clear();
        state_ = buf[at] == '[' ? State::mistral_array : State::mistral_name;
        break;
      }

      case State::mistral_array: {
        JsonScanner::Result r = scan_json('[');
        if (r == JsonScanner::Result::more && !final) return;
        const std::optional<json> value = scanned_value(buf, pos_, scanner_, r);
        std::vector<NameArgs> calls;
        bool ok = value && value->is_array() && !value->empty();
        for (size_t i = 0; ok && i < value->size(); ++i) {
          std::optional<NameArgs> call = call_from_json((*value)[i]);
          if (call) calls.push_back(std::move(*call));
          else ok = false;
        }
        if (!ok) {
          fail_call(out);
          break;
        }
        size_t consumed = scanner_.end();
        for (size_t i = 0; i < calls.size(); ++i) {
          emit(std::move(calls[i].name), std::move(calls[i].arguments), i + 1 == calls.size() ? consumed : 0, out);
        }
        state_ = State::text;
        break;
      }

      case State::mistral_name: {
        // name[ARGS]{...} or name[CALL_ID]id[ARGS]{...}: a word, then a tag. The id is read like
        // a name, then dropped (ids are ours to give). name{...} (the tag lost to a detokenizer
        // that skips special tokens) is read too.
        size_t open = buf.find_first_of("[{", pos_);
        std::string_view word = buf.substr(pos_, open == std::string_view::npos ? std::string_view::npos : open - pos_);
        if (!word.empty() && !valid_name(word)) {
          fail_call(out);
          break;
        }
        if (open == std::string_view::npos) {
          if (!final) return;
          fail_call(out);
          break;
        }
        if (buf[open] == '{') {
          if (word.empty()) {
            fail_call(out);
            break;
          }
          if (pending_name_.empty()) pending_name_.assign(word);
          pos_ = open;
          state_ = State::mistral_args;
          break;
        }
        std::string_view rest = buf.substr(open);
        std::string_view tag = rest.starts_with(kMistralArgs)     ? kMistralArgs
                               : rest.starts_with(kMistralCallId) ? kMistralCallId
                                                                  : std::string_view{};
        if (tag.empty()) {
          bool maybe = kMistralArgs.starts_with(rest) || kMistralCallId.starts_with(rest);
          if (maybe && !final) return;
          fail_call(out);
          break;
        }
        bool reading_id = !pending_name_.empty();
        if ((!reading_id && word.empty()) || (reading_id && tag != kMistralArgs)) {
          fail_call(out);
          break;
        }
        if (!reading_id) pending_name_.assign(word);
        pos_ = open + tag.size();
        if (tag == kMistralArgs) state_ = State::mistral_args;
        break;
      }

      case State::mistral_args: {
        JsonScanner::Result r = scan_json('{');
        if (r == JsonScanner::Result::more && !final) return;
        const std::optional<json> value = scanned_value(buf, pos_, scanner_, r);
        std::optional<std::string> args;
        if (value && value->is_object()) args = dump(*value);
        if (!args) {
          fail_call(out);
          break;
        }
        emit(std::move(pending_name_), std::move(*args), scanner_.end(), out);
        pending_name_.clear();
        state_ = State::text;
        break;
      }

      case State::llama_json: {
        JsonScanner::Result r = scan_json('{');
        if (r == JsonScanner::Result::more && !final) return;
        const std::optional<json> value = scanned_value(buf, pos_, scanner_, r);
        std::optional<NameArgs> call = value ? call_from_json(*value) : std::nullopt;
        if (!call) {
          fail_call(out);
          break;
        }
        emit(std::move(call->name), std::move(call->arguments), scanner_.end(), out);
        state_ = State::llama_between;
        break;
      }

      case State::llama_between: {
        // Calls are separated by ';' or newlines; the separators are not content.
        size_t at = buf.find_first_not_of(" \t\r\n;");
        buf_.erase(0, std::min(at, buf_.size()));
        buf = buf_;
        if (buf.empty()) {
          if (!final) return;
          state_ = State::text;
          break;
        }
        if (buf.front() == '{') {
          start_call(0, 0, State::llama_json);
        } else if (buf.starts_with(kPythonTag)) {
          start_call(0, kPythonTag.size(), State::llama_json);
        } else if (kPythonTag.starts_with(buf) && !final) {
          return;
        } else {
          state_ = State::text;
        }
        break;
      }
    }
  }
}

// ---- one shot ----

ParsedMessage parse_tool_calls(ToolCallFormat format, std::string_view text) {
  ToolCallParser parser(format);
  ParsedMessage message;
  Delta parts[2] = {parser.push(text), parser.finish()};
  for (Delta& d : parts) {
    message.content += d.content;
    for (ToolCallDelta& c : d.tool_calls) {
      if (c.index >= static_cast<int>(message.tool_calls.size())) message.tool_calls.resize(c.index + 1);
      ToolCall& call = message.tool_calls[c.index];
      if (!c.id.empty()) call.id = std::move(c.id);
      if (!c.name.empty()) call.name = std::move(c.name);
      call.arguments += c.arguments;
    }
  }
  return message;
}

// ---- Reasoning ----

bool prompt_opens_think(std::string_view prompt) {
  size_t open = prompt.rfind(kThinkOpen);
  if (open == std::string_view::npos) return false;
  // Open only if nothing but whitespace follows: a <think> earlier in the prompt is history.
  return trim(prompt.substr(open + kThinkOpen.size())).empty();
}

ReasoningParser::ReasoningParser(bool starts_in_think) : state_(starts_in_think ? State::think : State::start) {}

ReasoningDelta ReasoningParser::push(std::string_view text) {
  ReasoningDelta out;
  buf_.append(text);
  step(false, out);
  return out;
}

ReasoningDelta ReasoningParser::finish() {
  ReasoningDelta out;
  step(true, out);
  out.content += content_sink_.held;  // trailing whitespace of the answer is the model's
  content_sink_.held.clear();
  reasoning_sink_.held.clear();  // of the reasoning, it is framing
  return out;
}

void ReasoningParser::step(bool final, ReasoningDelta& out) {
  for (;;) {
    std::string_view buf = buf_;
    switch (state_) {
      case State::start: {
        size_t at = buf.find_first_not_of(" \t\r\n");
        if (at == std::string_view::npos) {
          if (!final) return;  // leading whitespace waits: a <think> may follow
          state_ = State::content;
          break;
        }
        std::string_view rest = buf.substr(at);
        if (rest.starts_with(kThinkOpen)) {
          buf_.erase(0, at + kThinkOpen.size());
          state_ = State::think;
          break;
        }
        if (kThinkOpen.starts_with(rest) && !final) return;
        state_ = State::content;
        break;
      }
      case State::think: {
        size_t close = buf.find(kThinkClose);
        if (close != std::string_view::npos) {
          reasoning_sink_.put(buf.substr(0, close), out.reasoning);
          reasoning_sink_.held.clear();
          buf_.erase(0, close + kThinkClose.size());
          content_sink_.drop_leading = true;
          state_ = State::content;
          break;
        }
        size_t keep = final ? 0 : partial_marker(buf, kThinkClose);
        reasoning_sink_.put(buf.substr(0, buf.size() - keep), out.reasoning);
        buf_.erase(0, buf.size() - keep);
        return;
      }
      case State::content:
        content_sink_.put(buf, out.content);
        buf_.clear();
        return;
    }
  }
}

ReasoningDelta split_reasoning(std::string_view text, bool starts_in_think) {
  ReasoningParser parser(starts_in_think);
  ReasoningDelta out = parser.push(text);
  ReasoningDelta rest = parser.finish();
  out.reasoning += rest.reasoning;
  out.content += rest.content;
  return out;
}

}  // namespace salut::chat
