// What transformers' AutoTokenizer changes when it loads a model folder. Since transformers 5,
// model-specific tokenizer classes rebuild parts of the pipeline instead of taking tokenizer.json
// as it is. The one that changes results for real models is LlamaTokenizer (tokenizer_class
// "LlamaTokenizer" or "LlamaTokenizerFast"): it drops the normalizer and pre-tokenizes with
// Metaspace(prepend_scheme, split=false), so " a" becomes "▁a", not "▁▁a". transformers skips
// this when tokenizer.json is byte-level (Llama 3, DeepSeek V3 declare LlamaTokenizerFast too).

#include <fmt/format.h>

#include "core/error.h"
#include "tokenizer/bpe.h"
#include "tokenizer/tokenizer_parts.h"

namespace salut::tokenizer {
namespace {

bool config_bool(const Json& config, const char* key, bool fallback) {
  auto it = config.find(key);
  return it != config.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

}  // namespace

void rebuild_as_llama_tokenizer(TokenizerParts& parts, const Json& config) {
  auto* bpe = dynamic_cast<Bpe*>(parts.model.get());
  if (!bpe) return;  // LlamaTokenizer is a BPE tokenizer; leave anything else alone
  bool add_prefix_space = config_bool(config, "add_prefix_space", true);
  bool legacy = config_bool(config, "legacy", false);
  const char* prepend = !add_prefix_space ? "never" : legacy ? "always" : "first";

  parts.normalizer = nullptr;
  parts.pre_tokenizer = parse_pre_tokenizer(
      Json{{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", prepend}, {"split", false}});
  parts.decoder = make_llama_decoder(add_prefix_space);

  // LlamaTokenizer's BPE(vocab, merges, fuse_unk=True, byte_fallback=True): no unknown token.
  BpeOptions options;
  options.continuing_subword_prefix = bpe->options().continuing_subword_prefix;
  options.end_of_word_suffix = bpe->options().end_of_word_suffix;
  options.fuse_unk = true;
  options.byte_fallback = true;
  bpe->set_options(std::move(options));
}

void apply_transformers_config(TokenizerParts& parts, std::string_view tokenizer_config_json) {
  Json config;
  try {
    config = Json::parse(tokenizer_config_json);
  } catch (const Json::exception& e) {
    throw Error(Errc::invalid_argument, fmt::format("tokenizer_config.json: {}", e.what()));
  }
  if (!config.is_object()) throw Error(Errc::invalid_argument, "tokenizer_config.json: expected an object");
  auto cls = config.find("tokenizer_class");
  if (cls == config.end() || !cls->is_string()) return;
  std::string name = cls->get<std::string>();
  if (name.ends_with("Fast")) name.resize(name.size() - 4);
  if (name == "LlamaTokenizer" && !parts.mentions_byte_level) rebuild_as_llama_tokenizer(parts, config);
}

}  // namespace salut::tokenizer
