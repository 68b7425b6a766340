#include "store/hf_cache.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "core/env.h"
#include "core/error.h"

namespace salut::store {
namespace {

std::string unique_suffix() {
  static thread_local std::mt19937_64 rng(std::random_device{}() ^ static_cast<uint64_t>(::getpid()));
  return fmt::format(".{:x}.tmp", rng());
}

std::string read_small_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

bool is_commit_hash(const std::string& revision) {
  return revision.size() == 40 &&
         std::all_of(revision.begin(), revision.end(), [](char c) { return std::isxdigit(c) && !std::isupper(c); });
}

std::string repo_folder_name(const ModelId& id) { return "models--" + id.owner + "--" + id.name; }

HfCache::HfCache(fs::path root) : root_(std::move(root)) {}

fs::path HfCache::default_root() {
  if (auto dir = env("HF_HUB_CACHE")) return *dir;
  if (auto home = env("HF_HOME")) return fs::path(*home) / "hub";
  return xdg_cache_home() / "huggingface" / "hub";
}

fs::path HfCache::repo_dir(const ModelId& id) const { return root_ / repo_folder_name(id); }

fs::path HfCache::blob_path(const ModelId& id, const std::string& etag) const {
  return repo_dir(id) / "blobs" / etag;
}

fs::path HfCache::snapshot_dir(const ModelId& id, const std::string& commit) const {
  return repo_dir(id) / "snapshots" / commit;
}

fs::path HfCache::lock_path(const ModelId& id, const std::string& etag) const {
  return root_ / ".locks" / repo_folder_name(id) / (etag + ".lock");
}

std::optional<std::string> HfCache::read_ref(const ModelId& id, const std::string& revision) const {
  std::error_code ec;
  fs::path path = repo_dir(id) / "refs" / revision;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  std::string commit = read_small_file(path);
  while (!commit.empty() && std::isspace(static_cast<unsigned char>(commit.back()))) commit.pop_back();
  if (!is_commit_hash(commit)) return std::nullopt;
  return commit;
}

void HfCache::write_ref(const ModelId& id, const std::string& revision, const std::string& commit) const {
  fs::path path = repo_dir(id) / "refs" / revision;
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  fs::path tmp = path.string() + unique_suffix();
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << commit;  // huggingface_hub writes no trailing newline
    if (!out) throw Error(Errc::io, "cannot write " + path.string());
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw Error(Errc::io, "cannot write " + path.string());
  }
}

std::optional<std::string> HfCache::resolve_commit(const ModelId& id) const {
  const std::string revision = id.revision_or_main();
  if (is_commit_hash(revision)) return revision;
  return read_ref(id, revision);
}

std::optional<fs::path> HfCache::snapshot_path(const ModelId& id) const {
  auto commit = resolve_commit(id);
  if (!commit) return std::nullopt;
  fs::path dir = snapshot_dir(id, *commit);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return std::nullopt;
  return dir;
}

void HfCache::link_snapshot_file(const ModelId& id, const std::string& commit, const std::string& file,
                                 const std::string& etag) const {
  fs::path link = snapshot_dir(id, commit) / file;
  std::error_code ec;
  fs::create_directories(link.parent_path(), ec);
  if (ec) throw Error(Errc::io, fmt::format("cannot create {}: {}", link.parent_path().string(), ec.message()));
  fs::path target = blob_path(id, etag).lexically_relative(link.parent_path());
  fs::path tmp = link.string() + unique_suffix();
  fs::create_symlink(target, tmp, ec);
  if (!ec) fs::rename(tmp, link, ec);
  if (ec) {
    fs::remove(tmp);
    throw Error(Errc::io, fmt::format("cannot link {}: {}", link.string(), ec.message()));
  }
}

std::vector<CachedSnapshot> HfCache::list_snapshots() const {
  std::vector<CachedSnapshot> out;
  std::error_code ec;
  if (!fs::is_directory(root_, ec)) return out;
  std::vector<fs::path> repos;
  for (const auto& entry : fs::directory_iterator(root_, ec)) {
    const std::string folder = entry.path().filename().string();
    if (entry.is_directory(ec) && folder.starts_with("models--")) repos.push_back(entry.path());
  }
  std::sort(repos.begin(), repos.end());
  for (const auto& repo : repos) {
    // huggingface_hub joins owner and name with "--"; owners never contain "--".
    const std::string rest = repo.filename().string().substr(8);
    auto sep = rest.find("--");
    if (sep == std::string::npos || model_id_error(rest.substr(0, sep) + "/" + rest.substr(sep + 2))) continue;
    ModelId base{rest.substr(0, sep), rest.substr(sep + 2), ""};

    std::set<std::string> referenced;
    std::vector<std::pair<std::string, std::string>> refs;  // revision, commit
    fs::path refs_dir = repo / "refs";
    if (fs::is_directory(refs_dir, ec)) {
      for (const auto& ref : fs::recursive_directory_iterator(refs_dir, ec)) {
        if (!ref.is_regular_file(ec)) continue;
        std::string revision = ref.path().lexically_relative(refs_dir).string();
        if (model_id_error(base.repo() + "@" + revision)) continue;  // e.g. refs/pr/1
        if (auto commit = read_ref(base, revision)) refs.emplace_back(revision, *commit);
      }
    }
    std::sort(refs.begin(), refs.end(), [](const auto& a, const auto& b) {
      return (a.first != "main") < (b.first != "main") || ((a.first != "main") == (b.first != "main") && a.first < b.first);
    });
    for (const auto& [revision, commit] : refs) {
      fs::path dir = repo / "snapshots" / commit;
      if (!fs::is_directory(dir, ec)) continue;
      referenced.insert(commit);
      ModelId id = base;
      id.revision = revision == "main" ? "" : revision;
      out.push_back({id, commit, dir});
    }
    std::vector<fs::path> snapshots;
    for (const auto& snap : fs::directory_iterator(repo / "snapshots", ec)) snapshots.push_back(snap.path());
    std::sort(snapshots.begin(), snapshots.end());
    for (const auto& snap : snapshots) {
      const std::string commit = snap.filename().string();
      if (!is_commit_hash(commit) || referenced.count(commit) || !fs::is_directory(snap, ec)) continue;
      ModelId id = base;
      id.revision = commit;
      out.push_back({id, commit, snap});
    }
  }
  return out;
}

uint64_t HfCache::repo_size(const ModelId& id) const {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& blob : fs::directory_iterator(repo_dir(id) / "blobs", ec)) {
    if (blob.is_regular_file(ec)) total += blob.file_size(ec);
  }
  return total;
}

