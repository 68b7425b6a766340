#pragma once
// Which files of a repository make an MLX model, and whether a folder holds a complete one.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace salut::store {

// The files a model needs, as mlx-lm selects them: *.json, model*.safetensors, tokenizer.model,
// *.tiktoken, *.txt, *.jinja. Executable code (*.py) is never fetched.
bool is_model_file(std::string_view repo_path);

struct ModelFolderCheck {
  bool complete = false;
  std::string model_type;               // from config.json
  std::vector<std::string> weight_files;  // *.safetensors present
  std::string problem;                  // why it is not complete, for messages
};

// A folder is a complete model when config.json names a model_type and every weight file it
// needs is present (all shards listed by model.safetensors.index.json, if there is one).
ModelFolderCheck check_model_folder(const std::filesystem::path& dir);

}  // namespace salut::store
