#pragma once
// All the tensors of a model folder, looked up by name. The files stay mapped for the store's
// lifetime; nothing is copied.
//
// Which files: those named by model.safetensors.index.json when it exists (every shard must exist
// and hold every tensor the index places in it), else every model*.safetensors in the folder, as
// mlx-lm globs them. A tensor name found in two files is refused.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "weights/safetensors.h"

namespace salut::weights {

class WeightStore {
 public:
  // Throws salut::Error: not_found (folder or shard missing), not_a_model (bad file, bad index,
  // no weights), io.
  static WeightStore open(const std::filesystem::path& folder);

  const std::filesystem::path& folder() const { return folder_; }
  const std::vector<SafetensorsFile>& files() const { return files_; }

  const TensorView* find(std::string_view name) const;  // nullptr when absent
  // Throws not_a_model "missing tensor 'X' in <folder>".
  const TensorView& get(std::string_view name) const;
  bool contains(std::string_view name) const { return find(name) != nullptr; }
  std::vector<std::string_view> names() const;  // sorted

  uint64_t total_bytes() const;  // of all tensor data
  uint64_t bytes_for_prefix(std::string_view prefix) const;  // of tensors whose name starts so

  // The file (name inside the folder) that holds a tensor; throws like get().
  const std::filesystem::path& file_of(std::string_view name) const;
  // The files, sorted and without repeats, that hold the given tensors (or the tensors whose
  // names start with a prefix): what a node must fetch to serve part of a model.
  std::vector<std::string> files_for_tensors(std::span<const std::string> names) const;
  std::vector<std::string> files_for_prefix(std::string_view prefix) const;

  // MADV_WILLNEED on every file: start reading all weights in.
  void prefetch() const;

 private:
  struct Slot {
    const TensorView* view;
    size_t file;
  };

  std::filesystem::path folder_;
  std::vector<SafetensorsFile> files_;
  std::vector<std::filesystem::path> file_names_;
  std::unordered_map<std::string_view, Slot> index_;
};

}  // namespace salut::weights
