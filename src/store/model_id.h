#pragma once
// Hugging Face model IDs ("owner/name" or "owner/name@revision") and model references
// (an ID or a local model directory, as mlx-lm accepts both).
//
// Validation is pure string work: a bad ID is refused before any file or network access,
// so nothing downstream ever builds a path or URL from an unchecked string.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace salut::store {

inline constexpr size_t kMaxIdPartLength = 96;

struct ModelId {
  std::string owner;
  std::string name;
  std::string revision;  // empty means the default branch, "main"

  // Parses and validates; throws salut::Error(invalid_argument) naming the problem.
  static ModelId parse(std::string_view text);

  std::string repo() const { return owner + "/" + name; }                       // "owner/name"
  std::string revision_or_main() const { return revision.empty() ? "main" : revision; }
  std::string str() const { return revision.empty() ? repo() : repo() + "@" + revision; }
  bool operator==(const ModelId&) const = default;
};

// Why `text` is not a valid model ID, or nullopt when it is.
std::optional<std::string> model_id_error(std::string_view text);

// A model given either as a Hub ID or as a path to a local model directory.
struct ModelRef {
  std::variant<ModelId, std::filesystem::path> target;

  bool is_local() const { return std::holds_alternative<std::filesystem::path>(target); }
  const ModelId& id() const { return std::get<ModelId>(target); }
  const std::filesystem::path& path() const { return std::get<std::filesystem::path>(target); }
  std::string str() const;
};

// Text that can only be a local path: absolute, or starting with "./", "../" or "~/".
bool looks_like_path(std::string_view text);

// Parses an ID or (when `allow_local`) a local path; "~/" is expanded. Throws on bad IDs. As in
// mlx-lm and transformers, a relative "a/b" that names an existing model folder (one with a
// config.json) is that folder; anything else of that shape is a Hub ID.
ModelRef parse_model_ref(std::string_view text, bool allow_local = true);

}  // namespace salut::store
