#pragma once
// OpenAI request bodies (/v1/chat/completions, /v1/completions) checked field by field and
// turned into what the engine takes. Every problem is an ApiError naming the field, as OpenAI
// answers: {"error": {"message", "type": "invalid_request_error", "param", "code"}}.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/sampler.h"

namespace salut::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string param = "", std::string code = "",
           std::string type = "invalid_request_error")
      : std::runtime_error(std::move(message)),
        status(status),
        param(std::move(param)),
        code(std::move(code)),
        type(std::move(type)) {}
  int status;
  std::string param, code, type;
};

// Parses a request body: not JSON, nested deeper than kMaxJsonDepth, or not an object → 400.
inline constexpr int kMaxJsonDepth = 64;
nlohmann::json parse_body(const std::string& body);

// What both endpoints share.
struct GenerationRequest {
  std::string model;
  engine::SamplingParams sampling;
  int64_t max_tokens = 0;  // 0: up to the context
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;
  int top_logprobs = -1;  // -1: no logprobs
};

struct ChatRequest : GenerationRequest {
  nlohmann::ordered_json template_input;  // messages, tools, add_generation_prompt, template kwargs
  bool has_tools = false;
  std::string tool_choice = "auto";       // auto | none | required | a function's name
  nlohmann::json response_format;         // null, or {"type": "json_object" | "json_schema", ...}
};

struct TextCompletionRequest : GenerationRequest {
  std::string prompt;
  std::optional<std::vector<int32_t>> prompt_ids;  // a prompt given as token IDs
  bool echo = false;
};

ChatRequest parse_chat_request(const nlohmann::json& body);
TextCompletionRequest parse_completion_request(const nlohmann::json& body);

}  // namespace salut::server
