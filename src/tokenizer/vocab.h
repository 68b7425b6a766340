#pragma once
// Token strings to IDs and back, in one open-addressing table whose slots hold short tokens
// inline (most are): a lookup touches one cache line, and a 150,000-token vocabulary loads
// without 150,000 allocations. Longer tokens live in a shared arena.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace salut::tokenizer {

class Vocab {
 public:
  // IDs must be below this (no real vocabulary comes close; it bounds the ID index).
  static constexpr int32_t kMaxId = (1 << 26) - 1;

  void reserve(size_t tokens);
  // Adds a token, or gives an existing one a new ID (the last duplicate wins, as in the
  // HashMap that `tokenizers` builds). Throws Error for an ID outside [0, kMaxId].
  void insert(std::string_view token, int64_t id);
  // Builds the ID-to-token index; call once after the last insert.
  void finish();

  // -1 when absent.
  int32_t find(std::string_view token) const { return find(token, hash(token)); }
  // Bulk lookups and inserts (loading) hide memory latency: hash a batch of tokens, prefetch
  // their slots, then look them up with the hashes.
  static uint64_t hash(std::string_view token);
  void prefetch(uint64_t hash) const;
  int32_t find(std::string_view token, uint64_t hash) const;
  void insert(std::string_view token, int64_t id, uint64_t hash);
  std::optional<std::string_view> token(int32_t id) const;
  size_t size() const { return size_; }

 private:
  static constexpr size_t kInline = 18;
  struct Slot {
    uint32_t hash = 0;
    int32_t id = -1;  // -1: empty
    uint32_t offset = 0;  // in arena_, for tokens longer than kInline
    uint16_t length = 0;
    char text[kInline];
  };
  static_assert(sizeof(Slot) == 32);

  std::string_view text(const Slot& s) const {
    return s.length <= kInline ? std::string_view(s.text, s.length) : std::string_view(arena_).substr(s.offset, s.length);
  }
  void rehash(size_t capacity);

  std::vector<Slot> slots_;
  std::string arena_;
  size_t size_ = 0;
  std::vector<uint32_t> by_id_;  // slot index + 1 for each ID; 0 is none
};

}  // namespace salut::tokenizer
