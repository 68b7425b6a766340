// response_format's constrained sampling: schema compilation (and what it refuses), the byte
// matcher on valid and invalid documents, random walks through the masked vocabulary (synthetic
// and Qwen3's) whose every result must parse and validate, and the mask's speed on 151k tokens.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "../tokenizer/test_util.h"
#include "core/error.h"
#include "engine/json_constraint.h"
#include "tokenizer/tokenizer.h"

namespace salut::engine {
namespace {

using nlohmann::json;

// ---- a tiny validator for the features JsonSchema supports ----

size_t code_points(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<uint8_t>(c) & 0xC0) != 0x80; }));
}

bool has_type(const json& v, const std::string& type) {
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "number") return v.is_number();
  if (type == "integer") return v.is_number_integer() || (v.is_number_float() && std::trunc(v.get<double>()) == v.get<double>());
  if (type == "boolean") return v.is_boolean();
  if (type == "null") return v.is_null();
  return false;
}

bool valid(const json& v, const json& s, const json& root) {
  if (s.is_boolean()) return s.get<bool>();
  if (s.contains("$ref")) {
    const std::string ref = s["$ref"];
    return valid(v, ref == "#" ? root : root.at(json::json_pointer(ref.substr(1))), root);
  }
  if (s.contains("allOf"))
    for (const json& sub : s["allOf"])
      if (!valid(v, sub, root)) return false;
  for (const char* key : {"anyOf", "oneOf"})
    if (s.contains(key) && std::none_of(s[key].begin(), s[key].end(), [&](const json& sub) { return valid(v, sub, root); }))
      return false;
  if (s.contains("const") && v != s["const"]) return false;
  if (s.contains("enum") && std::find(s["enum"].begin(), s["enum"].end(), v) == s["enum"].end()) return false;
  if (s.contains("type")) {
    std::vector<std::string> types = s["type"].is_string() ? std::vector<std::string>{s["type"].get<std::string>()} : s["type"].get<std::vector<std::string>>();
    if (s.value("nullable", false)) types.push_back("null");
    if (std::none_of(types.begin(), types.end(), [&](const std::string& t) { return has_type(v, t); })) return false;
  }
  if (v.is_object()) {
    const json properties = s.value("properties", json::object());
    for (const json& name : s.value("required", json::array()))
      if (!v.contains(name.get<std::string>())) return false;
    for (const auto& [key, value] : v.items()) {
      if (properties.contains(key)) {
        if (!valid(value, properties[key], root)) return false;
      } else if (s.contains("additionalProperties") && !valid(value, s["additionalProperties"], root)) {
        return false;
      }
    }
  }
  if (v.is_array()) {
    if (v.size() < s.value("minItems", size_t{0}) || v.size() > s.value("maxItems", std::numeric_limits<size_t>::max())) return false;
    if (s.contains("items"))
      for (const json& item : v)
        if (!valid(item, s["items"], root)) return false;
  }
  if (v.is_string()) {
    const size_t n = code_points(v.get<std::string>());
    if (n < s.value("minLength", size_t{0}) || n > s.value("maxLength", std::numeric_limits<size_t>::max())) return false;
  }
  return true;
}

// ---- helpers ----

bool accepts(const JsonSchema& schema, std::string_view text) {
  JsonMatcher m = schema.start();
  return m.advance(text) && m.complete();
}
bool continues(const JsonSchema& schema, std::string_view text) { return schema.start().advance(text); }

std::string refusal(const json& schema) {
  try {
    JsonSchema::compile(schema);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    return e.what();
  }
  return "(compiled)";
}

std::string refusal_of_format(const json& response_format) {
  try {
    JsonSchema::from_response_format(response_format);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    return e.what();
  }
  return "(accepted)";
}

const json kPerson = json::parse(R"({
  "type": "object",
  "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 20},
    "age": {"type": "integer"},
    "email": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 8}, "maxItems": 3},
    "address": {"$ref": "#/$defs/address"},
    "role": {"enum": ["admin", "user", 7, null]},
    "score": {"type": ["number", "null"]}
  },
  "required": ["name", "age", "address"],
  "additionalProperties": false,
  "$defs": {
    "address": {
      "type": "object",
      "properties": {"street": {"type": "string"}, "zip": {"type": "string", "minLength": 5, "maxLength": 5}},
      "required": ["zip"]
    }
  }
})");

