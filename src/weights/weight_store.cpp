#include "weights/weight_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"

namespace salut::weights {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kIndexName = "model.safetensors.index.json";

bool is_plain_file_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

// The index's weight_map: tensor name -> shard file name.
std::map<std::string, std::string> read_index(const fs::path& index_path) {
  const std::string label = index_path.string();
  std::ifstream in(index_path, std::ios::binary);
  if (!in) throw Error(Errc::io, fmt::format("{}: cannot read", label));
  auto index = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (index.is_discarded()) throw Error(Errc::not_a_model, fmt::format("{}: not valid JSON", label));
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    throw Error(Errc::not_a_model, fmt::format("{}: no weight_map object", label));
  std::map<std::string, std::string> weight_map;
  for (const auto& [tensor, file] : index["weight_map"].items()) {
    if (!file.is_string() || !is_plain_file_name(file.get_ref<const std::string&>()))
      throw Error(Errc::not_a_model,
                  fmt::format("{}: weight_map gives tensor '{}' the file {}, not a file name in the folder", label,
                              tensor, file.dump()));
    weight_map.emplace(tensor, file.get<std::string>());
  }
  if (weight_map.empty()) throw Error(Errc::not_a_model, fmt::format("{}: weight_map is empty", label));
  return weight_map;
}

std::vector<std::string> glob_model_files(const fs::path& folder) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("model") && name.ends_with(".safetensors") && entry.is_regular_file(ec))
      names.push_back(name);
  }
  if (ec) throw Error(Errc::io, fmt::format("{}: cannot list: {}", folder.string(), ec.message()));
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

WeightStore WeightStore::open(const fs::path& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    throw Error(Errc::not_found, fmt::format("{}: no such model folder", folder.string()));

  WeightStore store;
  store.folder_ = folder;
  const fs::path index_path = folder / kIndexName;
  // A dangling link (a Hugging Face cache snapshot whose blob is gone) counts as present, so that
  // reading it fails loudly instead of the folder being globbed without its index.
  const bool has_index = fs::exists(fs::symlink_status(index_path, ec));
  std::map<std::string, std::string> weight_map;
  std::vector<std::string> names;
  if (has_index) {
    weight_map = read_index(index_path);
    std::set<std::string> shards;
    for (const auto& [tensor, shard] : weight_map) shards.insert(shard);
    for (const auto& shard : shards) {
      if (!fs::exists(folder / shard, ec))
        throw Error(Errc::not_found, fmt::format("{}: shard {} is missing (named by {})", folder.string(), shard,
                                                 std::string(kIndexName)));
      names.push_back(shard);
    }
  } else {
    names = glob_model_files(folder);
    if (names.empty()) throw Error(Errc::not_a_model, fmt::format("{}: no model*.safetensors files", folder.string()));
  }

  store.files_.reserve(names.size());
  for (const auto& name : names) {
    store.files_.push_back(SafetensorsFile::open(folder / name));
    store.file_names_.emplace_back(name);
  }
  for (size_t f = 0; f < store.files_.size(); ++f) {
    for (const auto& view : store.files_[f].tensors()) {
      auto [it, inserted] = store.index_.emplace(view.name, Slot{&view, f});
      if (!inserted)
        throw Error(Errc::not_a_model,
                    fmt::format("{}: tensor '{}' is in both {} and {}", folder.string(), view.name,
                                store.file_names_[it->second.file].string(), names[f]));
    }
  }
  for (const auto& [tensor, shard] : weight_map) {
    auto it = store.index_.find(tensor);
    if (it == store.index_.end() || store.file_names_[it->second.file] != shard)
      throw Error(Errc::not_a_model, fmt::format("{}: tensor '{}' is not in {}, where {} places it", folder.string(),
                                                 tensor, shard, std::string(kIndexName)));
  }
  return store;
}

const TensorView* WeightStore::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second.view;
}

const TensorView& WeightStore::get(std::string_view name) const {
  if (const auto* view = find(name)) return *view;
  throw Error(Errc::not_a_model, fmt::format("missing tensor '{}' in {}", name, folder_.string()));
}

std::vector<std::string_view> WeightStore::names() const {
  std::vector<std::string_view> out;
  out.reserve(index_.size());
  for (const auto& [name, slot] : index_) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

uint64_t WeightStore::total_bytes() const { return bytes_for_prefix(""); }

uint64_t WeightStore::bytes_for_prefix(std::string_view prefix) const {
  uint64_t total = 0;
  for (const auto& [name, slot] : index_)
    if (name.starts_with(prefix)) total += slot.view->nbytes;
  return total;
}

const fs::path& WeightStore::file_of(std::string_view name) const {
  auto it = index_.find(name);
  if (it == index_.end())
    throw Error(Errc::not_a_model, fmt::format("missing tensor '{}' in {}", name, folder_.string()));
  return file_names_[it->second.file];
}

std::vector<std::string> WeightStore::files_for_tensors(std::span<const std::string> names) const {
  std::set<std::string> files;
  for (const auto& name : names) files.insert(file_of(name).string());
  return {files.begin(), files.end()};
}

std::vector<std::string> WeightStore::files_for_prefix(std::string_view prefix) const {
  std::set<std::string> files;
  for (const auto& [name, slot] : index_)
    if (name.starts_with(prefix)) files.insert(file_names_[slot.file].string());
  return {files.begin(), files.end()};
}

void WeightStore::prefetch() const {
  for (const auto& file : files_) file.prefetch();
}

}  // namespace salut::weights
