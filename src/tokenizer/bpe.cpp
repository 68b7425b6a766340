#include "tokenizer/bpe.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/unicode.h"
#include "tokenizer/word_cache.h"

namespace salut::tokenizer {

void MergeList::add(std::string_view left, std::string_view right) {
  Pair p{static_cast<uint32_t>(text.size()), static_cast<uint32_t>(left.size()), 0,
         static_cast<uint32_t>(right.size())};
  text.append(left);
  p.right_offset = static_cast<uint32_t>(text.size());
  text.append(right);
  pairs.push_back(p);
}

// (left ID, right ID) -> (rank, merged ID), open addressing on a 64-bit key.
struct Bpe::MergeTable {
  struct Slot {
    uint64_t key = kEmpty;
    uint32_t rank = 0;
    int32_t merged = 0;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};

  explicit MergeTable(size_t merges) {
    size_t capacity = 16;
    while (capacity * 3 < merges * 5) capacity *= 2;  // load factor at most 3/5
    slots.resize(capacity);
    mask = capacity - 1;
  }

  static uint64_t key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  size_t home(uint64_t k) const {
    k ^= k >> 29;
    k *= 0xBF58476D1CE4E5B9ull;
    k ^= k >> 32;
    return k & mask;
  }

  void prefetch(int32_t left, int32_t right) const { __builtin_prefetch(&slots[home(key(left, right))]); }

  const Slot* find(int32_t left, int32_t right) const {
    uint64_t k = key(left, right);
    for (size_t i = home(k);; i = (i + 1) & mask) {
      if (slots[i].key == k) return &slots[i];
      if (slots[i].key == kEmpty) return nullptr;
    }
  }

  // A later merge of the same pair replaces the earlier one (as the HashMap in `tokenizers`).
  void insert(int32_t left, int32_t right, uint32_t rank, int32_t merged) {
    uint64_t k = key(left, right);
    size_t i = home(k);
    while (slots[i].key != kEmpty && slots[i].key != k) i = (i + 1) & mask;
    slots[i] = {k, rank, merged};
  }

