#pragma once
// The Hugging Face hub cache, byte-compatible with huggingface_hub:
//   <root>/models--{owner}--{name}/blobs/{etag}
//                                 /snapshots/{commit}/{path}  -> relative symlink into blobs/
//                                 /refs/{revision}            (40-hex commit, no newline)
//   <root>/.locks/models--{owner}--{name}/{etag}.lock

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "store/model_id.h"

namespace salut::store {

namespace fs = std::filesystem;

// One revision of a repository present in the cache.
struct CachedSnapshot {
  ModelId id;          // revision set to the ref name ("" for main) or the bare commit
  std::string commit;  // 40-hex
  fs::path path;       // snapshots/{commit}
};

class HfCache {
 public:
  explicit HfCache(fs::path root);
  // $HF_HUB_CACHE, else $HF_HOME/hub, else ${XDG_CACHE_HOME:-~/.cache}/huggingface/hub.
  static fs::path default_root();

  const fs::path& root() const { return root_; }
  fs::path repo_dir(const ModelId& id) const;
  fs::path blob_path(const ModelId& id, const std::string& etag) const;
  fs::path snapshot_dir(const ModelId& id, const std::string& commit) const;
  fs::path lock_path(const ModelId& id, const std::string& etag) const;

  std::optional<std::string> read_ref(const ModelId& id, const std::string& revision) const;
  // Atomic: readers never see a half-written ref.
  void write_ref(const ModelId& id, const std::string& revision, const std::string& commit) const;

  // The commit a model's revision points at in the cache: the revision itself when it is a
  // full commit hash, else refs/{revision}.
  std::optional<std::string> resolve_commit(const ModelId& id) const;
  // snapshots/{commit} for that commit, when the folder exists.
  std::optional<fs::path> snapshot_path(const ModelId& id) const;

  // Makes snapshots/{commit}/{file} a relative symlink to blobs/{etag}, replacing atomically.
  void link_snapshot_file(const ModelId& id, const std::string& commit, const std::string& file,
                          const std::string& etag) const;

  // Every referenced revision of every model repository, plus snapshots no ref points at.
  std::vector<CachedSnapshot> list_snapshots() const;

  // Bytes the repository's blobs take on disk.
  uint64_t repo_size(const ModelId& id) const;
  // Removes the repository's folder and its locks; false when it was not cached.
  bool remove_repo(const ModelId& id) const;
  // Removes one revision: its snapshot, the refs that point at it and the blobs no other
  // snapshot uses (the whole repository when nothing else is left). Adds the bytes freed.
  bool remove_revision(const ModelId& id, uint64_t* freed) const;

 private:
  fs::path root_;
};

bool is_commit_hash(const std::string& revision);
// "models--owner--name"
std::string repo_folder_name(const ModelId& id);

}  // namespace salut::store