bool HfCache::remove_repo(const ModelId& id) const {
  std::error_code ec;
  fs::path dir = repo_dir(id);
  if (!fs::exists(fs::symlink_status(dir, ec))) return false;
  fs::remove_all(dir, ec);
  if (ec) throw Error(Errc::io, fmt::format("cannot remove {}: {}", dir.string(), ec.message()));
  fs::remove_all(root_ / ".locks" / repo_folder_name(id), ec);
  return true;
}

bool HfCache::remove_revision(const ModelId& id, uint64_t* freed) const {
  auto commit = resolve_commit(id);
  if (!commit) return false;
  const fs::path snapshots = repo_dir(id) / "snapshots";
  const fs::path target = snapshots / *commit;
  std::error_code ec;
  if (!fs::is_directory(target, ec)) return false;

  // Blobs the other snapshots still link to.
  auto linked_blobs = [](const fs::path& dir) {
    std::set<std::string> blobs;
    std::error_code walk_ec;
    for (const auto& entry : fs::recursive_directory_iterator(dir, walk_ec))
      if (entry.is_symlink(walk_ec)) blobs.insert(fs::read_symlink(entry.path(), walk_ec).filename().string());
    return blobs;
  };
  std::set<std::string> keep;
  for (const auto& snap : fs::directory_iterator(snapshots, ec))
    if (snap.path() != target) keep.merge(linked_blobs(snap.path()));
  if (keep.empty()) {
    if (freed) *freed += repo_size(id);
    return remove_repo(id);
  }
  for (const auto& blob : linked_blobs(target)) {
    if (keep.count(blob)) continue;
    fs::path path = repo_dir(id) / "blobs" / blob;
    if (freed) *freed += fs::file_size(path, ec);
    fs::remove(path, ec);
  }
  fs::remove_all(target, ec);
  fs::path refs_dir = repo_dir(id) / "refs";
  std::vector<fs::path> stale;
  for (const auto& ref : fs::recursive_directory_iterator(refs_dir, ec)) {
    if (!ref.is_regular_file(ec)) continue;
    if (read_ref(id, ref.path().lexically_relative(refs_dir).string()) == commit) stale.push_back(ref.path());
  }
  for (const auto& ref : stale) fs::remove(ref, ec);
  return true;
}

}  // namespace salut::store
