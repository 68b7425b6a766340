#include "tokenizer/word_cache.h"

#include <array>
#include <cstring>
#include <memory>

namespace salut::tokenizer {
namespace {

constexpr size_t kSlots = 1 << 15;            // 1 MB; at most half of them used
constexpr size_t kMaxKeyBytes = 4 << 20;      // arena bounds
constexpr size_t kMaxIds = 1 << 20;

}  // namespace

WordCache::WordCache() : slots_(kSlots) {}

void WordCache::clear() {
  std::fill(slots_.begin(), slots_.end(), Slot{});
  keys_.clear();
  ids_.clear();
  used_ = 0;
}

std::span<const int32_t> WordCache::find(std::string_view piece, uint64_t hash, bool& found) const {
  for (size_t slot = hash & (kSlots - 1);; slot = (slot + 1) & (kSlots - 1)) {
    const Slot& s = slots_[slot];
    if (s.ids_length == 0) break;
    if (s.hash == static_cast<uint32_t>(hash >> 32) && s.key_length == piece.size() && key(s) == piece) {
      found = true;
      return {ids_.data() + s.ids_offset, s.ids_length};
    }
  }
  found = false;
  return {};
}

void WordCache::insert(std::string_view piece, uint64_t hash, std::span<const int32_t> ids) {
  if (piece.size() > kMaxPieceBytes || ids.empty() || ids.size() > UINT16_MAX) return;
  if (used_ * 2 >= kSlots || keys_.size() + piece.size() > kMaxKeyBytes || ids_.size() + ids.size() > kMaxIds) clear();
  size_t slot = hash & (kSlots - 1);
  while (slots_[slot].ids_length != 0) slot = (slot + 1) & (kSlots - 1);
  Slot& s = slots_[slot];
  s = {static_cast<uint32_t>(hash >> 32), 0, static_cast<uint32_t>(ids_.size()), static_cast<uint16_t>(piece.size()),
       static_cast<uint16_t>(ids.size()), {}};
  if (piece.size() <= kInlineKey) {
    std::memcpy(s.key, piece.data(), piece.size());
  } else {
    s.key_offset = static_cast<uint32_t>(keys_.size());
    keys_.append(piece);
  }
  ids_.insert(ids_.end(), ids.begin(), ids.end());
  ++used_;
}

WordCache& WordCache::for_model(uint64_t model_id) {
  // A few models per thread; the oldest is dropped when a new one arrives.
  struct Entry {
    uint64_t model_id = 0;
    std::unique_ptr<WordCache> cache;
  };
  thread_local std::array<Entry, 4> entries;
  thread_local size_t next_victim = 0;
  for (Entry& e : entries)
    if (e.cache && e.model_id == model_id) return *e.cache;
  Entry& e = entries[next_victim];
  next_victim = (next_victim + 1) % entries.size();
  e.model_id = model_id;
  if (e.cache) e.cache->clear();
  else e.cache = std::make_unique<WordCache>();
  return *e.cache;
}

}  // namespace salut::tokenizer
