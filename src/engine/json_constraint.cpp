#include "engine/json_constraint.h"

#include <fmt/format.h>

#include <algorithm>
#include <bitset>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>

#include "core/error.h"

namespace salut::engine {

namespace json_constraint_detail {

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

enum class Kind : uint8_t { object, array, string, number, integer, literal, any_of };

// Tries of declared property names (value: property index) and of enum/const texts (value: 0).
struct TrieNode {
  uint32_t parent = kNone;
  uint8_t byte = 0;
  int32_t value = -1;          // >= 0 where a name or literal ends
  uint64_t subtree_props = 0;  // key tries: the properties whose names run through this node
  std::vector<std::pair<uint8_t, uint32_t>> children;
};

struct Property {
  std::string name;  // as written between the quotes (JSON-escaped)
  uint32_t node;
};

struct Node {
  Kind kind = Kind::any_of;
  // object
  std::vector<Property> properties;
  uint64_t required = 0;         // bit i: properties[i]
  uint32_t key_trie = kNone;     // the declared names; kNone when there are none
  uint32_t additional = kNone;   // schema of the values of undeclared keys; kNone: none allowed
  uint32_t key_string = kNone;   // string node that reads undeclared keys
  // array
  uint32_t items = kNone;
  uint32_t min_items = 0, max_items = kNone;
  // string
  uint32_t min_length = 0, max_length = kNone;
  bool escapes = true;
  // literal
  uint32_t literal_trie = kNone;
  // any_of, as written (an alias such as a $ref is an any_of of one)
  std::vector<uint32_t> alternatives;
  // Computed once the graph is complete: what a value of this node may concretely be, and
  // which first bytes each concrete node can start with.
  std::vector<uint32_t> concrete;
  std::bitset<256> first_bytes;

