// Chat template timing: parse once at load, then render conversations, as the server does.
//   build/tests/chat/salut_chat_template_bench [renders]
// Prints, per template and conversation, the parse time and the median render time (µs).
// Templates come from tests/data/chat/templates; conversations are the ones in
// bench/chat_template_bench.py, which times transformers (jinja2) on the same inputs.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "chat/chat_template.h"

namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

json tool(const std::string& name) {
  return json::parse(R"({"type": "function", "function": {"name": ")" + name +
                     R"(", "description": "Look something up", "parameters": {"type": "object",
                     "properties": {"query": {"type": "string", "description": "What to look up"},
                     "limit": {"type": "integer"}}, "required": ["query"]}}})");
}

std::vector<std::pair<std::string, json>> conversations() {
  json short_chat = {{"messages", {{{"role", "system"}, {"content", "You are a helpful assistant."}},
                                   {{"role", "user"}, {"content", "What is the capital of France?"}}}},
                     {"add_generation_prompt", true}};
  json agent = json::parse(R"({"messages": [
      {"role": "system", "content": "You are a helpful assistant."},
      {"role": "user", "content": "Find the weather in Paris and the time in Tokyo."},
      {"role": "assistant", "content": "", "tool_calls": [
         {"id": "call12345", "type": "function", "function": {"name": "search", "arguments": "{\"query\": \"weather Paris\"}"}}]},
      {"role": "tool", "tool_call_id": "call12345", "content": "Sunny, 21 °C"},
      {"role": "assistant", "content": "It is sunny and 21 °C in Paris."},
      {"role": "user", "content": "And Tokyo?"}],
    "add_generation_prompt": true})");
  agent["tools"] = {tool("search"), tool("lookup")};
  json long_chat = {{"add_generation_prompt", true}, {"messages", json::array()}};
  long_chat["messages"].push_back({{"role", "system"}, {"content", "You are a helpful assistant."}});
  for (int i = 0; i < 100; ++i)
    long_chat["messages"].push_back({{"role", i % 2 ? "assistant" : "user"},
                                     {"content", "Message " + std::to_string(i) + ": " + std::string(180, 'x')}});
  long_chat["messages"].back()["role"] = "user";
  long_chat["messages"].erase(long_chat["messages"].size() - 2);  // keep roles alternating
  return {{"short (2 messages)", short_chat}, {"agent (6 messages, 2 tools)", agent}, {"long (100 messages)", long_chat}};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int renders = argc > 1 ? std::atoi(argv[1]) : 2000;
  std::string dir = std::string(SALUT_TEST_DATA_DIR) + "/chat/templates/";
  const std::vector<std::pair<std::string, salut::chat::SpecialTokens>> templates = {
      {"qwen3-0.6b.jinja", {{"eos_token", "<|im_end|>"}}},
      {"qwen2.5-7b-instruct.jinja", {{"eos_token", "<|im_end|>"}}},
      {"llama-3.1-8b-instruct.jinja", {{"bos_token", "<|begin_of_text|>"}, {"eos_token", "<|eot_id|>"}}},
      {"mistral-7b-instruct-v0.3.jinja", {{"bos_token", "<s>"}, {"eos_token", "</s>"}}},
      {"ollama-smollm2-135m.jinja", {{"bos_token", "<|im_start|>"}, {"eos_token", "<|im_end|>"}}},
      {"deepseek-r1.jinja", {{"bos_token", "<｜begin▁of▁sentence｜>"}, {"eos_token", "<｜end▁of▁sentence｜>"}}},
      {"ollama-phi4-mini-3.8b.jinja", {{"eos_token", "<|endoftext|>"}}},
  };
  std::printf("%-32s %-28s %10s %12s %10s\n", "template", "conversation", "parse µs", "render µs", "bytes");
  for (const auto& [file, tokens] : templates) {
    std::string source = read_text(dir + file);
    std::vector<double> parse_us;
    for (int i = 0; i < 20; ++i) {
      auto t0 = Clock::now();
      auto t = salut::chat::ChatTemplate::from_source(source, tokens);
      parse_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    auto tmpl = salut::chat::ChatTemplate::from_source(source, tokens);
    for (const auto& [name, request] : conversations()) {
      std::string prompt;
      try {
        prompt = tmpl.render(request);
      } catch (const std::exception& e) {
        std::printf("%-32s %-28s %10.1f %12s %10s\n", file.c_str(), name.c_str(), median(parse_us), "refused", "-");
        continue;
      }
      std::vector<double> render_us;
      for (int i = 0; i < renders; ++i) {
        auto t0 = Clock::now();
        prompt = tmpl.render(request);
        render_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      }
      std::printf("%-32s %-28s %10.1f %12.1f %10zu\n", file.c_str(), name.c_str(), median(parse_us), median(render_us),
                  prompt.size());
    }
  }
}
