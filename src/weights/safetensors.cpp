#include "weights/safetensors.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "core/error.h"

namespace salut::weights {
namespace {

using nlohmann::json;

[[noreturn]] void fail(std::string_view label, std::string_view reason) {
  throw Error(Errc::not_a_model, fmt::format("{}: {}", label, reason));
}

// The header JSON, refusing duplicate keys (nlohmann keeps the last one silently) and nesting
// deeper than a safetensors header ever needs.
json parse_json_strict(std::string_view text, std::string_view label) {
  std::vector<std::set<std::string>> open_objects;
  int depth = 0;
  auto on_event = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (++depth > 4) fail(label, "header JSON is nested too deeply");
        if (event == json::parse_event_t::object_start) open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end:
        --depth;
        open_objects.pop_back();
        break;
      case json::parse_event_t::array_end:
        --depth;
        break;
      case json::parse_event_t::key:
        if (!open_objects.back().insert(parsed.get<std::string>()).second)
          fail(label, fmt::format("header JSON has the key '{}' twice", parsed.get<std::string>()));
        break;
      case json::parse_event_t::value:
        break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), on_event);
  } catch (const json::exception& e) {
    fail(label, fmt::format("header is not valid JSON ({})", e.what()));
  }
}

uint64_t read_u64_le(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | std::to_integer<uint64_t>(p[i]);
  return v;
}

[[noreturn]] void fail_tensor(std::string_view label, std::string_view tensor, std::string_view reason) {
  fail(label, fmt::format("tensor '{}': {}", tensor, reason));
}

TensorEntry parse_entry(const std::string& tensor, const json& info, uint64_t data_size, std::string_view label) {
  auto bad = [&](std::string_view reason) { fail_tensor(label, tensor, reason); };
  if (!info.is_object()) bad("entry is not a JSON object");
  const auto dtype_it = info.find("dtype");
  const auto shape_it = info.find("shape");
  const auto offsets_it = info.find("data_offsets");
  if (dtype_it == info.end() || !dtype_it->is_string()) bad("'dtype' is missing or not a string");
  if (shape_it == info.end() || !shape_it->is_array()) bad("'shape' is missing or not an array");
  if (offsets_it == info.end() || !offsets_it->is_array() || offsets_it->size() != 2)
    bad("'data_offsets' is missing or not an array [begin, end]");

  TensorEntry e;
  e.name = tensor;
  const auto& dtype_name = dtype_it->get_ref<const std::string&>();
  auto dtype = parse_dtype(dtype_name);
  if (!dtype) bad(fmt::format("unknown dtype '{}'", dtype_name));
  e.dtype = *dtype;

  uint64_t numel = 1;
  for (const auto& dim : *shape_it) {
    if (!dim.is_number_unsigned() || dim.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
      bad(fmt::format("shape has {}, not a non-negative integer", dim.dump()));
    const uint64_t d = dim.get<uint64_t>();
    e.shape.push_back(int64_t(d));
    if (__builtin_mul_overflow(numel, d, &numel)) bad("shape has more elements than can be addressed");
  }
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(numel, uint64_t(item_size(e.dtype)), &nbytes))
    bad("shape has more bytes than can be addressed");

  for (const auto& off : *offsets_it)
    if (!off.is_number_unsigned()) bad(fmt::format("data offset {} is not a non-negative integer", off.dump()));
  e.begin = (*offsets_it)[0].get<uint64_t>();
  e.end = (*offsets_it)[1].get<uint64_t>();
  if (e.end < e.begin) bad(fmt::format("data_offsets end {} is before begin {}", e.end, e.begin));
  if (e.end > data_size)
    bad(fmt::format("data_offsets [{}, {}] run past the end of the data area ({} bytes)", e.begin, e.end,
                    data_size));
  if (e.end - e.begin != nbytes) {
    std::string shape_text;
    for (auto d : e.shape) shape_text += (shape_text.empty() ? "" : ", ") + std::to_string(d);
    bad(fmt::format("shape [{}] of {} needs {} bytes but data_offsets [{}, {}] hold {}", shape_text, name(e.dtype),
                    nbytes, e.begin, e.end, e.end - e.begin));
  }
  return e;
}

}  // namespace

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