  uint64_t all_properties() const {
    return properties.size() == 64 ? ~uint64_t{0} : (uint64_t{1} << properties.size()) - 1;
  }
  bool counts_length() const { return min_length > 0 || max_length != kNone; }
};

struct Grammar {
  std::vector<Node> nodes;
  std::vector<TrieNode> trie;
  uint32_t root = kNone;
};

}  // namespace json_constraint_detail

namespace {

using namespace json_constraint_detail;
using nlohmann::json;

constexpr size_t kMaxDepth = 64;            // frames in one thread, the document frame included
constexpr size_t kMaxThreads = 16;          // anyOf readings kept at once
constexpr uint8_t kMaxWhitespaceRun = 32;   // bytes of whitespace between two tokens
constexpr uint8_t kMaxNewlines = 2;         // line breaks in one such run
constexpr uint8_t kMaxIntegerDigits = 18;   // fits an int64
constexpr uint8_t kMaxFractionDigits = 16;
constexpr uint8_t kMaxExponentDigits = 2;   // keeps every number inside a double's range
constexpr size_t kMaxSchemaDepth = 64;      // nesting of the schema document itself

enum Phase : uint8_t {
  kDocStart, kDocEnd,
  kObjStart, kObjOpen, kObjKey, kObjColon, kObjValue, kObjNext, kObjComma,
  kArrStart, kArrOpen, kArrNext, kArrComma,
  kStrStart, kStrText, kStrTextCounted, kStrEscape, kStrHex, kStrLowBackslash, kStrLowU, kStrLowHex,
  kNumStart, kNumMinus, kNumZero, kNumInt, kNumDot, kNumFrac, kNumExp, kNumExpSign, kNumExpDigits,
  kLiteral,
};

bool is_whitespace(uint8_t c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
int hex_value(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The continuation bytes a UTF-8 lead byte needs and the range the first of them must fall in
// (no overlong forms, surrogates or code points past U+10FFFF); false for a byte that cannot lead.
bool utf8_lead(uint8_t c, uint8_t& pending, uint8_t& lo, uint8_t& hi) {
  lo = 0x80;
  hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    pending = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    pending = 2;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    pending = 3;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return false;
  }
  return true;
}

uint32_t find_child(const Grammar& g, uint32_t trie_node, uint8_t c) {
  for (auto [byte, child] : g.trie[trie_node].children)
    if (byte == c) return child;
  return kNone;
}

std::string trie_path(const Grammar& g, uint32_t trie_node) {
  std::string path;
  for (uint32_t n = trie_node; g.trie[n].parent != kNone; n = g.trie[n].parent) path.push_back(static_cast<char>(g.trie[n].byte));
  std::reverse(path.begin(), path.end());
  return path;
}

Frame start_frame(const Grammar& g, uint32_t node) {
  Frame f;
  f.node = node;
  switch (g.nodes[node].kind) {
    case Kind::object: f.phase = kObjStart; break;
    case Kind::array: f.phase = kArrStart; break;
    case Kind::string: f.phase = kStrStart; break;
    case Kind::number:
    case Kind::integer: f.phase = kNumStart; break;
    case Kind::literal: f.phase = kLiteral; f.a = g.nodes[node].literal_trie; break;
    case Kind::any_of: break;  // never pushed: expanded into its concrete alternatives
  }
  return f;
}

uint8_t text_phase(const Node& string_node) { return string_node.counts_length() ? kStrTextCounted : kStrText; }

// What one byte did to a thread.
enum class Outcome { reject, taken, whitespace, push };

Outcome take_whitespace(Thread& t, uint8_t c) {
  if (t.ws_bytes >= kMaxWhitespaceRun) return Outcome::reject;
  if (c == '\n') {
    if (t.ws_newlines >= kMaxNewlines) return Outcome::reject;
    ++t.ws_newlines;
  }
  ++t.ws_bytes;
  return Outcome::whitespace;
}

// The thread's frames are f[begin, f.size()). Feeds `c` to its top frame; a finished number or
// literal makes way for its parent, which gets the byte instead. Outcome::push asks the caller
// to start a value of node `push` with `c` (the caller forks threads for anyOf).
Outcome feed(const Grammar& g, std::vector<Frame>& f, size_t begin, uint8_t c, Thread& t, uint32_t& push) {
  for (;;) {
    Frame& top = f.back();
    const Node& node = g.nodes[top.node];
    switch (top.phase) {
      case kDocStart:
        if (is_whitespace(c)) return take_whitespace(t, c);
        top.phase = kDocEnd;
        push = top.node;
        return Outcome::push;
      case kDocEnd:
        return is_whitespace(c) ? take_whitespace(t, c) : Outcome::reject;

      case kObjStart:
        if (c != '{') return Outcome::reject;
        top.phase = kObjOpen;
        return Outcome::taken;
      case kObjOpen:
      case kObjNext:
      case kObjComma:
        if (is_whitespace(c)) return take_whitespace(t, c);
        if (c == '}' && top.phase != kObjComma) {
          if (node.required & ~top.used) return Outcome::reject;
          f.pop_back();
          return Outcome::taken;
        }
        if (c == ',' && top.phase == kObjNext) {
          // only if another key can still come
          if (node.additional == kNone && !(node.all_properties() & ~top.used)) return Outcome::reject;
          top.phase = kObjComma;
          return Outcome::taken;
        }
        if (c != '"' || top.phase == kObjNext) return Outcome::reject;
        if (node.key_trie != kNone) {
          top.phase = kObjKey;
          top.a = node.key_trie;
          return Outcome::taken;
        }
        if (node.additional == kNone || f.size() - begin >= kMaxDepth) return Outcome::reject;
        top.phase = kObjColon;
        top.b = node.additional;
        f.push_back(start_frame(g, node.key_string));
        f.back().phase = kStrText;  // its opening quote is this one
        return Outcome::taken;
      case kObjKey: {
        const TrieNode& at = g.trie[top.a];
        const bool free_keys = node.additional != kNone;
        if (c == '"') {
          if (at.value >= 0) {
            const uint64_t bit = uint64_t{1} << at.value;
            if (top.used & bit) return Outcome::reject;  // a declared key twice
            top.used |= bit;
            top.b = node.properties[static_cast<size_t>(at.value)].node;
          } else if (free_keys) {
            top.b = node.additional;
          } else {
            return Outcome::reject;
          }
          top.phase = kObjColon;
          return Outcome::taken;
        }
        const uint32_t child = find_child(g, top.a, c);
        if (child != kNone && (free_keys || (g.trie[child].subtree_props & ~top.used))) {
          top.a = child;
          return Outcome::taken;
        }
        if (!free_keys || f.size() - begin >= kMaxDepth) return Outcome::reject;
        // The key has left every declared name: read it as a plain string from its start.
        const std::string prefix = trie_path(g, top.a);
        top.phase = kObjColon;
        top.b = node.additional;
        Frame key = start_frame(g, node.key_string);
        key.phase = kStrText;
        f.push_back(key);
        for (char p : prefix)
          if (feed(g, f, begin, static_cast<uint8_t>(p), t, push) != Outcome::taken) return Outcome::reject;
        continue;  // now `c` goes to the key string
      }
      case kObjColon:
        if (is_whitespace(c)) return take_whitespace(t, c);
        if (c != ':') return Outcome::reject;
        top.phase = kObjValue;
        return Outcome::taken;
      case kObjValue:
        if (is_whitespace(c)) return take_whitespace(t, c);
        top.phase = kObjNext;
        push = top.b;
        return Outcome::push;

      case kArrStart:
        if (c != '[') return Outcome::reject;
        top.phase = kArrOpen;
        return Outcome::taken;
      case kArrOpen:
        if (is_whitespace(c)) return take_whitespace(t, c);
        if (c == ']') {
          if (node.min_items > 0) return Outcome::reject;
          f.pop_back();
          return Outcome::taken;
        }
        if (node.max_items == 0) return Outcome::reject;
        top.a = 1;
        top.phase = kArrNext;
        push = node.items;
        return Outcome::push;
      case kArrNext:
        if (is_whitespace(c)) return take_whitespace(t, c);
        if (c == ',' && top.a < node.max_items) {
          top.phase = kArrComma;
          return Outcome::taken;
        }
        if (c == ']' && top.a >= node.min_items) {
          f.pop_back();
          return Outcome::taken;
        }
        return Outcome::reject;
      case kArrComma:
        if (is_whitespace(c)) return take_whitespace(t, c);
        ++top.a;
        top.phase = kArrNext;
        push = node.items;
        return Outcome::push;

      case kStrStart:
        if (c != '"') return Outcome::reject;
        top.phase = text_phase(node);
        return Outcome::taken;
      case kStrText:
      case kStrTextCounted: {
        if (top.pending > 0) {  // inside a multi-byte character
          if (c < top.lo || c > top.hi) return Outcome::reject;
          --top.pending;
          top.lo = 0x80;
          top.hi = 0xBF;
          return Outcome::taken;
        }
        const bool counted = top.phase == kStrTextCounted;
        if (c == '"') {
          if (counted && top.a < node.min_length) return Outcome::reject;
          f.pop_back();
          return Outcome::taken;
        }
        if (c < 0x20) return Outcome::reject;  // control characters must be escaped
        if (counted) {
          if (top.a >= node.max_length) return Outcome::reject;
          ++top.a;
        }
        if (c == '\\') {
          if (!node.escapes) return Outcome::reject;
          top.phase = kStrEscape;
          return Outcome::taken;
        }
        if (c < 0x80 || utf8_lead(c, top.pending, top.lo, top.hi)) return Outcome::taken;
        return Outcome::reject;
      }
      case kStrEscape:
        if (c == 'u') {
          top.phase = kStrHex;
          top.pending = 0;
          top.b = 0;
          return Outcome::taken;
        }
        if (c != '"' && c != '\\' && c != '/' && c != 'b' && c != 'f' && c != 'n' && c != 'r' && c != 't')
          return Outcome::reject;
        top.phase = text_phase(node);
        return Outcome::taken;
      case kStrHex: {
        const int d = hex_value(c);
        if (d < 0) return Outcome::reject;
        top.b = top.b * 16 + static_cast<uint32_t>(d);
        ++top.pending;
        // A low surrogate alone is not a character (nlohmann refuses it): refuse it as soon as seen.
        if (top.pending == 2 && top.b >= 0xDC && top.b <= 0xDF) return Outcome::reject;
        if (top.pending == 4) {
          top.phase = top.b >= 0xD800 && top.b <= 0xDBFF ? static_cast<uint8_t>(kStrLowBackslash) : text_phase(node);
          top.pending = 0;
        }
        return Outcome::taken;
      }
      case kStrLowBackslash:
        if (c != '\\') return Outcome::reject;
        top.phase = kStrLowU;
        return Outcome::taken;
      case kStrLowU:
        if (c != 'u') return Outcome::reject;
        top.phase = kStrLowHex;
        top.pending = 0;
        return Outcome::taken;
      case kStrLowHex: {
        const int d = hex_value(c);
        if (d < 0 || (top.pending == 0 && d != 0xD) || (top.pending == 1 && d < 0xC)) return Outcome::reject;
        if (++top.pending == 4) {
          top.phase = text_phase(node);
          top.pending = 0;
        }
        return Outcome::taken;
      }

      case kNumStart:
        if (c == '-') {
          top.phase = kNumMinus;
          return Outcome::taken;
        }
        [[fallthrough]];
      case kNumMinus:
        if (c == '0') {
          top.phase = kNumZero;
        } else if (c >= '1' && c <= '9') {
          top.phase = kNumInt;
          top.pending = 1;
        } else {
          return Outcome::reject;
        }
        return Outcome::taken;
      case kNumZero:
      case kNumInt:
        if (top.phase == kNumInt && is_digit(c) && top.pending < kMaxIntegerDigits) {
          ++top.pending;
          return Outcome::taken;
        }
        if (node.kind == Kind::number && c == '.') {
          top.phase = kNumDot;
          return Outcome::taken;
        }
        if (node.kind == Kind::number && (c == 'e' || c == 'E')) {
          top.phase = kNumExp;
          return Outcome::taken;
        }
        break;  // the number ends before `c`
      case kNumDot:
        if (!is_digit(c)) return Outcome::reject;
        top.phase = kNumFrac;
        top.pending = 1;
        return Outcome::taken;
      case kNumFrac:
        if (is_digit(c) && top.pending < kMaxFractionDigits) {
          ++top.pending;
          return Outcome::taken;
        }
        if (c == 'e' || c == 'E') {
          top.phase = kNumExp;
          return Outcome::taken;
        }
        break;
      case kNumExp:
        if (c == '+' || c == '-') {
          top.phase = kNumExpSign;
          return Outcome::taken;
        }
        [[fallthrough]];
      case kNumExpSign:
        if (!is_digit(c)) return Outcome::reject;
        top.phase = kNumExpDigits;
        top.pending = 1;
        return Outcome::taken;
      case kNumExpDigits:
        if (is_digit(c) && top.pending < kMaxExponentDigits) {
          ++top.pending;
          return Outcome::taken;
        }
        break;

      case kLiteral: {
        const uint32_t child = find_child(g, top.a, c);
        if (child != kNone) {
          top.a = child;
          return Outcome::taken;
        }
        if (g.trie[top.a].value < 0) return Outcome::reject;
        break;  // the literal ends before `c`
      }
      default:
        return Outcome::reject;
    }
    // A finished number or literal: its parent reads `c`.
    f.pop_back();
  }
}

bool ends_here(const Grammar& g, const Frame& f) {
  switch (f.phase) {
    case kNumZero:
    case kNumInt:
    case kNumFrac:
    case kNumExpDigits: return true;
    case kLiteral: return g.trie[f.a].value >= 0;
    default: return false;
  }
}

void commit(Threads& out, size_t begin, const Thread& t) {
  out.threads.push_back({static_cast<uint32_t>(begin), static_cast<uint32_t>(out.frames.size()), t.ws_bytes, t.ws_newlines});
}

// Feeds `c` to the thread copied to out.frames[begin, end) and records what survives (the thread,
// or one fork per anyOf alternative that can start with `c`).
void feed_thread(const Grammar& g, Threads& out, size_t begin, Thread t, uint8_t c) {
  uint32_t push = kNone;
  const Outcome outcome = feed(g, out.frames, begin, c, t, push);
  if (outcome == Outcome::reject) {
    out.frames.resize(begin);
    return;
  }
  if (outcome != Outcome::whitespace) t.ws_bytes = t.ws_newlines = 0;
  if (outcome != Outcome::push) {
    commit(out, begin, t);
    return;
  }
  const std::vector<uint32_t>& alternatives = g.nodes[push].concrete;
  size_t candidates = 0;
  for (uint32_t alt : alternatives) candidates += g.nodes[alt].first_bytes[c];
  if (candidates == 0 || out.frames.size() - begin >= kMaxDepth) {
    out.frames.resize(begin);
    return;
  }
  thread_local std::vector<Frame> before;
  if (candidates > 1) before.assign(out.frames.begin() + static_cast<std::ptrdiff_t>(begin), out.frames.end());
  bool first = true;
  for (uint32_t alt : alternatives) {
    if (!g.nodes[alt].first_bytes[c]) continue;
    size_t fork = begin;
    if (!first) {
      fork = out.frames.size();
      out.frames.insert(out.frames.end(), before.begin(), before.end());
    }
    first = false;
    out.frames.push_back(start_frame(g, alt));
    uint32_t unused;
    if (feed(g, out.frames, fork, c, t, unused) == Outcome::taken) commit(out, fork, t);
    else out.frames.resize(fork);
  }
}

bool same_thread(const Threads& s, const Thread& x, const Thread& y) {
  return x.end - x.begin == y.end - y.begin && x.ws_bytes == y.ws_bytes && x.ws_newlines == y.ws_newlines &&
         std::equal(s.frames.begin() + x.begin, s.frames.begin() + x.end, s.frames.begin() + y.begin);
}

void drop_duplicate_threads(Threads& s) {
  size_t kept = 0;
  for (size_t i = 0; i < s.threads.size() && kept < kMaxThreads; ++i) {
    bool duplicate = false;
    for (size_t j = 0; j < kept && !duplicate; ++j) duplicate = same_thread(s, s.threads[j], s.threads[i]);
    if (!duplicate) s.threads[kept++] = s.threads[i];
  }
  s.threads.resize(kept);
}

enum class Step { reject, same, changed };

// `in` followed by byte `c` into `out`. Step::same: the state did not change (`out` untouched);
// the common case of a printable ASCII byte inside a string without length limits, which keeps
// masking fast.
Step step(const Grammar& g, const Threads& in, uint8_t c, Threads& out) {
  if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && !in.threads.empty()) {
    bool plain = true;
    for (const Thread& t : in.threads) {
      const Frame& top = in.frames[t.end - 1];
      plain = plain && top.phase == kStrText && top.pending == 0;
    }
    if (plain) return Step::same;
  }
  out.frames.clear();
  out.threads.clear();
  for (const Thread& t : in.threads) {
    const size_t begin = out.frames.size();
    out.frames.insert(out.frames.end(), in.frames.begin() + t.begin, in.frames.begin() + t.end);
    feed_thread(g, out, begin, t, c);
  }
  if (out.threads.empty()) return Step::reject;
  if (out.threads.size() > 1) drop_duplicate_threads(out);
  return Step::changed;
}

Threads start_threads(const Grammar& g, uint32_t root) {
  Threads s;
  Frame doc;
  doc.node = root;
  doc.phase = kDocStart;
  s.frames.push_back(doc);
  s.threads.push_back({0, 1, 0, 0});
  (void)g;
  return s;
}

bool advance_threads(const Grammar& g, Threads& s, std::string_view bytes) {
  Threads next;
  for (char ch : bytes) {
    const Step r = step(g, s, static_cast<uint8_t>(ch), next);
    if (r == Step::reject) return false;
    if (r == Step::changed) std::swap(s, next);
  }
  return true;
}

bool threads_complete(const Grammar& g, const Threads& s) {
  for (const Thread& t : s.threads) {
    uint32_t end = t.end;
    while (end - t.begin > 1 && ends_here(g, s.frames[end - 1])) --end;
    if (end - t.begin == 1 && s.frames[t.begin].phase == kDocEnd) return true;
  }
  return false;
}

// Masking inside string content: a token whose bytes are plain text (no quote, backslash or
// control character; UTF-8 that is valid so far) leaves the state as it was, apart from the
// characters it adds, so mask() allows it without running the matcher.
constexpr uint8_t kPlainPrefix = 1;    // the path from the root is plain text
constexpr uint8_t kPlainBoundary = 2;  // ... and ends between characters
constexpr uint8_t kPlainSubtree = 4;   // every path through the subtree is plain text

// How many characters of plain text the state can still take (kNone: no limit); 0 when it is not
// inside string content.
uint32_t plain_text_room(const Grammar& g, const Threads& s) {
  uint32_t room = 0;
  for (const Thread& t : s.threads) {
    const Frame& top = s.frames[t.end - 1];
    if (top.pending != 0 || (top.phase != kStrText && top.phase != kStrTextCounted)) return 0;
    room = std::max(room, top.phase == kStrText ? kNone : g.nodes[top.node].max_length - top.a);
  }
  return room;
}

// `s` (inside string content) after `chars` characters of plain text.
void add_plain_text(const Grammar& g, const Threads& s, uint32_t chars, Threads& out) {
  out.frames.clear();
  out.threads.clear();
  for (const Thread& t : s.threads) {
    Frame top = s.frames[t.end - 1];
    if (top.phase == kStrTextCounted) {
      if (g.nodes[top.node].max_length - top.a < chars) continue;
      top.a += chars;
    }
    const auto begin = static_cast<uint32_t>(out.frames.size());
    out.frames.insert(out.frames.end(), s.frames.begin() + t.begin, s.frames.begin() + t.end - 1);
    out.frames.push_back(top);
    out.threads.push_back({begin, static_cast<uint32_t>(out.frames.size()), 0, 0});
  }
}

// ---- Compiling a schema ----------------------------------------------------------------------

[[noreturn]] void refuse(const std::string& where, const std::string& what) {
  throw Error(Errc::invalid_argument, fmt::format("response_format schema at {}: {}", where, what));
}

// Keywords that say nothing about which values are valid.
const std::set<std::string, std::less<>> kAnnotations = {
    "title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated",
    "readOnly", "writeOnly", "format", "$defs", "definitions"};
const std::set<std::string, std::less<>> kSupported = {
    "type", "nullable", "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "properties", "required",
    "additionalProperties", "items", "minItems", "maxItems", "uniqueItems", "minLength", "maxLength"};

std::string escaped_name(const std::string& name) {
  const std::string quoted = json(name).dump();
  return quoted.substr(1, quoted.size() - 2);
}

class Compiler {
 public:
  explicit Compiler(const json& root) : root_(root) {}