  std::vector<Slot> slots;
  size_t mask;
};

struct Bpe::Symbol {
  int32_t id;
  int32_t prev, next;  // neighbours, -1 at the ends
  uint32_t length;     // bytes; 0 once merged into its left neighbour
};

namespace {

std::atomic<uint64_t> next_model_id{1};

void add_symbol(std::vector<Bpe::Symbol>& symbols, int32_t id, uint32_t length);

}  // namespace

Bpe::Bpe(Vocab vocab, const MergeList& merges, BpeOptions options)
    : vocab_(std::move(vocab)), options_(std::move(options)), id_(next_model_id++) {
  merges_ = std::make_unique<MergeTable>(merges.pairs.size());
  // Resolved in batches, prefetching the vocabulary slots first (see read_vocab).
  constexpr size_t kBatch = 64;
  struct Resolved {
    std::string_view left, right;
    uint64_t left_hash, right_hash, merged_hash;
    size_t merged_offset, merged_length;
    int32_t left_id, right_id, merged_id;
  };
  std::vector<Resolved> batch(kBatch);
  std::string merged;
  size_t prefix_length = options_.continuing_subword_prefix.size();
  auto missing = [](std::string_view token) {
    return Error(Errc::invalid_argument, fmt::format("tokenizer.json: merge token {:?} is not in the vocabulary", token));
  };
  for (size_t first = 0; first < merges.pairs.size(); first += kBatch) {
    size_t count = std::min(kBatch, merges.pairs.size() - first);
    merged.clear();
    for (size_t k = 0; k < count; ++k) {
      const MergeList::Pair& p = merges.pairs[first + k];
      Resolved& m = batch[k];
      m.left = std::string_view(merges.text).substr(p.left_offset, p.left_length);
      m.right = std::string_view(merges.text).substr(p.right_offset, p.right_length);
      if (m.right.size() < prefix_length) throw missing(m.right);
      m.merged_offset = merged.size();
      merged.append(m.left);
      merged.append(m.right.substr(prefix_length));  // the right side loses its continuing prefix
      m.merged_length = merged.size() - m.merged_offset;
      m.left_hash = Vocab::hash(m.left);
      m.right_hash = Vocab::hash(m.right);
      m.merged_hash = Vocab::hash(std::string_view(merged).substr(m.merged_offset, m.merged_length));
      vocab_.prefetch(m.left_hash);
      vocab_.prefetch(m.right_hash);
      vocab_.prefetch(m.merged_hash);
    }
    for (size_t k = 0; k < count; ++k) {
      Resolved& m = batch[k];
      std::string_view merged_token = std::string_view(merged).substr(m.merged_offset, m.merged_length);
      m.left_id = vocab_.find(m.left, m.left_hash);
      m.right_id = vocab_.find(m.right, m.right_hash);
      m.merged_id = vocab_.find(merged_token, m.merged_hash);
      if (m.left_id < 0) throw missing(m.left);
      if (m.right_id < 0) throw missing(m.right);
      if (m.merged_id < 0) throw missing(merged_token);
      merges_->prefetch(m.left_id, m.right_id);
    }
    for (size_t k = 0; k < count; ++k)  // in order: a later merge of the same pair wins
      merges_->insert(batch[k].left_id, batch[k].right_id, static_cast<uint32_t>(first + k), batch[k].merged_id);
  }
  set_options(options_);
}

Bpe::~Bpe() = default;

void Bpe::set_options(BpeOptions options) {
  options_ = std::move(options);
  unk_id_ = options_.unk_token ? vocab_.find(*options_.unk_token) : -1;
  const ByteLevelAlphabet& alphabet = byte_level_alphabet();
  bool every_byte_char = true;
  for (int b = 0; b < 256; ++b) {
    byte_fallback_ids_[b] = vocab_.find(fmt::format("<0x{:02X}>", b));
    byte_char_ids_[b] = vocab_.find(alphabet.utf8_of_byte[b]);
    every_byte_char = every_byte_char && byte_char_ids_[b] >= 0;
  }
  raw_bytes_fast_ = raw_bytes_ && every_byte_char && options_.continuing_subword_prefix.empty() &&
                    options_.end_of_word_suffix.empty();
}

bool Bpe::read_raw_bytes() {
  raw_bytes_ = true;
  set_options(options_);
  return true;
}

void Bpe::tokenize(std::string_view piece, std::vector<int32_t>& ids) const {
  if (options_.ignore_merges) {
    int32_t id;
    if (raw_bytes_) {
      thread_local std::string mapped;
      mapped.clear();
      append_byte_level(mapped, piece);
      id = vocab_.find(mapped);
    } else {
      id = vocab_.find(piece);
    }
    if (id >= 0) {
      ids.push_back(id);
      return;
    }
  }
  if (piece.size() > WordCache::kMaxPieceBytes) return tokenize_uncached(piece, ids);
  WordCache& cache = WordCache::for_model(id_);
  uint64_t hash = hash_bytes(piece);
  bool found;
  std::span<const int32_t> cached = cache.find(piece, hash, found);
  if (found) {
    ids.insert(ids.end(), cached.begin(), cached.end());
    return;
  }
  size_t first = ids.size();
  tokenize_uncached(piece, ids);
  cache.insert(piece, hash, std::span<const int32_t>(ids.data() + first, ids.size() - first));
}

void Bpe::tokenize_uncached(std::string_view piece, std::vector<int32_t>& ids) const {
  thread_local std::vector<Symbol> symbols;
  symbols.clear();
  if (raw_bytes_fast_) {
    for (unsigned char b : piece) add_symbol(symbols, byte_char_ids_[b], 1);
  } else if (raw_bytes_) {
    thread_local std::string mapped;
    mapped.clear();
    append_byte_level(mapped, piece);
    add_character_symbols(mapped, symbols);
  } else {
    add_character_symbols(piece, symbols);
  }
  merge(symbols);
  for (const Symbol& s : symbols)
    if (s.length != 0) ids.push_back(s.id);
}

namespace {

void add_symbol(std::vector<Bpe::Symbol>& symbols, int32_t id, uint32_t length) {
  int32_t index = static_cast<int32_t>(symbols.size());
  if (!symbols.empty()) symbols.back().next = index;
  symbols.push_back({id, index - 1, -1, length});
}

}  // namespace

// One symbol per character, as `tokenizers`' merge_word builds them: characters missing from the
// vocabulary become byte-fallback tokens, or the unknown token (consecutive ones fused if
// fuse_unk), or are dropped when there is neither.
void Bpe::add_character_symbols(std::string_view word, std::vector<Symbol>& symbols) const {
  const std::string& prefix = options_.continuing_subword_prefix;
  const std::string& suffix = options_.end_of_word_suffix;
  thread_local std::string decorated;
  bool have_unk = false;
  uint32_t unk_length = 0;
  for (size_t pos = 0; pos < word.size();) {
    size_t start = pos;
    pos += std::min(utf8_length(static_cast<unsigned char>(word[pos])), word.size() - pos);
    std::string_view c = word.substr(start, pos - start);
    bool first = start == 0, last = pos == word.size();
    if ((!first && !prefix.empty()) || (last && !suffix.empty())) {
      decorated.assign(first ? "" : prefix);
      decorated.append(c);
      if (last) decorated.append(suffix);
      c = decorated;
    }
    auto length = static_cast<uint32_t>(pos - start);
    if (int32_t id = vocab_.find(c); id >= 0) {
      if (have_unk) add_symbol(symbols, unk_id_, unk_length);
      have_unk = false;
      add_symbol(symbols, id, length);
      continue;
    }
    if (options_.byte_fallback &&
        std::all_of(c.begin(), c.end(), [&](char b) { return byte_fallback_ids_[static_cast<unsigned char>(b)] >= 0; })) {
      for (char b : c) add_symbol(symbols, byte_fallback_ids_[static_cast<unsigned char>(b)], 1);
      continue;  // as in `tokenizers`, a pending unknown token stays pending
    }
    if (!options_.unk_token) continue;
    if (unk_id_ < 0)
      throw Error(Errc::invalid_argument,
                  fmt::format("the unknown token {:?} is not in the vocabulary", *options_.unk_token));
    if (have_unk && options_.fuse_unk) {
      unk_length += length;
    } else {
      if (have_unk) add_symbol(symbols, unk_id_, unk_length);
      have_unk = true;
      unk_length = length;
    }
  }
  if (have_unk) add_symbol(symbols, unk_id_, unk_length);
}

// `tokenizers`' merge_all: a min-heap of candidate merges ordered by (rank, position); stale
// entries are recognised by the pair no longer producing the same token.
void Bpe::merge(std::vector<Symbol>& symbols) const {
  struct Candidate {
    uint32_t rank;
    int32_t pos;
    int32_t merged;
  };
  auto later = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  thread_local std::vector<Candidate> heap;
  heap.clear();
  auto push = [&](int32_t pos) {
    if (const MergeTable::Slot* m = merges_->find(symbols[pos].id, symbols[symbols[pos].next].id)) {
      heap.push_back({m->rank, pos, m->merged});
      std::push_heap(heap.begin(), heap.end(), later);
    }
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) push(i);
  const auto count = static_cast<int32_t>(symbols.size());
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    Candidate top = heap.back();
    heap.pop_back();
    Symbol& left = symbols[top.pos];
    if (left.length == 0 || left.next == -1) continue;
    Symbol right = symbols[left.next];
    const MergeTable::Slot* m = merges_->find(left.id, right.id);
    if (!m || m->merged != top.merged) continue;
    symbols[left.next].length = 0;
    left.id = top.merged;
    left.length += right.length;
    left.next = right.next;
    if (right.next >= 0 && right.next < count) symbols[right.next].prev = top.pos;
    if (left.prev >= 0) push(left.prev);
    if (left.next >= 0 && left.next < count) push(top.pos);
  }
}

}  // namespace salut::tokenizer
