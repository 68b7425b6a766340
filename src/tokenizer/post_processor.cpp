#include "tokenizer/post_processor.h"

#include <fmt/format.h>

#include <map>
#include <string>

#include "core/error.h"

namespace salut::tokenizer {
namespace {

// TemplateProcessing's "single" template: special tokens around sequence $A.
class TemplateProcessing final : public PostProcessor {
 public:
  struct Piece {
    enum Kind { kSequenceA, kSequenceB, kSpecial } kind;
    std::vector<int32_t> ids;  // the special token's IDs
  };
  explicit TemplateProcessing(std::vector<Piece> single) : single_(std::move(single)) {}

  void add_special_tokens(std::vector<int32_t>& ids) const override {
    std::vector<int32_t> out;
    out.reserve(ids.size() + 8);
    for (const Piece& piece : single_) {
      if (piece.kind == Piece::kSequenceB)  // tokenizers fails here too
        throw Error(Errc::invalid_argument, "tokenizer.json: the single-sequence template uses sequence B");
      if (piece.kind == Piece::kSequenceA) out.insert(out.end(), ids.begin(), ids.end());
      else out.insert(out.end(), piece.ids.begin(), piece.ids.end());
    }
    ids = std::move(out);
  }

 private:
  std::vector<Piece> single_;
};

// RobertaProcessing and BertProcessing: [cls] sequence [sep].
class ClsSep final : public PostProcessor {
 public:
  ClsSep(int32_t cls, int32_t sep) : cls_(cls), sep_(sep) {}
  void add_special_tokens(std::vector<int32_t>& ids) const override {
    ids.insert(ids.begin(), cls_);
    ids.push_back(sep_);
  }

 private:
  int32_t cls_, sep_;
};

class NoSpecialTokens final : public PostProcessor {  // ByteLevel: only trims offsets
 public:
  void add_special_tokens(std::vector<int32_t>&) const override {}
};

class Sequence final : public PostProcessor {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PostProcessor>> steps) : steps_(std::move(steps)) {}
  void add_special_tokens(std::vector<int32_t>& ids) const override {
    for (const auto& step : steps_) step->add_special_tokens(ids);
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> steps_;
};

int32_t token_id(const Json& value, std::string_view component) {
  if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > INT32_MAX)
    config_error(component, "token IDs must be integers ≥ 0");
  return value.get<int32_t>();
}

// ["<s>", 0]
int32_t token_pair_id(const Json& config, std::string_view key, std::string_view component) {
  const Json& pair = require(config, key, component);
  if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string())
    config_error(component, fmt::format("\"{}\" must be [token, id]", key));
  return token_id(pair[1], component);
}

std::unique_ptr<PostProcessor> parse_template(const Json& config, std::string_view component) {
  std::map<std::string, std::vector<int32_t>> special_ids;
  const Json& special = require(config, "special_tokens", component);
  if (!special.is_object()) config_error(component, "\"special_tokens\" must be an object");
  for (const auto& [name, token] : special.items()) {
    const Json& ids = require(token, "ids", component);
    if (!ids.is_array()) config_error(component, "special token \"ids\" must be a list");
    std::vector<int32_t>& out = special_ids[name];
    for (const Json& id : ids) out.push_back(token_id(id, component));
  }
  const Json& single = require(config, "single", component);
  if (!single.is_array()) config_error(component, "\"single\" must be a list");
  std::vector<TemplateProcessing::Piece> pieces;
  for (const Json& piece : single) {
    if (!piece.is_object() || piece.size() != 1) config_error(component, "bad template piece");
    if (piece.contains("Sequence")) {
      std::string id = get_string(piece["Sequence"], "id", component);
      if (id != "A" && id != "B") config_error(component, "a template sequence must be A or B");
      pieces.push_back({id == "A" ? TemplateProcessing::Piece::kSequenceA : TemplateProcessing::Piece::kSequenceB, {}});
    } else if (piece.contains("SpecialToken")) {
      std::string id = get_string(piece["SpecialToken"], "id", component);
      auto it = special_ids.find(id);
      if (it == special_ids.end()) config_error(component, fmt::format("missing special token {:?}", id));
      pieces.push_back({TemplateProcessing::Piece::kSpecial, it->second});
    } else {
      config_error(component, "a template piece must be a Sequence or a SpecialToken");
    }
  }
  return std::make_unique<TemplateProcessing>(std::move(pieces));
}

}  // namespace

std::unique_ptr<PostProcessor> parse_post_processor(const Json& config) {
  if (config.is_null()) return nullptr;
  std::string type = type_of(config, "post_processor");
  std::string component = "post_processor " + type;
  if (type == "TemplateProcessing") return parse_template(config, component);
  if (type == "ByteLevel") return std::make_unique<NoSpecialTokens>();
  if (type == "RobertaProcessing" || type == "BertProcessing")
    return std::make_unique<ClsSep>(token_pair_id(config, "cls", component), token_pair_id(config, "sep", component));
  if (type == "Sequence") {
    const Json& list = require(config, "processors", component);
    if (!list.is_array()) config_error(component, "\"processors\" must be a list");
    std::vector<std::unique_ptr<PostProcessor>> steps;
    for (const Json& step : list) {
      if (auto p = parse_post_processor(step)) steps.push_back(std::move(p));
      else config_error(component, "null processor in a sequence");
    }
    return std::make_unique<Sequence>(std::move(steps));
  }
  config_error("post_processor", fmt::format("unsupported type {:?}", type));
}

}  // namespace salut::tokenizer