  std::shared_ptr<Grammar> run() {
    g_.root = new_node();
    refs_["#"] = g_.root;
    compile_into(g_.root, root_, "#", 0);
    resolve_alternatives();
    filter_literals();
    return std::make_shared<Grammar>(std::move(g_));
  }

  // Any JSON value: the anyOf of every kind, objects and arrays of any values inside.
  uint32_t any() {
    if (any_ != kNone) return any_;
    any_ = new_node();
    const uint32_t object = new_node(Kind::object);
    const uint32_t array = new_node(Kind::array);
    const uint32_t string = new_node(Kind::string);
    const uint32_t number = new_node(Kind::number);
    const uint32_t words = new_node(Kind::literal);
    g_.nodes[object].additional = any_;
    g_.nodes[object].key_string = string;
    g_.nodes[array].items = any_;
    set_literals(words, {json(true), json(false), json(nullptr)});
    g_.nodes[any_].alternatives = {object, array, string, number, words};
    return any_;
  }

 private:
  const json& root_;
  Grammar g_;
  std::map<std::string, uint32_t> refs_;
  uint32_t any_ = kNone;
  struct PendingLiteral {
    uint32_t node;
    std::vector<json> values;
    uint32_t rest;  // what the values must also satisfy; kNone: nothing
    std::string where;
  };
  std::vector<PendingLiteral> literals_;

