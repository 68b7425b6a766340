#include "store/registry.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>

#include "core/env.h"
#include "core/error.h"
#include "store/display_name.h"
#include "store/model_files.h"

namespace salut::store {
namespace {

std::string strip(const std::string& line) {
  size_t begin = line.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return {};
  size_t end = line.find_last_not_of(" \t\r");
  return line.substr(begin, end - begin + 1);
}

std::vector<std::string> read_lines(const fs::path& file) {
  std::vector<std::string> lines;
  std::ifstream in(file, std::ios::binary);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void write_lines_atomically(const fs::path& file, const std::vector<std::string>& lines) {
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  fs::path tmp = file.string() + fmt::format(".{}.tmp", ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    for (const auto& line : lines) out << line << '\n';
    if (!out) throw Error(Errc::io, "cannot write " + file.string());
  }
  fs::rename(tmp, file, ec);
  if (ec) throw Error(Errc::io, fmt::format("cannot write {}: {}", file.string(), ec.message()));
}

}  // namespace

CustomModels::CustomModels(fs::path file) : file_(std::move(file)) {}

fs::path CustomModels::default_path() { return salut_home() / "custom-models.txt"; }

std::vector<ModelId> CustomModels::list(std::vector<CustomListProblem>* problems) const {
  std::vector<ModelId> ids;
  int number = 0;
  for (const auto& raw : read_lines(file_)) {
    ++number;
    std::string line = strip(raw);
    if (line.empty() || line.starts_with('#')) continue;
    if (auto error = model_id_error(line)) {
      if (problems) problems->push_back({number, line, *error});
      continue;
    }
    ModelId id = ModelId::parse(line);
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  return ids;
}

bool CustomModels::add(const ModelId& id) const {
  auto ids = list();
  if (std::find(ids.begin(), ids.end(), id) != ids.end()) return false;
  auto lines = read_lines(file_);
  if (lines.empty() && !fs::exists(file_))
    lines.push_back("# Salut custom models: one Hugging Face model ID per line (owner/name or owner/name@revision).");
  lines.push_back(id.str());
  write_lines_atomically(file_, lines);
  return true;
}

bool CustomModels::remove(const ModelId& id) const {
  auto lines = read_lines(file_);
  auto is_id = [&](const std::string& raw) {
    std::string line = strip(raw);
    return !model_id_error(line) && ModelId::parse(line) == id;
  };
  auto end = std::remove_if(lines.begin(), lines.end(), is_id);
  if (end == lines.end()) return false;
  lines.erase(end, lines.end());
  write_lines_atomically(file_, lines);
  return true;
}

Registry::Registry(HfCache cache, CustomModels custom) : cache_(std::move(cache)), custom_(std::move(custom)) {}

std::vector<ModelEntry> Registry::list(std::vector<CustomListProblem>* problems) const {
  std::map<std::string, ModelEntry> entries;
  std::map<std::string, uint64_t> repo_sizes;
  auto repo_size = [&](const ModelId& id) {
    auto [it, inserted] = repo_sizes.try_emplace(id.repo(), 0);
    if (inserted) it->second = cache_.repo_size(id);
    return it->second;
  };

  for (const auto& snapshot : cache_.list_snapshots()) {
    ModelFolderCheck check = check_model_folder(snapshot.path);
    if (check.model_type.empty() || check.weight_files.empty()) continue;  // not an MLX model
    ModelEntry entry;
    entry.id = snapshot.id.str();
    entry.display_name = display_name(entry.id);
    entry.detected = true;
    entry.downloaded = check.complete;
    entry.size_bytes = repo_size(snapshot.id);
    entry.model_type = check.model_type;
    entry.commit = snapshot.commit;
    entry.path = snapshot.path;
    entries[entry.id] = entry;
  }

  for (const auto& id : custom_.list(problems)) {
    auto [it, inserted] = entries.try_emplace(id.str());
    ModelEntry& entry = it->second;
    entry.custom = true;
    if (inserted) {
      entry.id = id.str();
      entry.display_name = display_name(entry.id);
      // A custom ID may be cached in a form the scan did not list (e.g. a commit revision).
      if (auto snapshot = cache_.snapshot_path(id)) {
        ModelFolderCheck check = check_model_folder(*snapshot);
        entry.downloaded = check.complete;
        entry.model_type = check.model_type;
        entry.commit = snapshot->filename().string();
        entry.path = *snapshot;
        entry.size_bytes = repo_size(id);
      }
    }
  }

  std::vector<ModelEntry> out;
  for (auto& [id, entry] : entries) out.push_back(std::move(entry));
  return out;
}

std::optional<ModelEntry> Registry::find(const ModelId& id) const {
  for (auto& entry : list())
    if (entry.id == id.str()) return entry;
  return std::nullopt;
}

}  // namespace salut::store
