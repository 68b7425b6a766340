#include "store/model_files.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

namespace salut::store {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) { return s.ends_with(suffix); }

std::string base_name(std::string_view path) {
  auto slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

}  // namespace

bool is_model_file(std::string_view repo_path) {
  // fnmatch semantics as in huggingface_hub's allow_patterns: '*' also crosses '/', and
  // "model*.safetensors" therefore only matches at the top level.
  if (ends_with(repo_path, ".json") || ends_with(repo_path, ".tiktoken") || ends_with(repo_path, ".txt") ||
      ends_with(repo_path, ".jinja"))
    return true;
  if (repo_path == "tokenizer.model") return true;
  return repo_path.starts_with("model") && ends_with(repo_path, ".safetensors");
}

ModelFolderCheck check_model_folder(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  ModelFolderCheck check;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    check.problem = "not a directory";
    return check;
  }
  std::ifstream config_in(dir / "config.json");
  if (!config_in) {
    check.problem = "no config.json";
    return check;
  }
  auto config = nlohmann::json::parse(config_in, nullptr, /*allow_exceptions=*/false);
  if (!config.is_object() || !config.contains("model_type") || !config["model_type"].is_string()) {
    check.problem = "config.json has no model_type";
    return check;
  }
  check.model_type = config["model_type"].get<std::string>();

  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (ends_with(name, ".safetensors") && entry.is_regular_file(ec)) check.weight_files.push_back(name);
  }
  std::sort(check.weight_files.begin(), check.weight_files.end());

  std::ifstream index_in(dir / "model.safetensors.index.json");
  if (index_in) {
    auto index = nlohmann::json::parse(index_in, nullptr, false);
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
      check.problem = "model.safetensors.index.json has no weight_map";
      return check;
    }
    std::set<std::string> shards;
    for (const auto& [tensor, file] : index["weight_map"].items())
      if (file.is_string()) shards.insert(file.get<std::string>());
    for (const auto& shard : shards) {
      if (!std::binary_search(check.weight_files.begin(), check.weight_files.end(), base_name(shard))) {
        check.problem = fmt::format("weight file {} is missing", shard);
        return check;
      }
    }
  }
  if (check.weight_files.empty()) {
    check.problem = "no .safetensors weights";
    return check;
  }
  check.complete = true;
  return check;
}

}  // namespace salut::store