  uint32_t new_node(Kind kind = Kind::any_of) {
    g_.nodes.emplace_back().kind = kind;
    return static_cast<uint32_t>(g_.nodes.size() - 1);
  }
  void alias(uint32_t slot, uint32_t target) {
    g_.nodes[slot].kind = Kind::any_of;
    g_.nodes[slot].alternatives = {target};
  }
  uint32_t compile(const json& s, const std::string& where, size_t depth) {
    const uint32_t slot = new_node();
    compile_into(slot, s, where, depth);
    return slot;
  }

  uint32_t new_trie_node(uint32_t parent, uint8_t byte) {
    g_.trie.push_back(TrieNode{parent, byte, -1, 0, {}});
    const uint32_t id = static_cast<uint32_t>(g_.trie.size() - 1);
    if (parent != kNone) g_.trie[parent].children.emplace_back(byte, id);
    return id;
  }
  // Inserts `text`, returns where it ends; `props` is or'ed into every node on the way.
  uint32_t trie_insert(uint32_t root, std::string_view text, uint64_t props) {
    uint32_t at = root;
    g_.trie[at].subtree_props |= props;
    for (char ch : text) {
      const uint8_t c = static_cast<uint8_t>(ch);
      uint32_t child = find_child(g_, at, c);
      if (child == kNone) child = new_trie_node(at, c);
      at = child;
      g_.trie[at].subtree_props |= props;
    }
    return at;
  }
  void set_literals(uint32_t node, const std::vector<json>& values) {
    const uint32_t root = new_trie_node(kNone, 0);
    for (const json& v : values) g_.trie[trie_insert(root, v.dump(), 0)].value = 0;
    g_.nodes[node].kind = Kind::literal;
    g_.nodes[node].literal_trie = root;
  }