const json kTree = json::parse(R"({
  "$ref": "#/definitions/node",
  "definitions": {
    "node": {
      "type": "object",
      "properties": {
        "value": {"type": "number"},
        "children": {"type": "array", "items": {"$ref": "#/definitions/node"}, "maxItems": 2}
      },
      "required": ["value"]
    }
  }
})");

const json kShape = json::parse(R"({
  "anyOf": [
    {"type": "object", "properties": {"kind": {"const": "circle"}, "radius": {"type": "number"}},
     "required": ["kind", "radius"], "additionalProperties": false},
    {"type": "object", "properties": {"kind": {"const": "square"}, "side": {"type": "integer"}},
     "required": ["kind", "side"], "additionalProperties": false}
  ]
})");

const json kExtras = json::parse(R"({
  "type": "object",
  "properties": {"id": {"type": "integer"}, "flags": {"type": "array", "items": {"type": "boolean"}, "minItems": 1}},
  "required": ["id"],
  "additionalProperties": {"type": "string", "maxLength": 4}
})");

// ---- compilation ----

TEST(JsonSchemaCompile, AcceptsSupportedFeatures) {
  for (const json& schema : {kPerson, kTree, kShape, kExtras}) EXPECT_NO_THROW(JsonSchema::compile(schema)) << schema.dump();
  EXPECT_NO_THROW(JsonSchema::compile(json::parse(
      R"({"type": "string", "format": "date-time", "title": "t", "description": "d", "default": "x", "examples": ["y"],
          "$schema": "https://json-schema.org/draft/2020-12/schema"})")));
  EXPECT_NO_THROW(JsonSchema::compile(json::parse(R"({"type": "string", "nullable": true})")));
  EXPECT_NO_THROW(JsonSchema::compile(json::parse(R"({"allOf": [{"type": "integer"}], "description": "one"})")));
  EXPECT_NO_THROW(JsonSchema::compile(json::parse(R"({"oneOf": [{"type": "integer"}, {"type": "boolean"}]})")));
  EXPECT_NO_THROW(JsonSchema::compile(json(true)));
  EXPECT_NO_THROW(JsonSchema::compile(json::object()));
  EXPECT_NO_THROW(JsonSchema::any_object());
}

TEST(JsonSchemaCompile, RefusalsNameTheProblem) {
  auto mentions = [](const json& schema, const std::string& words) {
    const std::string message = refusal(schema);
    EXPECT_NE(message.find(words), std::string::npos) << schema.dump() << " -> " << message;
  };
  mentions(json::parse(R"({"type": "string", "pattern": "^a+$"})"), "\"pattern\"");
  mentions(json::parse(R"({"type": "integer", "minimum": 0})"), "\"minimum\"");
  mentions(json::parse(R"({"type": "object", "patternProperties": {}})"), "\"patternProperties\"");
  mentions(json::parse(R"({"type": "object", "properties": {"a": {"type": "number", "multipleOf": 2}}})"),
           "#/properties/a: unsupported keyword \"multipleOf\"");
  mentions(json::parse(R"({"type": "array", "items": [{"type": "string"}]})"), "tuple");
  mentions(json::parse(R"({"type": "array", "uniqueItems": true})"), "uniqueItems");
  mentions(json::parse(R"({"$ref": "https://example.com/s.json"})"), "only references inside the schema");
  mentions(json::parse(R"({"$ref": "#/$defs/missing"})"), "points at nothing");
  mentions(json::parse(R"({"type": "object", "properties": {"a": {}}, "required": ["b"]})"), "\"b\" is not in \"properties\"");
  mentions(json(false), "admits no value");
  mentions(json::parse(R"({"allOf": [{"type": "string"}, {"maxLength": 2}]})"), "allOf");
  mentions(json::parse(R"({"type": "object", "anyOf": [{"required": ["a"]}]})"), "anyOf beside other constraints");
  mentions(json::parse(R"({"type": "text"})"), "unknown type \"text\"");
  mentions(json::parse(R"({"type": "string", "minLength": 3, "maxLength": 2})"), "minLength exceeds maxLength");
  mentions(json::parse(R"({"enum": []})"), "non-empty");
  mentions(json::parse(R"({"type": "integer", "enum": ["a", "b"]})"), "no value of enum/const");
  mentions(json::parse(R"({"$ref": "#/$defs/a", "$defs": {"a": {"anyOf": [{"$ref": "#/$defs/a"}]}}})"), "cycle");
  mentions(json::parse(R"({"not": {"type": "string"}})"), "\"not\"");
}

TEST(JsonSchemaCompile, FromResponseFormat) {
  EXPECT_FALSE(JsonSchema::from_response_format(json()).has_value());
  EXPECT_FALSE(JsonSchema::from_response_format(json{{"type", "text"}}).has_value());
  const auto object = JsonSchema::from_response_format(json{{"type", "json_object"}});
  ASSERT_TRUE(object.has_value());
  EXPECT_TRUE(accepts(*object, R"({"a": [1]})"));
  const auto shape = JsonSchema::from_response_format(
      json{{"type", "json_schema"}, {"json_schema", {{"name", "shape"}, {"strict", true}, {"schema", kShape}}}});
  ASSERT_TRUE(shape.has_value());
  EXPECT_TRUE(accepts(*shape, R"({"kind": "square", "side": 3})"));
  EXPECT_FALSE(accepts(*shape, R"({"a": [1]})"));
  EXPECT_NE(refusal_of_format(json{{"type", "yaml"}}).find("unknown type \"yaml\""), std::string::npos);
  EXPECT_NE(refusal_of_format(json{{"type", "json_schema"}}).find("\"json_schema\" must be an object"), std::string::npos);
  EXPECT_NE(refusal_of_format(json{{"type", "json_schema"}, {"json_schema", {{"name", "x"}}}}).find("no \"schema\""),
            std::string::npos);
  EXPECT_NE(refusal_of_format(json::parse(R"({"type": "json_schema", "json_schema": {"schema": {"type": "string", "pattern": "a"}}})"))
                .find("\"pattern\""),
            std::string::npos);
}

// ---- the matcher ----

TEST(JsonMatcher, AnyObject) {
  const JsonSchema any = JsonSchema::any_object();
  EXPECT_TRUE(accepts(any, "{}"));
  EXPECT_TRUE(accepts(any, R"({"a": [1, -2.5e-3, 0, 1E+2, true, false, null, "x\u00e9\n\"\\\/"], "b": {"c": {}}})"));
  EXPECT_TRUE(accepts(any, "{\"emoji\": \"\\ud83d\\ude00 caf\xC3\xA9 \xE4\xBD\xA0 \xF0\x9F\x98\x80\"}"));
  EXPECT_TRUE(accepts(any, "  {\n  \"a\": 1\n}\n"));
  EXPECT_FALSE(continues(any, "["));
  EXPECT_FALSE(continues(any, "\"x\""));
  EXPECT_FALSE(continues(any, "{\"a\" 1"));
  EXPECT_FALSE(continues(any, "{,"));
  EXPECT_FALSE(continues(any, "{\"a\": 1,}"));
  EXPECT_FALSE(continues(any, "{\"a\": 01"));
  EXPECT_FALSE(continues(any, "{\"a\": \"line\nbreak\"}"));  // raw control character
  EXPECT_FALSE(continues(any, "{} {}"));
  EXPECT_FALSE(accepts(any, "{\"a\": 1"));
  EXPECT_FALSE(accepts(any, ""));
  // advance() leaves the state alone when it refuses
  JsonMatcher m = any.start();
  ASSERT_TRUE(m.advance("{\"a\":"));
  EXPECT_FALSE(m.advance(" 1 2"));
  EXPECT_TRUE(m.advance("2}"));
  EXPECT_TRUE(m.complete());
}

TEST(JsonMatcher, StringEscapesAndUtf8) {
  const JsonSchema s = JsonSchema::compile(json{{"type", "string"}});
  EXPECT_TRUE(accepts(s, R"("\u00E9\u0000\b\f\n\r\t")"));
  EXPECT_TRUE(accepts(s, R"("\uD83D\uDE00")"));
  EXPECT_FALSE(continues(s, R"("\uDC00)"));      // a low surrogate alone
  EXPECT_FALSE(continues(s, R"("\uD83D")"));     // a high surrogate alone
  EXPECT_FALSE(continues(s, R"("\uD83D\u0041)"));
  EXPECT_FALSE(continues(s, R"("\x)"));
  EXPECT_FALSE(continues(s, R"("\u12G)"));
  EXPECT_FALSE(continues(s, "\"\xC0\x80"));      // overlong
  EXPECT_FALSE(continues(s, "\"\xED\xA0\x80"));  // a surrogate in UTF-8
  EXPECT_FALSE(continues(s, "\"\xF4\x90"));      // beyond U+10FFFF
  EXPECT_FALSE(continues(s, "\"\xC3\x41"));
  EXPECT_FALSE(accepts(s, "\"\xC3\""));
  EXPECT_TRUE(continues(s, "\"\xE4\xBD"));       // half a character is a valid prefix

  const JsonSchema bounded = JsonSchema::compile(json::parse(R"({"type": "string", "minLength": 2, "maxLength": 3})"));
  EXPECT_FALSE(accepts(bounded, R"("a")"));
  EXPECT_TRUE(accepts(bounded, "\"\xC3\xA9\xC3\xA9\""));  // two code points
  EXPECT_TRUE(accepts(bounded, R"("\uD83D\uDE00\n!")"));   // a pair counts once
  EXPECT_FALSE(continues(bounded, R"("abcd)"));
}

TEST(JsonMatcher, Numbers) {
  const JsonSchema number = JsonSchema::compile(json{{"type", "number"}});
  for (const char* ok : {"0", "-0", "12", "1.5", "1e10", "1E+2", "-3.25e-07", "0.001"}) EXPECT_TRUE(accepts(number, ok)) << ok;
  for (const char* bad : {"01", ".5", "1.", "1e", "--1", "+1", "1.e3", "-", "1e+"}) EXPECT_FALSE(accepts(number, bad)) << bad;
  EXPECT_FALSE(continues(number, "1e100"));  // three exponent digits
  EXPECT_FALSE(continues(number, "1234567890123456789"));
  const JsonSchema integer = JsonSchema::compile(json{{"type", "integer"}});
  EXPECT_TRUE(accepts(integer, "-42"));
  EXPECT_FALSE(continues(integer, "1."));
  EXPECT_FALSE(continues(integer, "1e3"));
}

TEST(JsonMatcher, ObjectsFollowTheSchema) {
  const JsonSchema person = JsonSchema::compile(kPerson);
  EXPECT_TRUE(accepts(person, R"({"name": "Ann", "age": 31, "address": {"zip": "12345"}})"));
  EXPECT_TRUE(accepts(person, R"({"address": {"street": "Main", "zip": "12345"}, "age": -1, "name": "B",)"
                              R"( "email": null, "tags": ["a", "b"], "role": 7, "score": 2.5})"));
  EXPECT_TRUE(accepts(person, R"({"name":"C","age":1,"address":{"zip":"00000"},"email":"c@d.e","role":null,"score":null})"));
  EXPECT_FALSE(continues(person, R"({"nam": )"));                      // not a declared name
  EXPECT_FALSE(continues(person, R"({"nickname")"));
  EXPECT_FALSE(continues(person, R"({"age": 1, "age")"));              // twice
  EXPECT_FALSE(continues(person, R"({"name": "A", "age": 1})"));       // address missing
  EXPECT_FALSE(continues(person, R"({"name": "")"));                  // minLength 1
  EXPECT_FALSE(continues(person, R"({"age": 1.5)"));
  EXPECT_FALSE(continues(person, R"({"tags": ["a", "b", "c", "d")"));  // maxItems 3
  EXPECT_FALSE(continues(person, R"({"role": "root")"));
  EXPECT_FALSE(continues(person, R"({"role": 70)"));
  EXPECT_FALSE(continues(person, R"({"address": {"zip": "1234"})"));
  // Every property used: no comma may follow.
  EXPECT_FALSE(continues(person, R"({"name":"C","age":1,"address":{"zip":"00000"},"email":null,"tags":[],"role":null,"score":1,)"));

  const JsonSchema extras = JsonSchema::compile(kExtras);
  EXPECT_TRUE(accepts(extras, R"({"id": 1, "note": "hi", "flags": [true], "i": "x", "idx": ""})"));
  EXPECT_FALSE(continues(extras, R"({"note": "hello")"));      // extra values: maxLength 4
  EXPECT_FALSE(continues(extras, R"({"id": 1, "id": )"));
  EXPECT_FALSE(continues(extras, R"({"flags": [])"));          // minItems 1
  EXPECT_FALSE(continues(extras, R"({"i\u0064": )"));          // no escapes in extra keys
}

TEST(JsonMatcher, EnumConstAnyOfRef) {
  const JsonSchema numbers = JsonSchema::compile(json::parse(R"({"enum": [1, 12, "a\"b", {"k": [true]}]})"));
  for (const char* ok : {"1", "12", R"("a\"b")", R"({"k":[true]})"}) EXPECT_TRUE(accepts(numbers, ok)) << ok;
  for (const char* bad : {"2", "123", R"("a")", R"({"k": [true]})"}) EXPECT_FALSE(accepts(numbers, bad)) << bad;

  const JsonSchema shape = JsonSchema::compile(kShape);
  EXPECT_TRUE(accepts(shape, R"({"kind": "circle", "radius": 1.5})"));
  EXPECT_TRUE(accepts(shape, R"({"side": 2, "kind": "square"})"));
  EXPECT_FALSE(continues(shape, R"({"kind": "circle", "side")"));
  EXPECT_FALSE(continues(shape, R"({"side": 2.5)"));
  EXPECT_TRUE(continues(shape, R"({"kind": ")"));

  const JsonSchema tree = JsonSchema::compile(kTree);
  EXPECT_TRUE(accepts(tree, R"({"value": 1, "children": [{"value": 2, "children": [{"value": 3}]}, {"value": 4}]})"));
  EXPECT_FALSE(continues(tree, R"({"value": 1, "children": [{"children": []}])"));
  EXPECT_FALSE(continues(tree, R"({"value": 1, "children": [{"value": 1}, {"value": 2}, )"));

  const JsonSchema chain = JsonSchema::compile(json::parse(R"({"type": "object", "properties": {"next": {"$ref": "#"}}})"));
  EXPECT_TRUE(accepts(chain, R"({"next": {"next": {}}})"));
  EXPECT_FALSE(continues(chain, R"({"next": {"prev")"));

  const JsonSchema nullable = JsonSchema::compile(json::parse(R"({"type": ["string", "null"], "maxLength": 2})"));
  EXPECT_TRUE(accepts(nullable, "null"));
  EXPECT_TRUE(accepts(nullable, R"("ab")"));
  EXPECT_FALSE(accepts(nullable, R"("abc")"));
  EXPECT_FALSE(accepts(nullable, "1"));
}

TEST(JsonMatcher, NestingIsBounded) {
  const JsonSchema any = JsonSchema::any_object();
  EXPECT_TRUE(continues(any, "{\"a\": " + std::string(50, '[')));
  EXPECT_FALSE(continues(any, "{\"a\": " + std::string(100, '[')));
}

TEST(JsonMatcher, WhitespaceIsBounded) {
  const JsonSchema any = JsonSchema::any_object();
  EXPECT_TRUE(accepts(any, "{\n\n  \"a\" : 1 }"));
  EXPECT_FALSE(continues(any, "{\n\n\n"));
  EXPECT_FALSE(continues(any, "{" + std::string(33, ' ')));
  EXPECT_TRUE(continues(any, "{" + std::string(32, ' ') + "\"a\":" + std::string(32, ' ')));
  EXPECT_TRUE(accepts(any, "{}  \n"));
  EXPECT_FALSE(continues(any, "{}" + std::string(33, ' ')));
  EXPECT_TRUE(accepts(any, R"({"a": "   \n    is content, not layout"})"));
}

// ---- tokens ----

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

std::vector<int32_t> allowed_tokens(const TokenConstraint& constraint, const JsonMatcher& state, size_t vocab) {
  std::vector<float> logits(vocab, 0.0f);
  constraint.mask(state, logits);
  std::vector<int32_t> allowed;
  for (size_t i = 0; i < vocab; ++i)
    if (logits[i] != kNegInf) allowed.push_back(static_cast<int32_t>(i));
  return allowed;
}

// Every single byte, plus chunks a real vocabulary has.
std::vector<std::string> synthetic_vocabulary() {
  std::vector<std::string> vocab;
  for (int b = 0; b < 256; ++b) vocab.emplace_back(1, static_cast<char>(b));
  for (const char* piece :
       {"{\"", "\":", "\": ", "\",", "\", \"", "}", "},", "}]", "]}", "true", "false", "null", "nu", "ll", "12", "0.5", "e-3",
        "\\u00", "\\n", "\\\"", "name", "age", "address", "zip", "street", "kind", "circle", "square", "radius", "side",
        "value", "children", "\n  ", "  ", " \"", "\xC3\xA9", "\xE4\xBD", "\xA0", "\xF0\x9F\x98\x80", "abc", "hello world"})
    vocab.emplace_back(piece);
  vocab.emplace_back("");       // a special token: never allowed
  vocab.emplace_back("<eos>");  // end of sequence
  return vocab;
}

TEST(TokenConstraint, MasksTokensAndEndOfSequence) {
  const std::vector<std::string> vocab = synthetic_vocabulary();
  const auto eos = static_cast<int32_t>(vocab.size() - 1);
  const TokenConstraint constraint(vocab, {eos});
  const JsonSchema any = JsonSchema::any_object();
  auto id_of = [&](const std::string& piece) {
    return static_cast<int32_t>(std::find(vocab.begin(), vocab.end(), piece) - vocab.begin());
  };

  JsonMatcher state = any.start();
  std::vector<int32_t> allowed = allowed_tokens(constraint, state, vocab.size() + 5);
  EXPECT_TRUE(std::find(allowed.begin(), allowed.end(), id_of("{")) != allowed.end());
  EXPECT_TRUE(std::find(allowed.begin(), allowed.end(), id_of("{\"")) != allowed.end());
  EXPECT_TRUE(std::find(allowed.begin(), allowed.end(), id_of(" ")) != allowed.end());
  EXPECT_TRUE(std::find(allowed.begin(), allowed.end(), eos) == allowed.end());
  EXPECT_TRUE(std::find(allowed.begin(), allowed.end(), id_of("true")) == allowed.end());
  EXPECT_TRUE(std::find(allowed.begin(), allowed.end(), static_cast<int32_t>(vocab.size() - 2)) == allowed.end());
  EXPECT_LT(allowed.back(), static_cast<int32_t>(vocab.size()));  // beyond the vocabulary: never

  for (const char* piece : {"{\"", "a", "\":", "true", "}"}) state = constraint.accept(state, id_of(piece));
  EXPECT_TRUE(state.complete());
  allowed = allowed_tokens(constraint, state, vocab.size());
  EXPECT_TRUE(std::find(allowed.begin(), allowed.end(), eos) != allowed.end());
  for (int32_t id : allowed) EXPECT_TRUE(id == eos || vocab[static_cast<size_t>(id)].find_first_not_of(" \t\r\n") == std::string::npos) << vocab[static_cast<size_t>(id)];
  EXPECT_THROW(constraint.accept(state, id_of("}")), Error);
  EXPECT_NO_THROW(constraint.accept(state, eos));
}

// Walks the masked vocabulary at random until end-of-sequence. Past `patience` tokens it steers
// towards an end (a lone '"', else a lone '}' or ']', else nothing that opens or continues a
// container), so walks finish; the result must parse and satisfy the schema.
std::string random_walk(const TokenConstraint& constraint, const std::vector<std::string>& vocab, size_t vocab_size,
                        const JsonSchema& schema, std::mt19937& rng, size_t patience, size_t& tokens) {
  JsonMatcher state = schema.start();
  std::string text;
  std::vector<float> logits(vocab_size);
  for (tokens = 0; tokens < 4000; ++tokens) {
    std::fill(logits.begin(), logits.end(), 0.0f);
    constraint.mask(state, logits);
    std::vector<int32_t> allowed, calm;
    int32_t closer = -1;
    bool eos_allowed = false;
    for (size_t i = 0; i < vocab_size; ++i) {
      if (logits[i] == kNegInf) continue;
      const auto id = static_cast<int32_t>(i);
      if (constraint.is_eos(id)) {
        eos_allowed = true;
        continue;
      }
      allowed.push_back(id);
      // a quote ends a string (or opens one that the next quote ends); then close containers
      if (vocab[i] == "\"" || ((vocab[i] == "}" || vocab[i] == "]") && (closer < 0 || vocab[closer] != "\""))) closer = id;
      if (vocab[i].find_first_of("{[,") == std::string::npos) calm.push_back(id);
    }
    if (eos_allowed && (allowed.empty() || tokens > patience / 4 || rng() % 4 == 0)) {
      EXPECT_TRUE(state.complete()) << text.substr(0, 300);
      return text;
    }
    if (allowed.empty()) {
      ADD_FAILURE() << "dead end after: " << text.substr(0, 300);
      return text;
    }
    int32_t pick = allowed[rng() % allowed.size()];
    if (tokens > patience) pick = closer >= 0 ? closer : calm.empty() ? pick : calm[rng() % calm.size()];
    state = constraint.accept(state, pick);
    text += vocab[static_cast<size_t>(pick)];
  }
  ADD_FAILURE() << "no end after 4000 tokens: " << text.substr(0, 300);
  return text;
}

// kExtras without its required key: a walk that closes keys as soon as it can would never spell
// "id" among the extra keys it may invent.
json extras_for_walks() {
  json schema = kExtras;
  schema.erase("required");
  return schema;
}

void check_walks(const TokenConstraint& constraint, const std::vector<std::string>& vocab, size_t vocab_size,
                 const json& schema_json, int walks, uint32_t seed) {
  const JsonSchema schema = schema_json.is_null() ? JsonSchema::any_object() : JsonSchema::compile(schema_json);
  const json validating = schema_json.is_null() ? json{{"type", "object"}} : schema_json;
  std::mt19937 rng(seed);
  for (int w = 0; w < walks; ++w) {
    size_t tokens = 0;
    const std::string text = random_walk(constraint, vocab, vocab_size, schema, rng, 60, tokens);
    json value;
    try {
      value = json::parse(text);
    } catch (const json::exception& e) {
      ADD_FAILURE() << "does not parse (" << std::string(e.what()).substr(0, 160) << "): " << text.substr(0, 300) << " ... " << json(text.substr(text.size() > 300 ? text.size() - 300 : 0)).dump();
      continue;
    }
    EXPECT_TRUE(valid(value, validating, validating)) << text.substr(0, 300);
  }
}

TEST(TokenConstraint, RandomWalksOnSyntheticVocabularyValidate) {
  const std::vector<std::string> vocab = synthetic_vocabulary();
  const TokenConstraint constraint(vocab, {static_cast<int32_t>(vocab.size() - 1)});
  uint32_t seed = 1;
  for (const json& schema : {json(), kPerson, kTree, kShape, extras_for_walks(), json::parse(R"({"type": ["integer", "null"]})")})
    check_walks(constraint, vocab, vocab.size(), schema, 40, seed++);
}

// ---- the real Qwen3 vocabulary ----

struct RealVocabulary {
  std::vector<std::string> bytes;
  std::vector<int32_t> eos;
};

RealVocabulary real_vocabulary(const std::string& name, const std::vector<std::string>& eos_tokens) {
  const tokenizer::Tokenizer& tok = tokenizer::test::real_tokenizer(name, true);
  RealVocabulary v;
  for (size_t id = 0; id < tok.vocab_size(); ++id) {
    const auto i = static_cast<int32_t>(id);
    v.bytes.push_back(tok.is_special(i) ? "" : tok.token_bytes(i));
  }
  for (const std::string& eos : eos_tokens) v.eos.push_back(*tok.token_to_id(eos));
  return v;
}

const RealVocabulary& qwen3_vocabulary() {
  static const RealVocabulary vocabulary = real_vocabulary("qwen3", {"<|im_end|>", "<|endoftext|>"});
  return vocabulary;
}

TEST(TokenBytes, ByteLevelAndByteFallback) {
  const tokenizer::Tokenizer& qwen = tokenizer::test::real_tokenizer("qwen3", true);
  EXPECT_EQ(qwen.token_bytes(*qwen.token_to_id("\xC4\xA0")), " ");       // Ġ
  EXPECT_EQ(qwen.token_bytes(*qwen.token_to_id("\xC4\x8A")), "\n");      // Ċ
  EXPECT_EQ(qwen.token_bytes(*qwen.token_to_id("<|im_end|>")), "<|im_end|>");
  const std::string text = "{\"caf\xC3\xA9\": [1, 2.5e-3], \"\xE4\xBD\xA0\xE5\xA5\xBD\": \"\xF0\x9F\x98\x80\"}\n  ";
  std::string joined;
  for (int32_t id : qwen.encode(text, false)) joined += qwen.token_bytes(id);
  EXPECT_EQ(joined, text);

  const tokenizer::Tokenizer& llama = tokenizer::test::real_tokenizer("llama2", true);
  EXPECT_EQ(llama.token_bytes(*llama.token_to_id("<0x41>")), "A");
  EXPECT_EQ(llama.token_bytes(*llama.token_to_id("<0xE4>")), "\xE4");
  EXPECT_EQ(llama.token_bytes(*llama.token_to_id("\xE2\x96\x81the")), " the");
  joined.clear();
  for (int32_t id : llama.encode(text, false)) joined += llama.token_bytes(id);
  EXPECT_EQ(joined, " " + text);  // SentencePiece's prefix space, which decode() strips
}

TEST(TokenConstraint, RandomWalksOnQwen3Validate) {
  const RealVocabulary& v = qwen3_vocabulary();
  const TokenConstraint constraint(v.bytes, v.eos);
  uint32_t seed = 100;
  for (const json& schema : {json(), kPerson, kTree, kShape, extras_for_walks()}) check_walks(constraint, v.bytes, v.bytes.size(), schema, 3, seed++);
}

// SentencePiece with byte fallback: "▁" pieces and <0xNN> bytes.
TEST(TokenConstraint, RandomWalksOnLlama2Validate) {
  const RealVocabulary v = real_vocabulary("llama2", {"</s>"});
  const TokenConstraint constraint(v.bytes, v.eos);
  uint32_t seed = 200;
  for (const json& schema : {json(), kPerson, kShape}) check_walks(constraint, v.bytes, v.bytes.size(), schema, 3, seed++);
}

TEST(TokenConstraint, MaskTimeOnQwen3) {
  const RealVocabulary& v = qwen3_vocabulary();
  const auto build_start = std::chrono::steady_clock::now();
  const TokenConstraint constraint(v.bytes, v.eos);
  const double build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - build_start).count();
  std::printf("[ timing   ] TokenConstraint over %zu tokens built in %.1f ms\n", v.bytes.size(), build_ms);
  std::vector<float> logits(151936);  // Qwen3's padded output size
  struct Case {
    const char* what;
    json schema;
    std::string prefix;
  };
  const Case cases[] = {
      {"start of a document", json(), ""},
      {"inside a string value", json(), R"({"note": "The quick brown )"},
      {"inside a string, mid-character", json(), "{\"note\": \"\xE4\xBD"},
      {"inside a key (any object)", json(), R"({"no)"},
      {"after a value", kPerson, R"({"name": "Ann")"},
      {"inside a declared key", kPerson, R"({"name": "Ann", ")"},
      {"inside a number", kPerson, R"({"age": 4)"},
      {"inside a bounded string", kPerson, R"({"name": "An)"},
  };
  for (const Case& c : cases) {
    const JsonSchema schema = c.schema.is_null() ? JsonSchema::any_object() : JsonSchema::compile(c.schema);
    JsonMatcher state = schema.start();
    ASSERT_TRUE(state.advance(c.prefix)) << c.prefix;
    constexpr int kRuns = 20;
    size_t allowed = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int run = 0; run < kRuns; ++run) {
      std::fill(logits.begin(), logits.end(), 0.0f);
      constraint.mask(state, logits);
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / kRuns;
    allowed = static_cast<size_t>(std::count_if(logits.begin(), logits.end(), [](float x) { return x != kNegInf; }));
    std::printf("[ timing   ] mask %-32s %7.3f ms/token (%zu tokens allowed)\n", c.what, ms, allowed);
  }
  // Along whole documents: the walks' masks, mean and worst.
  std::mt19937 rng(7);
  for (const json& schema_json : {json(), kPerson}) {
    const JsonSchema schema = schema_json.is_null() ? JsonSchema::any_object() : JsonSchema::compile(schema_json);
    JsonMatcher state = schema.start();
    double total = 0, worst = 0;
    int masks = 0;
    for (; masks < 300; ++masks) {
      std::fill(logits.begin(), logits.end(), 0.0f);
      const auto start = std::chrono::steady_clock::now();
      constraint.mask(state, logits);
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      total += ms;
      worst = std::max(worst, ms);
      std::vector<int32_t> allowed;
      for (size_t i = 0; i < v.bytes.size(); ++i)
        if (logits[i] != kNegInf) allowed.push_back(static_cast<int32_t>(i));
      const int32_t pick = allowed[rng() % allowed.size()];
      if (constraint.is_eos(pick)) break;
      state = constraint.accept(state, pick);
    }
    std::printf("[ timing   ] mask along a %s walk: %.3f ms/token mean, %.3f worst, %d masks\n",
                schema_json.is_null() ? "json_object" : "schema", total / std::max(masks, 1), worst, masks);
  }
}

}  // namespace
}  // namespace salut::engine
