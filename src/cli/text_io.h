#pragma once
// Shared plumbing of the text commands (tokenize, detokenize, template): locating the model
// folder and reading stdin whole or line by line (--jsonl).

#include <filesystem>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace salut::cli {

// The folder of a model given by ID (cached or pulled) or by path.
std::filesystem::path model_folder(const std::string& model);

std::string read_stdin();

// --jsonl: each stdin line is one JSON input; `handle` returns the JSON result printed as one
// line. A line that is not JSON, or whose handling throws salut::Error, prints {"error": "..."}
// and the loop goes on.
void for_each_jsonl_line(const std::function<nlohmann::ordered_json(const nlohmann::ordered_json&)>& handle);

}  // namespace salut::cli