  static bool constrains(const json& s, std::string_view except) {
    for (const auto& [key, value] : s.items())
      if (!kAnnotations.contains(key) && key != except) return true;
    return false;
  }
  static uint32_t count(const json& s, const char* key, const std::string& where) {
    const json& v = s.at(key);
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= static_cast<int64_t>(kNone))
      refuse(where, fmt::format("\"{}\" must be a non-negative integer", key));
    return static_cast<uint32_t>(v.get<int64_t>());
  }
  uint32_t count_or(const json& s, const char* key, uint32_t fallback, const std::string& where) {
    return s.contains(key) ? count(s, key, where) : fallback;
  }

  void compile_into(uint32_t slot, const json& s, const std::string& where, size_t depth) {
    if (depth > kMaxSchemaDepth) refuse(where, "the schema nests too deeply");
    if (s.is_boolean()) {
      if (!s.get<bool>()) refuse(where, "the schema false admits no value");
      return alias(slot, any());
    }
    if (!s.is_object()) refuse(where, "a schema must be an object or a boolean");
    for (const auto& [key, value] : s.items())
      if (!kAnnotations.contains(key) && !kSupported.contains(key))
        refuse(where, fmt::format("unsupported keyword \"{}\"", key));

    if (s.contains("$ref")) {
      if (constrains(s, "$ref")) refuse(where, "$ref beside other constraints is not supported");
      return alias(slot, resolve_ref(s["$ref"], where, depth));
    }
    if (s.contains("allOf")) {
      const json& all = s["allOf"];
      if (!all.is_array() || all.size() != 1 || constrains(s, "allOf"))
        refuse(where, "allOf is supported only with a single schema and nothing beside it");
      return alias(slot, compile(all[0], where + "/allOf/0", depth + 1));
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      if (!s.contains(key)) continue;
      const json& list = s[key];
      if (!list.is_array() || list.empty()) refuse(where, fmt::format("\"{}\" must be a non-empty list", key));
      if (constrains(s, key)) refuse(where, fmt::format("{} beside other constraints is not supported", key));
      std::vector<uint32_t> alternatives;
      for (size_t i = 0; i < list.size(); ++i)
        alternatives.push_back(compile(list[i], fmt::format("{}/{}/{}", where, key, i), depth + 1));
      g_.nodes[slot].alternatives = std::move(alternatives);
      return;
    }
    if (s.contains("enum") || s.contains("const")) {
      std::vector<json> values;
      if (s.contains("const")) values.push_back(s["const"]);
      if (s.contains("enum")) {
        if (!s["enum"].is_array() || s["enum"].empty()) refuse(where, "\"enum\" must be a non-empty list");
        if (s.contains("const")) refuse(where, "enum beside const is not supported");
        values = s["enum"].get<std::vector<json>>();
      }
      json rest = s;
      rest.erase("enum");
      rest.erase("const");
      const uint32_t rest_node = constrains(rest, "") ? compile(rest, where, depth + 1) : kNone;
      literals_.push_back({slot, std::move(values), rest_node, where});
      g_.nodes[slot].kind = Kind::literal;
      return;
    }

    std::vector<std::string> types;
    if (s.contains("type")) {
      const json& type = s["type"];
      if (type.is_string()) types.push_back(type.get<std::string>());
      else if (type.is_array() && !type.empty() && std::all_of(type.begin(), type.end(), [](const json& t) { return t.is_string(); }))
        types = type.get<std::vector<std::string>>();
      else refuse(where, "\"type\" must be a type name or a non-empty list of them");
    } else if (s.contains("properties") || s.contains("required") || s.contains("additionalProperties")) {
      types.push_back("object");
    } else if (s.contains("items") || s.contains("minItems") || s.contains("maxItems")) {
      types.push_back("array");
    } else if (s.contains("minLength") || s.contains("maxLength")) {
      types.push_back("string");
    } else {
      return alias(slot, any());
    }
    if (s.contains("nullable")) {
      if (!s["nullable"].is_boolean()) refuse(where, "\"nullable\" must be true or false");
      if (s["nullable"].get<bool>() && std::find(types.begin(), types.end(), "null") == types.end()) types.push_back("null");
    }
    if (types.size() == 1) return compile_typed(slot, s, types[0], where, depth);
    std::vector<uint32_t> alternatives;
    for (const std::string& type : types) {
      const uint32_t typed = new_node();
      compile_typed(typed, s, type, where, depth);
      alternatives.push_back(typed);
    }
    g_.nodes[slot].kind = Kind::any_of;
    g_.nodes[slot].alternatives = std::move(alternatives);
  }

