// libFuzzer target: the input is a chat template. It is parsed and rendered against a rich chat
// request (tools, tool calls, reasoning, documents, extra keyword arguments). A bad template must
// end in salut::Error; anything else (a crash, a sanitizer report, another exception, a hang) is a bug.

#include <cstddef>
#include <cstdint>
#include <string>

#include "chat/chat_template.h"
#include "core/error.h"

namespace {

const nlohmann::ordered_json& request() {
  static const nlohmann::ordered_json r = nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "You are a helpful assistant."},
      {"role": "user", "content": "What's the weather in Köln? 😀"},
      {"role": "assistant", "content": null, "reasoning_content": "Use the tool.",
       "tool_calls": [{"id": "call12345", "type": "function",
                       "function": {"name": "get_weather", "arguments": {"city": "Köln", "days": 2}}},
                      {"id": "abc123XYZ", "type": "function",
                       "function": {"name": "get_time", "arguments": "{\"tz\": \"UTC\"}"}}]},
      {"role": "tool", "tool_call_id": "call12345", "content": "{\"temp\": 21.5}"},
      {"role": "assistant", "content": "<think>\nok\n</think>\n\nIt is 21.5 °C."},
      {"role": "user", "content": [{"type": "text", "text": "Thanks"}, {"type": "image"}]}
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                              "days": {"type": "integer", "enum": [1, 2]}}, "required": ["city"]}}}],
    "documents": [{"title": "A", "text": "Alpha"}],
    "add_generation_prompt": true,
    "enable_thinking": false,
    "date_string": "02 Jan 2025",
    "n": 42, "f": -2.5, "big": 9007199254740993, "xs": [3, 1, 2], "flag": false, "nothing": null,
    "d": {"b": 1, "a": [true, null, 1.5e300, "x"]}, "s": "  Héllo\tWörld\n"
  })");
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string source(reinterpret_cast<const char*>(data), size);
  salut::jinja::RenderOptions options;
  options.max_steps = 200'000;
  options.max_output_bytes = 1 << 20;
  options.max_items = 10'000;
  options.now = std::chrono::system_clock::time_point(std::chrono::seconds(1735787045));
  try {
    auto tmpl = salut::chat::ChatTemplate::from_source(source, {{"bos_token", "<s>"}, {"eos_token", "</s>"}});
    tmpl.render(request(), options);
  } catch (const salut::Error&) {
    // a refused template: expected
  }
  return 0;
}
