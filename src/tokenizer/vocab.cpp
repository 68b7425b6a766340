#include "tokenizer/vocab.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace salut::tokenizer {

void Vocab::reserve(size_t tokens) {
  size_t capacity = 16;
  while (capacity * 5 < tokens * 8) capacity *= 2;  // load factor at most 5/8
  if (capacity > slots_.size()) rehash(capacity);
}

void Vocab::rehash(size_t capacity) {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(capacity, Slot{});
  size_t mask = capacity - 1;
  for (const Slot& s : old) {
    if (s.id < 0) continue;
    size_t i = hash_bytes(text(s)) & mask;
    while (slots_[i].id >= 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

uint64_t Vocab::hash(std::string_view token) { return hash_bytes(token); }

void Vocab::prefetch(uint64_t hash) const {
  if (!slots_.empty()) __builtin_prefetch(&slots_[hash & (slots_.size() - 1)]);
}

void Vocab::insert(std::string_view token, int64_t id) { insert(token, id, hash(token)); }

void Vocab::insert(std::string_view token, int64_t id, uint64_t h) {
  if (id < 0 || id > kMaxId) throw Error(Errc::invalid_argument, fmt::format("token ID {} is out of range", id));
  if (token.size() > UINT16_MAX) throw Error(Errc::invalid_argument, "a token is longer than 65535 bytes");
  if ((size_ + 1) * 8 > slots_.size() * 5) reserve(std::max<size_t>(size_ * 2, 16));
  size_t mask = slots_.size() - 1;
  size_t i = h & mask;
  for (; slots_[i].id >= 0; i = (i + 1) & mask) {
    Slot& s = slots_[i];
    if (s.hash == static_cast<uint32_t>(h >> 32) && text(s) == token) {
      s.id = static_cast<int32_t>(id);
      return;
    }
  }
  Slot& s = slots_[i];
  s.hash = static_cast<uint32_t>(h >> 32);
  s.id = static_cast<int32_t>(id);
  s.length = static_cast<uint16_t>(token.size());
  if (token.size() <= kInline) {
    std::memcpy(s.text, token.data(), token.size());
  } else {
    s.offset = static_cast<uint32_t>(arena_.size());
    arena_.append(token);
  }
  ++size_;
}

void Vocab::finish() {
  int32_t max_id = -1;
  for (const Slot& s : slots_) max_id = std::max(max_id, s.id);
  by_id_.assign(static_cast<size_t>(max_id + 1), 0);
  for (size_t i = 0; i < slots_.size(); ++i)
    if (slots_[i].id >= 0) by_id_[slots_[i].id] = static_cast<uint32_t>(i + 1);
}

int32_t Vocab::find(std::string_view token, uint64_t h) const {
  if (slots_.empty()) return -1;
  size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.id < 0) return -1;
    if (s.hash == static_cast<uint32_t>(h >> 32) && text(s) == token) return s.id;
  }
}

std::optional<std::string_view> Vocab::token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= by_id_.size() || by_id_[id] == 0) return std::nullopt;
  return text(slots_[by_id_[id] - 1]);
}

}  // namespace salut::tokenizer