  void compile_typed(uint32_t slot, const json& s, const std::string& type, const std::string& where, size_t depth) {
    if (type == "object") return compile_object(slot, s, where, depth);
    if (type == "array") {
      uint32_t items = kNone;
      if (!s.contains("items")) items = any();
      else if (s["items"].is_array()) refuse(where, "\"items\" as a list (tuple validation) is not supported");
      else items = compile(s["items"], where + "/items", depth + 1);
      const uint32_t min_items = count_or(s, "minItems", 0, where);
      const uint32_t max_items = count_or(s, "maxItems", kNone, where);
      if (min_items > max_items) refuse(where, "minItems exceeds maxItems");
      if (s.contains("uniqueItems") && s["uniqueItems"] != json(false))
        refuse(where, "uniqueItems is not supported");
      Node& node = g_.nodes[slot];
      node.kind = Kind::array;
      node.items = items;
      node.min_items = min_items;
      node.max_items = max_items;
      return;
    }
    if (type == "string") {
      const uint32_t min_length = count_or(s, "minLength", 0, where);
      const uint32_t max_length = count_or(s, "maxLength", kNone, where);
      if (min_length > max_length) refuse(where, "minLength exceeds maxLength");
      Node& node = g_.nodes[slot];
      node.kind = Kind::string;
      node.min_length = min_length;
      node.max_length = max_length;
      return;
    }
    if (type == "number") {
      g_.nodes[slot].kind = Kind::number;
      return;
    }
    if (type == "integer") {
      g_.nodes[slot].kind = Kind::integer;
      return;
    }
    if (type == "boolean") return set_literals(slot, {json(true), json(false)});
    if (type == "null") return set_literals(slot, {json(nullptr)});
    refuse(where, fmt::format("unknown type \"{}\"", type));
  }

  void compile_object(uint32_t slot, const json& s, const std::string& where, size_t depth) {
    std::vector<Property> properties;
    if (s.contains("properties")) {
      const json& list = s["properties"];
      if (!list.is_object()) refuse(where, "\"properties\" must be an object");
      if (list.size() > 64) refuse(where, "more than 64 properties in one object are not supported");
      for (const auto& [name, schema] : list.items())
        properties.push_back({escaped_name(name), compile(schema, where + "/properties/" + name, depth + 1)});
    }
    uint64_t required = 0;
    if (s.contains("required")) {
      const json& list = s["required"];
      if (!list.is_array()) refuse(where, "\"required\" must be a list of names");
      for (const json& name : list) {
        if (!name.is_string()) refuse(where, "\"required\" must be a list of names");
        auto it = std::find_if(properties.begin(), properties.end(),
                               [&](const Property& p) { return p.name == escaped_name(name.get<std::string>()); });
        if (it == properties.end())
          refuse(where, fmt::format("required property \"{}\" is not in \"properties\"", name.get<std::string>()));
        required |= uint64_t{1} << (it - properties.begin());
      }
    }
    // Absent additionalProperties: none beside declared properties (OpenAI's strict mode), any
    // keys when nothing is declared.
    uint32_t additional = properties.empty() ? any() : kNone;
    if (s.contains("additionalProperties")) {
      const json& extra = s["additionalProperties"];
      if (extra == json(false)) additional = kNone;
      else additional = compile(extra, where + "/additionalProperties", depth + 1);
    }
    uint32_t key_trie = kNone;
    if (!properties.empty()) {
      key_trie = new_trie_node(kNone, 0);
      for (size_t i = 0; i < properties.size(); ++i)
        g_.trie[trie_insert(key_trie, properties[i].name, uint64_t{1} << i)].value = static_cast<int32_t>(i);
    }
    const uint32_t key_string = new_node(Kind::string);
    g_.nodes[key_string].escapes = properties.empty();  // escapes could spell a declared name
    Node& node = g_.nodes[slot];
    node.kind = Kind::object;
    node.properties = std::move(properties);
    node.required = required;
    node.additional = additional;
    node.key_trie = key_trie;
    node.key_string = key_string;
  }

  uint32_t resolve_ref(const json& ref, const std::string& where, size_t depth) {
    if (!ref.is_string()) refuse(where, "\"$ref\" must be a string");
    const std::string target = ref.get<std::string>();
    if (auto it = refs_.find(target); it != refs_.end()) return it->second;
    if (!target.starts_with("#/")) refuse(where, fmt::format("$ref \"{}\": only references inside the schema (#/...) are supported", target));
    const json* resolved = nullptr;
    try {
      const json::json_pointer pointer(target.substr(1));
      if (root_.contains(pointer)) resolved = &root_.at(pointer);
    } catch (const json::exception&) {
    }
    if (!resolved) refuse(where, fmt::format("$ref \"{}\" points at nothing", target));
    const uint32_t slot = new_node();
    refs_[target] = slot;  // before compiling, so recursion finds it
    compile_into(slot, *resolved, target, depth + 1);
    return slot;
  }

  // Flattens every anyOf into the concrete nodes it may be; an anyOf that reaches itself without
  // reading a byte would never end.
  void resolve_alternatives() {
    std::vector<uint8_t> state(g_.nodes.size(), 0);  // 0 new, 1 in progress, 2 done
    std::function<void(uint32_t)> visit = [&](uint32_t n) {
      if (state[n] == 2) return;
      if (state[n] == 1) refuse("#", "anyOf/$ref cycle that never reads a byte");
      state[n] = 1;
      Node& node = g_.nodes[n];
      std::vector<uint32_t> concrete;
      if (node.kind != Kind::any_of) {
        concrete.push_back(n);
      } else {
        for (uint32_t alt : std::vector<uint32_t>(node.alternatives)) {
          visit(alt);
          for (uint32_t c : g_.nodes[alt].concrete)
            if (std::find(concrete.begin(), concrete.end(), c) == concrete.end()) concrete.push_back(c);
        }
      }
      g_.nodes[n].concrete = std::move(concrete);
      state[n] = 2;
    };
    for (uint32_t n = 0; n < g_.nodes.size(); ++n) visit(n);
  }

