#pragma once
// safetensors files: the header parsed and checked in full, the file mapped read-only.
// Format: u64 little-endian header length N, N bytes of JSON, then the data area. The JSON maps
// each tensor name to {dtype, shape, data_offsets: [begin, end]} (offsets into the data area);
// an optional "__metadata__" maps strings to strings.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "weights/dtype.h"

namespace salut::weights {

// One tensor of a mapped file. `data` points into the mapping and may be unaligned (MLX writes
// unpadded headers): read it with memcpy or the load_* helpers, never through a typed pointer.
struct TensorView {
  std::string_view name;  // owned by the file
  DType dtype;
  std::vector<int64_t> shape;
  const std::byte* data;
  size_t nbytes;

  int64_t numel() const;
};

// A tensor as the header describes it; offsets are relative to the data area.
struct TensorEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin;
  uint64_t end;
};

struct SafetensorsHeader {
  uint64_t data_offset = 0;  // 8 + header length: where the data area starts in the file
  std::vector<TensorEntry> tensors;  // in the order the header lists them
  std::map<std::string, std::string> metadata;  // "__metadata__"
};

inline constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // as the reference implementation

// Parses and checks the header of a whole file held in memory. Throws salut::Error
// (Errc::not_a_model) whose message starts with `label` and says what is wrong. Pure: no I/O.
SafetensorsHeader parse_safetensors_header(std::span<const std::byte> file_bytes,
                                           std::string_view label = "safetensors data");

class SafetensorsFile {
 public:
  // Maps `path` read-only and checks its header; the mapping lives as long as the object, and
  // nothing is copied out of it: pages are read in from the page cache as they are touched and
  // shared with every other mapping of the file. (Truncating the file while it is mapped makes
  // reads past the new end fault, as with any mapping.) Throws salut::Error (not_found, io or
  // not_a_model).
  static SafetensorsFile open(const std::filesystem::path& path);

  SafetensorsFile(SafetensorsFile&& other) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& other) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  const std::filesystem::path& path() const { return path_; }
  uint64_t file_size() const { return size_; }
  std::span<const TensorView> tensors() const { return views_; }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  const TensorView* find(std::string_view name) const;  // nullptr when absent (linear scan)

  // Asks the kernel to read the whole data area ahead (MADV_WILLNEED), e.g. right after load.
  void prefetch() const;

 private:
  SafetensorsFile() = default;

  std::filesystem::path path_;
  void* map_ = nullptr;
  uint64_t size_ = 0;
  SafetensorsHeader header_;
  std::vector<TensorView> views_;  // names point into header_.tensors
};

}  // namespace salut::weights