SafetensorsHeader parse_safetensors_header(std::span<const std::byte> file_bytes, std::string_view label) {
  const uint64_t size = file_bytes.size();
  if (size < 8) fail(label, fmt::format("file is {} bytes, too short for a safetensors header (truncated?)", size));
  const uint64_t header_len = read_u64_le(file_bytes.data());
  if (header_len > kMaxHeaderBytes)
    fail(label, fmt::format("header length {} is over the {}-byte limit", header_len, kMaxHeaderBytes));
  if (header_len > size - 8)
    fail(label, fmt::format("header length {} is larger than the rest of the file ({} bytes): truncated?", header_len,
                            size - 8));

  SafetensorsHeader header;
  header.data_offset = 8 + header_len;
  const uint64_t data_size = size - header.data_offset;
  const std::string_view text(reinterpret_cast<const char*>(file_bytes.data()) + 8, header_len);
  const json root = parse_json_strict(text, label);
  if (!root.is_object()) fail(label, "header JSON is not an object");

  for (const auto& [key, value] : root.items()) {
    if (key == "__metadata__") {
      if (value.is_null()) continue;  // what mx.save_safetensors writes when given no metadata
      if (!value.is_object()) fail(label, "__metadata__ is not a JSON object");
      for (const auto& [mkey, mvalue] : value.items()) {
        if (!mvalue.is_string()) fail(label, fmt::format("__metadata__ value of '{}' is not a string", mkey));
        header.metadata.emplace(mkey, mvalue.get<std::string>());
      }
      continue;
    }
    header.tensors.push_back(parse_entry(key, value, data_size, label));
  }

  // No two tensors may share bytes. Empty tensors hold no bytes and overlap nothing.
  std::vector<const TensorEntry*> by_offset;
  for (const auto& t : header.tensors)
    if (t.end > t.begin) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorEntry* a, const TensorEntry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const auto& prev = *by_offset[i - 1];
    const auto& next = *by_offset[i];
    if (next.begin < prev.end)
      fail(label, fmt::format("tensors '{}' [{}, {}] and '{}' [{}, {}] overlap", prev.name, prev.begin, prev.end,
                              next.name, next.begin, next.end));
  }
  return header;
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  const std::string label = path.string();
  const int fd = ::open(label.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    throw Error(err == ENOENT ? Errc::not_found : Errc::io,
                fmt::format("{}: cannot open: {}", label, std::strerror(err)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw Error(Errc::io, fmt::format("{}: cannot stat: {}", label, std::strerror(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(Errc::io, fmt::format("{}: not a regular file", label));
  }

  SafetensorsFile file;
  file.path_ = path;
  file.size_ = uint64_t(st.st_size);
  if (file.size_ > 0) {
    void* map = ::mmap(nullptr, file.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      throw Error(Errc::io, fmt::format("{}: cannot map: {}", label, std::strerror(err)));
    }
    file.map_ = map;
    // Pages the mapping reads in may come as 2 MiB folios: a decode step streams every weight, and
    // with 4 KiB pages each page costs a TLB miss (a two-level walk in a VM). Advice only: a kernel
    // without transparent huge pages for files ignores it.
    ::madvise(map, file.size_, MADV_HUGEPAGE);
  }
  ::close(fd);  // the mapping keeps the file open

  const auto* base = static_cast<const std::byte*>(file.map_);
  file.header_ = parse_safetensors_header({base, file.size_}, label);
  file.views_.reserve(file.header_.tensors.size());
  for (const auto& t : file.header_.tensors)
    file.views_.push_back(
        {t.name, t.dtype, t.shape, base + file.header_.data_offset + t.begin, size_t(t.end - t.begin)});
  return file;
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept
    : path_(std::move(other.path_)),
      map_(std::exchange(other.map_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      header_(std::move(other.header_)),
      views_(std::move(other.views_)) {}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept {
  if (this != &other) {
    if (map_) ::munmap(map_, size_);
    path_ = std::move(other.path_);
    map_ = std::exchange(other.map_, nullptr);
    size_ = std::exchange(other.size_, 0);
    header_ = std::move(other.header_);
    views_ = std::move(other.views_);
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(map_, size_);
}

const TensorView* SafetensorsFile::find(std::string_view name) const {
  for (const auto& v : views_)
    if (v.name == name) return &v;
  return nullptr;
}

void SafetensorsFile::prefetch() const {
  if (map_ && header_.data_offset < size_) ::madvise(map_, size_, MADV_WILLNEED);
}

}  // namespace salut::weights