  void set_first_bytes() {
    for (Node& node : g_.nodes) {
      node.first_bytes.reset();
      switch (node.kind) {
        case Kind::object: node.first_bytes.set('{'); break;
        case Kind::array: node.first_bytes.set('['); break;
        case Kind::string: node.first_bytes.set('"'); break;
        case Kind::number:
        case Kind::integer:
          node.first_bytes.set('-');
          for (char d = '0'; d <= '9'; ++d) node.first_bytes.set(static_cast<uint8_t>(d));
          break;
        case Kind::literal:
          if (node.literal_trie != kNone)
            for (auto [byte, child] : g_.trie[node.literal_trie].children) node.first_bytes.set(byte);
          break;
        case Kind::any_of: break;
      }
    }
  }

  // enum/const values are kept only where the rest of their schema accepts them; that check runs
  // the matcher itself, so it repeats until nothing changes (one literal may hold another).
  void filter_literals() {
    for (PendingLiteral& p : literals_) set_literals(p.node, p.values);
    for (bool changed = true; changed;) {
      changed = false;
      set_first_bytes();
      for (PendingLiteral& p : literals_) {
        if (p.rest == kNone) continue;
        std::vector<json> kept;
        for (const json& v : p.values) {
          Threads s = start_threads(g_, p.rest);
          if (advance_threads(g_, s, v.dump()) && threads_complete(g_, s)) kept.push_back(v);
        }
        if (kept.empty()) refuse(p.where, "no value of enum/const satisfies the rest of the schema");
        if (kept.size() != p.values.size()) {
          p.values = std::move(kept);
          set_literals(p.node, p.values);
          changed = true;
        }
      }
    }
  }
};

}  // namespace

// ---- JsonSchema / JsonMatcher ------------------------------------------------------------------

JsonSchema JsonSchema::any_object() {
  return compile(json{{"type", "object"}});
}

JsonSchema JsonSchema::compile(const nlohmann::json& schema) {
  return JsonSchema(Compiler(schema).run());
}

std::optional<JsonSchema> JsonSchema::from_response_format(const nlohmann::json& response_format) {
  if (response_format.is_null()) return std::nullopt;
  auto bad = [](const std::string& what) { throw Error(Errc::invalid_argument, "response_format: " + what); };
  if (!response_format.is_object() || !response_format.contains("type") || !response_format["type"].is_string())
    bad("must be an object with a \"type\"");
  const std::string type = response_format["type"].get<std::string>();
  if (type == "text") return std::nullopt;
  if (type == "json_object") return any_object();
  if (type != "json_schema") bad(fmt::format("unknown type \"{}\" (text, json_object or json_schema)", type));
  auto spec = response_format.find("json_schema");
  if (spec == response_format.end() || !spec->is_object()) bad("\"json_schema\" must be an object");
  auto schema = spec->find("schema");
  if (schema == spec->end()) bad("\"json_schema\" has no \"schema\"");
  return compile(*schema);
}

JsonMatcher JsonSchema::start() const {
  JsonMatcher m;
  m.grammar_ = grammar_;
  m.threads_ = start_threads(*grammar_, grammar_->root);
  return m;
}

bool JsonMatcher::advance(std::string_view bytes) {
  Threads s = threads_;
  if (!advance_threads(*grammar_, s, bytes)) return false;
  threads_ = std::move(s);
  return true;
}

bool JsonMatcher::complete() const { return threads_complete(*grammar_, threads_); }

// ---- TokenConstraint -------------------------------------------------------------------------

TokenConstraint::TokenConstraint(const std::vector<std::string>& token_bytes, std::vector<int32_t> eos_ids)
    : token_bytes_(token_bytes), eos_ids_(std::move(eos_ids)) {
  std::vector<int32_t> ids;
  for (size_t id = 0; id < token_bytes_.size(); ++id)
    if (!token_bytes_[id].empty() && !is_eos(static_cast<int32_t>(id))) ids.push_back(static_cast<int32_t>(id));
  std::sort(ids.begin(), ids.end(), [&](int32_t x, int32_t y) {
    return token_bytes_[x] != token_bytes_[y] ? token_bytes_[x] < token_bytes_[y] : x < y;
  });
  // Sorted byte strings give the trie in preorder: each string shares its longest common prefix
  // with the one before it.
  std::vector<uint32_t> path;  // path[d]: the node at depth d + 1 of the current string
  std::string_view previous;
  auto close_to = [&](size_t depth) {
    while (path.size() > depth) {
      trie_[path.back()].subtree_end = static_cast<uint32_t>(trie_.size());
      path.pop_back();
    }
  };
  for (int32_t id : ids) {
    const std::string_view bytes = token_bytes_[id];
    const size_t common = static_cast<size_t>(
        std::mismatch(previous.begin(), previous.end(), bytes.begin(), bytes.end()).first - previous.begin());
    close_to(common);
    for (size_t i = common; i < bytes.size(); ++i) {
      path.push_back(static_cast<uint32_t>(trie_.size()));
      const auto here = static_cast<uint32_t>(sorted_ids_.size());
      trie_.push_back({static_cast<uint8_t>(bytes[i]), 0, static_cast<uint16_t>(i + 1), 0, here, here, 0, 0});
    }
    trie_[path.back()].tokens_end = static_cast<uint32_t>(sorted_ids_.size() + 1);
    sorted_ids_.push_back(id);
    max_depth_ = std::max(max_depth_, bytes.size());
    previous = bytes;
  }
  close_to(0);

  // Which paths are plain string content (see mask()); preorder visits a parent before its children.
  struct Text {
    bool plain;
    uint8_t pending, lo, hi;
    uint32_t chars;
  };
  std::vector<Text> along(max_depth_ + 1);
  along[0] = {true, 0, 0x80, 0xBF, 0};
  for (TrieNode& n : trie_) {
    Text text = along[n.depth - 1];
    const uint8_t c = n.byte;
    if (!text.plain) {
    } else if (text.pending > 0) {
      text.plain = c >= text.lo && c <= text.hi;
      --text.pending;
      text.lo = 0x80;
      text.hi = 0xBF;
    } else if (c == '"' || c == '\\' || c < 0x20) {
      text.plain = false;
    } else {
      ++text.chars;
      if (c >= 0x80) text.plain = utf8_lead(c, text.pending, text.lo, text.hi);
    }
    along[n.depth] = text;
    n.plain = text.plain ? static_cast<uint8_t>(kPlainPrefix | (text.pending == 0 ? kPlainBoundary : 0)) : 0;
    n.chars = text.chars;
  }
  // Whole plain subtrees, children before parents: a node's children follow it in preorder, up to
  // its subtree_end, one level deeper.
  for (size_t i = trie_.size(); i-- > 0;) {
    TrieNode& n = trie_[i];
    bool all_plain = (n.plain & kPlainPrefix) != 0;
    uint32_t most = n.chars;
    for (size_t child = i + 1; child < n.subtree_end; child = trie_[child].subtree_end) {
      all_plain = all_plain && (trie_[child].plain & kPlainSubtree);
      most = std::max(most, trie_[child].subtree_chars);
    }
    if (all_plain) n.plain |= kPlainSubtree;
    n.subtree_chars = most;
  }
}

