#pragma once
// OpenAI wire-format objects built from the node's own types.

#include <nlohmann/json.hpp>
#include <string>

#include "store/registry.h"

namespace salut::server {

// {"error": {"message", "type", "param", "code"}}, as OpenAI sends errors.
nlohmann::json error_body(const std::string& message, const std::string& type, const std::string& code = "",
                          const std::string& param = "");

// A /v1/models entry: OpenAI's fields plus Salut's own (display name, download state, size).
nlohmann::json model_object(const store::ModelEntry& entry);

}  // namespace salut::server
