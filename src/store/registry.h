#pragma once
// The models this node knows: every MLX model in the HF cache (auto-detected) and the custom
// list (one ID per line in $SALUT_HOME/custom-models.txt), merged into one listing.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "store/hf_cache.h"
#include "store/model_id.h"

namespace salut::store {

struct ModelEntry {
  std::string id;  // "owner/name" or "owner/name@revision"
  std::string display_name;
  bool downloaded = false;  // a complete snapshot is in the cache
  bool custom = false;      // listed in custom-models.txt
  bool detected = false;    // found in the cache
  uint64_t size_bytes = 0;  // on disk (the repository's blobs)
  std::string model_type;
  std::string commit;
  std::filesystem::path path;  // the snapshot folder, when downloaded
};

// A line of the custom list that is not a valid ID: reported, never fatal.
struct CustomListProblem {
  int line = 0;
  std::string text;
  std::string reason;
};

class CustomModels {
 public:
  explicit CustomModels(std::filesystem::path file);
  // The default file: $SALUT_HOME/custom-models.txt.
  static std::filesystem::path default_path();

  const std::filesystem::path& file() const { return file_; }
  std::vector<ModelId> list(std::vector<CustomListProblem>* problems = nullptr) const;
  // Both return false when nothing changed (already listed / not listed). Comments, blank
  // lines and unrelated lines are kept; the file is replaced atomically.
  bool add(const ModelId& id) const;
  bool remove(const ModelId& id) const;

 private:
  std::filesystem::path file_;
};

class Registry {
 public:
  Registry(HfCache cache, CustomModels custom);

  // Custom and cached models, each ID once, sorted by ID.
  std::vector<ModelEntry> list(std::vector<CustomListProblem>* problems = nullptr) const;
  std::optional<ModelEntry> find(const ModelId& id) const;

  const HfCache& cache() const { return cache_; }
  const CustomModels& custom() const { return custom_; }

 private:
  HfCache cache_;
  CustomModels custom_;
};

}  // namespace salut::store