bool TokenConstraint::is_eos(int32_t token) const {
  return std::find(eos_ids_.begin(), eos_ids_.end(), token) != eos_ids_.end();
}

void TokenConstraint::mask(const State& state, std::span<float> logits) const {
  const Grammar& g = *state.grammar_;
  const Threads& root = state.threads_;
  // Depth-first over the trie: the state after each depth's byte, so every prefix is read once.
  thread_local std::vector<Threads> scratch;
  thread_local std::vector<const Threads*> at_depth;
  thread_local std::vector<uint8_t> plain_at;  // the node at this depth was taken as plain text: 1, mid-character: 2
  thread_local std::vector<uint32_t> plain_chars;  // ... and the characters on its path
  thread_local std::vector<uint8_t> allowed;
  if (scratch.size() < max_depth_ + 1) scratch.resize(max_depth_ + 1);
  at_depth.assign(max_depth_ + 1, nullptr);
  plain_at.assign(max_depth_ + 1, 0);
  plain_chars.assign(max_depth_ + 1, 0);
  allowed.assign(token_bytes_.size(), 0);
  at_depth[0] = &root;
  const uint32_t room = plain_text_room(g, root);
  bool root_counts = false;
  for (const Thread& t : root.threads) root_counts = root_counts || root.frames[t.end - 1].phase == kStrTextCounted;
  bool any_allowed = false;
  for (size_t i = 0; i < trie_.size();) {
    const TrieNode& n = trie_[i];
    if (room > 0 && (n.plain & kPlainSubtree) && n.subtree_chars <= room) {
      // plain text all the way down: every token of the subtree (contiguous in sorted_ids_)
      const uint32_t end = n.subtree_end < trie_.size() ? trie_[n.subtree_end].tokens_begin : static_cast<uint32_t>(sorted_ids_.size());
      for (uint32_t k = n.tokens_begin; k < end; ++k) allowed[static_cast<size_t>(sorted_ids_[k])] = 1;
      any_allowed = any_allowed || end > n.tokens_begin;
      i = n.subtree_end;
      continue;
    }
    if (room > 0 && (n.plain & kPlainPrefix) && n.chars <= room) {
      plain_at[n.depth] = (n.plain & kPlainBoundary) ? 1 : 2;
      plain_chars[n.depth] = n.chars;
    } else {
      const Threads* parent = at_depth[n.depth - 1];
      const uint8_t parent_plain = plain_at[n.depth - 1];
      if (parent_plain == 2) {  // a character left unfinished, and this byte does not finish it
        i = n.subtree_end;
        continue;
      }
      if (parent_plain == 1) {
        parent = &root;
        if (root_counts) {
          add_plain_text(g, root, plain_chars[n.depth - 1], scratch[n.depth - 1]);
          parent = &scratch[n.depth - 1];
        }
      }
      const Step r = step(g, *parent, n.byte, scratch[n.depth]);
      if (r == Step::reject) {
        i = n.subtree_end;
        continue;
      }
      at_depth[n.depth] = r == Step::same ? parent : &scratch[n.depth];
      plain_at[n.depth] = 0;
    }
    for (uint32_t k = n.tokens_begin; k < n.tokens_end; ++k) allowed[static_cast<size_t>(sorted_ids_[k])] = 1;
    any_allowed = any_allowed || n.tokens_end > n.tokens_begin;
    ++i;
  }
  const bool eos_allowed = state.complete() || !any_allowed;
  std::vector<std::pair<int32_t, float>> eos_logits;
  for (int32_t id : eos_ids_)
    if (id >= 0 && static_cast<size_t>(id) < logits.size()) eos_logits.emplace_back(id, logits[static_cast<size_t>(id)]);
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  for (size_t id = 0; id < logits.size(); ++id)
    if (id >= allowed.size() || !allowed[id]) logits[id] = kNegInf;
  if (eos_allowed)
    for (auto [id, logit] : eos_logits) logits[static_cast<size_t>(id)] = logit;
}

TokenConstraint::State TokenConstraint::accept(State state, int32_t token) const {
  if (is_eos(token)) return state;
  if (token < 0 || static_cast<size_t>(token) >= token_bytes_.size() || token_bytes_[static_cast<size_t>(token)].empty() ||
      !state.advance(token_bytes_[static_cast<size_t>(token)]))
    throw Error(Errc::invalid_argument, fmt::format("token {} does not continue the JSON document", token));
  return state;
}

}  // namespace salut::engine
