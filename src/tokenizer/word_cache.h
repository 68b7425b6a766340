#pragma once
// Pieces a model tokenized recently, with their IDs: natural text repeats the same words, so
// most pieces are a hash lookup. One cache per thread and model (encode() is const and may run
// on many threads at once); bounded, and simply emptied when full.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace salut::tokenizer {

class WordCache {
 public:
  static constexpr size_t kMaxPieceBytes = 255;  // longer pieces are not cached

  WordCache();
  // The cached IDs of `piece`, or an empty span with found = false.
  std::span<const int32_t> find(std::string_view piece, uint64_t hash, bool& found) const;
  void insert(std::string_view piece, uint64_t hash, std::span<const int32_t> ids);

  // The calling thread's cache for the model with this ID.
  static WordCache& for_model(uint64_t model_id);

 private:
  // Keys of up to kInlineKey bytes (most words) sit in the slot itself: one cache miss a lookup.
  static constexpr size_t kInlineKey = 16;
  struct Slot {
    uint32_t hash = 0;  // the top half of the piece's hash
    uint32_t key_offset = 0, ids_offset = 0;  // key_offset: in keys_, for longer keys
    uint16_t key_length = 0, ids_length = 0;  // ids_length 0: empty slot
    char key[kInlineKey];
  };
  std::string_view key(const Slot& s) const {
    return s.key_length <= kInlineKey ? std::string_view(s.key, s.key_length)
                                      : std::string_view(keys_).substr(s.key_offset, s.key_length);
  }
  void clear();

  std::vector<Slot> slots_;
  std::string keys_;
  std::vector<int32_t> ids_;
  size_t used_ = 0;
};

}  // namespace salut::tokenizer
