#pragma once
// OpenAI's response_format enforced while sampling: a JSON schema (or "any JSON object") becomes a
// pushdown automaton over bytes, and TokenConstraint masks the logits of every token whose bytes
// the automaton cannot take next. Every prefix the automaton accepts can still be completed to a
// valid document, so sampling never paints itself into a corner, and end-of-sequence is allowed
// only once the document is complete.
//
// What a schema may say (anything else is refused by JsonSchema::compile, naming the keyword):
//   type (one or a list; "null" in a list makes a value nullable), nullable: true (OpenAPI),
//   enum, const, anyOf, oneOf (generated as anyOf: exclusivity is not enforced),
//   allOf with a single schema, $ref to "#", "#/$defs/..." or "#/definitions/..." (recursion works),
//   object: properties, required, additionalProperties (false, true or a schema),
//   array: items (one schema), minItems, maxItems, uniqueItems: false,
//   string: minLength, maxLength (in code points).
//   Ignored annotations: title, description, default, examples, $schema, $id, $comment,
//   deprecated, readOnly, writeOnly, and format (an annotation in JSON Schema 2020-12: strings
//   are not checked against it).
//   Refused: pattern, minimum/maximum and friends, multipleOf, patternProperties, propertyNames,
//   min/maxProperties, prefixItems/contains/uniqueItems: true, not, if/then/else, allOf of
//   several schemas, anyOf beside other constraints, external or other $ref targets.
//
// Choices that keep the generated documents valid (they only narrow what may be produced):
//   - Properties may come in any order (nlohmann::json does not keep the schema's order), each at
//     most once; required ones must all appear before '}'.
//   - additionalProperties absent means false when properties are declared (what OpenAI's strict
//     mode demands); an object schema without properties takes any keys. Extra keys never repeat
//     a declared name, and carry no escapes where names are declared (so they cannot spell one).
//   - enum and const values are produced exactly as nlohmann::json::dump() writes them; values
//     that fail the rest of their schema are dropped.
//   - Numbers: at most 18 integer digits, 16 fraction digits and a 2-digit exponent, so a model
//     cannot stream digits forever and every number fits a double (integers an int64).
//   - Whitespace between tokens comes in runs of at most 32 bytes holding at most 2 newlines;
//     values nest at most 64 deep.

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace salut::engine {

namespace json_constraint_detail {

struct Grammar;

// One level of the automaton's stack: where we are inside one value.
struct Frame {
  uint32_t node = 0;    // the schema node this value must satisfy
  uint8_t phase = 0;
  uint8_t pending = 0;  // string: UTF-8 continuation bytes due, or \u hex digits read; number: digits
  uint8_t lo = 0, hi = 0;  // string: the range the next UTF-8 continuation byte must fall in
  uint32_t a = 0;       // object: key trie node; array: items begun; string: code points; literal: trie node
  uint32_t b = 0;       // object: schema node of the value after the current key; string: \u code unit
  uint64_t used = 0;    // object: declared properties already present
  bool operator==(const Frame&) const = default;
};

// One reading of the bytes so far. anyOf is nondeterministic until the bytes tell the
// alternatives apart, so a state holds several threads, each a stack of frames.
struct Thread {
  uint32_t begin = 0, end = 0;  // its frames in Threads::frames
  uint8_t ws_bytes = 0;         // length of the whitespace run it is in
  uint8_t ws_newlines = 0;
};

struct Threads {
  std::vector<Frame> frames;
  std::vector<Thread> threads;
};

}  // namespace json_constraint_detail

class JsonMatcher;

// A compiled schema; immutable, cheap to copy (shares its grammar).
class JsonSchema {
 public:
  // response_format {"type": "json_object"}: any JSON object.
  static JsonSchema any_object();
  // response_format {"type": "json_schema"}: the "schema" member. Throws
  // salut::Error(invalid_argument) naming what is unsupported or contradictory.
  static JsonSchema compile(const nlohmann::json& schema);

  // A request's response_format: {"type": "text"} or null gives nullopt (no constraint);
  // "json_object" gives any_object(); "json_schema" compiles json_schema.schema ("name" and
  // "strict" are not needed to enforce it). Throws salut::Error(invalid_argument) otherwise.
  static std::optional<JsonSchema> from_response_format(const nlohmann::json& response_format);

  // The matcher before the first byte.
  JsonMatcher start() const;

 private:
  explicit JsonSchema(std::shared_ptr<const json_constraint_detail::Grammar> grammar) : grammar_(std::move(grammar)) {}
  std::shared_ptr<const json_constraint_detail::Grammar> grammar_;
};

// Where a document stands after some bytes. Copies are cheap (a few small vectors).
class JsonMatcher {
 public:
  // Takes `bytes` if all of them continue a valid document (then true); otherwise changes nothing
  // and returns false.
  bool advance(std::string_view bytes);
  // True once a whole valid document has been produced (trailing whitespace allowed).
  bool complete() const;

 private:
  friend class JsonSchema;
  friend class TokenConstraint;
  std::shared_ptr<const json_constraint_detail::Grammar> grammar_;
  json_constraint_detail::Threads threads_;
};

// The vocabulary seen through the matcher. Built once per model; schema-independent.
class TokenConstraint {
 public:
  using State = JsonMatcher;

  // token_bytes[id]: what the token adds to the text (Tokenizer::token_bytes); empty for tokens
  // that must never be sampled (special tokens). The eos_ids end the document.
  TokenConstraint(const std::vector<std::string>& token_bytes, std::vector<int32_t> eos_ids);

  // Sets -inf on every logit whose token cannot come next: tokens past the vocabulary, tokens
  // whose bytes the matcher refuses, and end-of-sequence until the document is complete. Should
  // nothing be allowed (a vocabulary without the bytes the grammar needs), end-of-sequence is
  // left open so the sampler still has a choice.
  void mask(const State& state, std::span<float> logits) const;
  // The state after `token`; end-of-sequence leaves it as is. Throws salut::Error
  // (invalid_argument) for a token mask() would have refused.
  State accept(State state, int32_t token) const;

  bool is_eos(int32_t token) const;

 private:
  // The vocabulary as a byte trie in preorder: a node's subtree is [index, subtree_end), so
  // a refused prefix skips every token that starts with it.
  struct TrieNode {
    uint8_t byte;
    uint8_t plain;           // kPlain...: the path to here as string content (see mask())
    uint16_t depth;          // 1 for the first byte of a token
    uint32_t subtree_end;
    uint32_t tokens_begin;   // ids (in sorted_ids_) of the tokens that end here
    uint32_t tokens_end;
    uint32_t chars;          // characters begun on the path to here, when plain
    uint32_t subtree_chars;  // the most characters on a path through its subtree
  };
  std::vector<TrieNode> trie_;
  std::vector<int32_t> sorted_ids_;
  std::vector<std::string> token_bytes_;
  std::vector<int32_t> eos_ids_;
  size_t max_depth_ = 0;
};

}  // namespace salut::engine
