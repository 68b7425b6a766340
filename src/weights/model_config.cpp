#include "weights/model_config.h"

#include <fmt/format.h>

#include <cmath>
#include <fstream>

#include "core/error.h"

namespace salut::weights {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// What mlx-lm's ModelArgs dataclasses default differently per architecture.
struct ArchDefaults {
  double rope_theta = 10000;
  bool rope_theta_required = false;
  std::optional<bool> tie_word_embeddings = true;  // nullopt: required
  std::optional<int64_t> max_position_embeddings;
  bool head_dim_from_config = true;    // qwen2, phi3: always hidden_size / heads
  bool head_dim_required = false;      // qwen3
  bool qkv_bias = false;               // qwen2: q/k/v always have biases
  bool reads_bias_flags = true;        // llama: attention_bias, mlp_bias
  bool rope_parameters = false;        // qwen3: transformers 5 nests rope settings
  bool known = true;
};

ArchDefaults defaults_for(const std::string& model_type) {
  ArchDefaults d;
  if (model_type == "llama" || model_type == "mistral") return d;
  if (model_type == "qwen2") {
    d.rope_theta = 1000000;
    d.max_position_embeddings = 32768;
    d.head_dim_from_config = false;
    d.qkv_bias = true;
    d.reads_bias_flags = false;
  } else if (model_type == "qwen3") {
    d.rope_theta_required = true;
    d.tie_word_embeddings = std::nullopt;
    d.head_dim_required = true;
    d.reads_bias_flags = false;
    d.rope_parameters = true;
  } else if (model_type == "phi3") {
    d.tie_word_embeddings = false;
    d.max_position_embeddings = 131072;
    d.head_dim_from_config = false;
    d.reads_bias_flags = false;
  } else {
    d.known = false;  // read leniently; the model registry refuses it by name
  }
  return d;
}

// transformers writes non-finite floats as {"__float__": "Infinity"}; mlx-lm undoes that.
void decode_tagged_floats(json& j) {
  if (j.is_object()) {
    if (j.size() == 1 && j.contains("__float__") && j["__float__"].is_string()) {
      const auto& tag = j["__float__"].get_ref<const std::string&>();
      if (tag == "Infinity") j = INFINITY;
      else if (tag == "-Infinity") j = -INFINITY;
      else if (tag == "NaN") j = NAN;
      if (!j.is_object()) return;
    }
    for (auto& [key, value] : j.items()) decode_tagged_floats(value);
  } else if (j.is_array()) {
    for (auto& value : j) decode_tagged_floats(value);
  }
}

class Reader {
 public:
  Reader(const json& j, const std::string& label) : j_(j), label_(label) {}

  [[noreturn]] void fail(const std::string& reason) const {
    throw Error(Errc::not_a_model, fmt::format("{}: {}", label_, reason));
  }
  const json* find(const char* key) const {
    auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }
  std::optional<int64_t> opt_int(const char* key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_number_integer()) fail(fmt::format("{} is {}, not an integer", key, v->dump()));
    return v->get<int64_t>();
  }
  std::optional<double> opt_number(const char* key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_number()) fail(fmt::format("{} is {}, not a number", key, v->dump()));
    return v->get<double>();
  }
  std::optional<bool> opt_bool(const char* key) const {
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) fail(fmt::format("{} is {}, not true or false", key, v->dump()));
    return v->get<bool>();
  }
  int64_t positive_int(const char* key, bool required) const {
    auto v = opt_int(key);
    if (!v) {
      if (required) fail(fmt::format("{} is missing", key));
      return 0;
    }
    if (*v <= 0) fail(fmt::format("{} is {}, not a positive integer", key, *v));
    return *v;
  }

 private:
  const json& j_;
  const std::string& label_;
};

std::vector<int64_t> token_ids(const json& v, const char* key, const std::string& label) {
  std::vector<int64_t> ids;
  auto add = [&](const json& id) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0)
      throw Error(Errc::not_a_model, fmt::format("{}: {} has {}, not a token ID", label, key, id.dump()));
    ids.push_back(id.get<int64_t>());
  };
  if (v.is_array()) {
    for (const auto& id : v) add(id);
  } else if (!v.is_null()) {
    add(v);
  }
  return ids;
}

// Python truthiness of generation_config's eos_token_id (mlx-lm: `if eos := gen.get(...)`).
bool truthy(const json& v) {
  if (v.is_null()) return false;
  if (v.is_array() || v.is_object() || v.is_string()) return !v.empty();
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) return v.get<double>() != 0;
  return true;
}

std::vector<float> factor_list(const json& v, const char* key, const std::string& label) {
  std::vector<float> out;
  if (v.is_number()) return {v.get<float>()};
  if (!v.is_array()) throw Error(Errc::not_a_model, fmt::format("{}: rope_scaling.{} is not a list", label, key));
  for (const auto& x : v) {
    if (!x.is_number()) throw Error(Errc::not_a_model, fmt::format("{}: rope_scaling.{} has {}", label, key, x.dump()));
    out.push_back(x.get<float>());
  }
  return out;
}

RopeScaling parse_rope_scaling(const json& s, const std::string& label) {
  const std::string where = label + ": rope_scaling";
  if (!s.is_object()) throw Error(Errc::not_a_model, fmt::format("{} is not an object", where));
  Reader r(s, where);
  RopeScaling rs;
  // mlx-lm: scaling_config.get("type") or scaling_config.get("rope_type", "default")
  const json* type = r.find("type");
  if (!type || !truthy(*type)) type = r.find("rope_type");
  if (type && !type->is_string()) r.fail(fmt::format("type is {}, not a string", type->dump()));
  rs.type = type ? type->get<std::string>() : "default";
  if (auto f = r.opt_number("factor")) rs.factor = *f;
  if (auto f = r.opt_number("low_freq_factor")) rs.low_freq_factor = *f;
  if (auto f = r.opt_number("high_freq_factor")) rs.high_freq_factor = *f;
  rs.original_max_position_embeddings = r.opt_int("original_max_position_embeddings");
  if (const json* v = r.find("long_factor")) rs.long_factor = factor_list(*v, "long_factor", label);
  if (const json* v = r.find("short_factor")) rs.short_factor = factor_list(*v, "short_factor", label);
  rs.long_mscale = r.opt_number("long_mscale");
  rs.short_mscale = r.opt_number("short_mscale");
  if (auto f = r.opt_number("beta_fast")) rs.beta_fast = *f;
  if (auto f = r.opt_number("beta_slow")) rs.beta_slow = *f;
  if (auto f = r.opt_number("mscale")) rs.mscale = *f;
  if (auto f = r.opt_number("mscale_all_dim")) rs.mscale_all_dim = *f;

  const bool needs_factor = rs.type == "linear" || rs.type == "dynamic" || rs.type == "llama3" || rs.type == "yarn";
  if (needs_factor && !r.find("factor")) r.fail(fmt::format("type {} needs a factor", rs.type));
  if (!(rs.factor > 0)) r.fail(fmt::format("factor {} is not positive", rs.factor));
  if (rs.type == "llama3" && rs.high_freq_factor == rs.low_freq_factor)
    r.fail("llama3 high_freq_factor equals low_freq_factor");
  if (rs.type == "longrope" && (rs.long_factor.empty() || rs.short_factor.empty()))
    r.fail("longrope needs long_factor and short_factor");
  return rs;
}

QuantSpec parse_override(const json& v, const std::string& module, const std::string& label) {
  const std::string where = fmt::format("{}: quantization of {}", label, module);
  Reader r(v, where);
  QuantMode mode = QuantMode::affine;  // to_quantized's default, not the global mode
  if (const json* m = r.find("mode")) {
    if (!m->is_string()) r.fail(fmt::format("mode is {}, not a string", m->dump()));
    auto parsed = parse_quant_mode(m->get<std::string>());
    if (!parsed) r.fail(fmt::format("unsupported quantization mode '{}'", m->get<std::string>()));
    mode = *parsed;
  }
  QuantSpec spec = default_spec(mode);
  if (auto g = r.opt_int("group_size")) spec.group_size = int(*g);
  if (auto b = r.opt_int("bits")) spec.bits = int(*b);
  if (auto why = unsupported_reason(spec); !why.empty()) r.fail(why);
  return spec;
}

QuantConfig parse_mlx_quantization(const json& q, const std::string& key, const std::string& label) {
  const std::string where = label + ": " + key;
  if (!q.is_object()) throw Error(Errc::not_a_model, fmt::format("{} is not an object", where));
  Reader r(q, where);
  QuantConfig qc;
  if (const json* m = r.find("mode")) {
    if (!m->is_string()) r.fail(fmt::format("mode is {}, not a string", m->dump()));
    auto parsed = parse_quant_mode(m->get<std::string>());
    if (!parsed) r.fail(fmt::format("unsupported quantization mode '{}'", m->get<std::string>()));
    qc.global.mode = *parsed;
  }
  const auto group_size = r.opt_int("group_size");
  const auto bits = r.opt_int("bits");
  if (!group_size || !bits) r.fail("group_size and bits are required");
  qc.global.group_size = int(*group_size);
  qc.global.bits = int(*bits);
  if (*group_size != qc.global.group_size || *bits != qc.global.bits) r.fail("group_size or bits out of range");
  if (auto why = unsupported_reason(qc.global); !why.empty()) r.fail(why);

  for (const auto& [module, value] : q.items()) {
    if (value.is_boolean())
      qc.overrides.emplace(module, value.get<bool>() ? std::optional<QuantSpec>(qc.global) : std::nullopt);
    else if (value.is_object())
      qc.overrides.emplace(module, parse_override(value, module, label));
  }
  return qc;
}

// The legacy quantization_config, as mlx-lm's load_model maps it.
QuantConfig parse_quantization_config(const json& qc, const std::string& label) {
  const std::string where = label + ": quantization_config";
  if (!qc.is_object()) throw Error(Errc::not_a_model, fmt::format("{} is not an object", where));
  const auto method_it = qc.find("quant_method");
  if (method_it == qc.end()) return parse_mlx_quantization(qc, "quantization_config", label);  // MLX's own copy
  const std::string method = method_it->is_string() ? method_it->get<std::string>() : method_it->dump();
  QuantConfig out;
  if (method == "mxfp4") {
    out.global = default_spec(QuantMode::mxfp4);
  } else if (method == "mxfp8") {
    out.global = default_spec(QuantMode::mxfp8);
  } else if (method == "fp8" && qc.value("scale_fmt", json()) == "ue8m0" &&
             qc.value("weight_block_size", json()) == json::array({32, 32})) {
    out.global = default_spec(QuantMode::mxfp8);
  } else {
    // awq, gptq, bitnet, compressed-tensors, modelopt, other fp8: their tensors need converting first.
    throw Error(Errc::not_a_model,
                fmt::format("{}: unsupported quantization method '{}' (convert the model with mlx_lm.convert)", where,
                            method));
  }
  return out;
}

}  // namespace

ModelConfig ModelConfig::parse(const json& config_in, const json* generation_config, const std::string& label) {
  json config = config_in;
  decode_tagged_floats(config);
  if (!config.is_object()) throw Error(Errc::not_a_model, fmt::format("{}: not a JSON object", label));
  Reader r(config, label);
  ModelConfig c;
  c.raw = config;

  const json* model_type = r.find("model_type");
  if (!model_type || !model_type->is_string() || model_type->get_ref<const std::string&>().empty())
    r.fail("model_type is missing");
  c.model_type = model_type->get<std::string>();
  const ArchDefaults d = defaults_for(c.model_type);
  const bool req = d.known;

  c.hidden_size = r.positive_int("hidden_size", req);
  c.intermediate_size = r.positive_int("intermediate_size", req);
  c.num_hidden_layers = r.positive_int("num_hidden_layers", req);
  c.num_attention_heads = r.positive_int("num_attention_heads", req);
  c.vocab_size = r.positive_int("vocab_size", req);
  c.num_key_value_heads = r.positive_int("num_key_value_heads", false);
  if (c.num_key_value_heads == 0) c.num_key_value_heads = c.num_attention_heads;
  if (c.num_attention_heads > 0) {
    if (c.num_attention_heads % c.num_key_value_heads != 0)
      r.fail(fmt::format("num_attention_heads {} is not a multiple of num_key_value_heads {}", c.num_attention_heads,
                         c.num_key_value_heads));
    const int64_t config_head_dim = r.positive_int("head_dim", d.head_dim_required);
    if (d.head_dim_from_config && config_head_dim > 0) {
      c.head_dim = config_head_dim;
    } else if (c.hidden_size > 0) {
      if (c.hidden_size % c.num_attention_heads != 0)
        r.fail(fmt::format("hidden_size {} is not a multiple of num_attention_heads {}", c.hidden_size,
                           c.num_attention_heads));
      c.head_dim = c.hidden_size / c.num_attention_heads;
    }
  }

  if (auto eps = r.opt_number("rms_norm_eps")) c.rms_norm_eps = *eps;
  else if (req) r.fail("rms_norm_eps is missing");
  if (!(c.rms_norm_eps > 0)) r.fail(fmt::format("rms_norm_eps {} is not positive", c.rms_norm_eps));

  // qwen3: transformers >= 5 nests rope_theta and rope_scaling under rope_parameters.
  const json* rope_parameters = d.rope_parameters ? r.find("rope_parameters") : nullptr;
  if (rope_parameters && !truthy(*rope_parameters)) rope_parameters = nullptr;
  auto rope_theta = r.opt_number("rope_theta");
  if (!rope_theta && rope_parameters && rope_parameters->is_object())
    rope_theta = Reader(*rope_parameters, label + ": rope_parameters").opt_number("rope_theta");
  if (!rope_theta && d.rope_theta_required) r.fail("rope_theta is missing");
  c.rope_theta = rope_theta.value_or(d.rope_theta);
  if (!(c.rope_theta > 0)) r.fail(fmt::format("rope_theta {} is not positive", c.rope_theta));
  c.rope_traditional = r.opt_bool("rope_traditional").value_or(false);

  c.max_position_embeddings = r.opt_int("max_position_embeddings");
  if (!c.max_position_embeddings) c.max_position_embeddings = d.max_position_embeddings;
  c.original_max_position_embeddings = r.opt_int("original_max_position_embeddings").value_or(4096);
  c.partial_rotary_factor = r.opt_number("partial_rotary_factor").value_or(1.0);
  if (!(c.partial_rotary_factor > 0 && c.partial_rotary_factor <= 1))
    r.fail(fmt::format("partial_rotary_factor {} is not in (0, 1]", c.partial_rotary_factor));

  const json* scaling = r.find("rope_scaling");
  if (!scaling && rope_parameters) scaling = rope_parameters;
  if (scaling) {
    c.rope_scaling = parse_rope_scaling(*scaling, label);
    if (c.model_type == "phi3") {  // models/phi3.py: "su" is longrope; other types are dropped
      if (c.rope_scaling->type == "su") c.rope_scaling->type = "longrope";
      if (c.rope_scaling->type != "longrope" && c.rope_scaling->type != "linear") c.rope_scaling.reset();
    }
  }
  if (c.rope_scaling && c.rope_scaling->type == "longrope" && c.head_dim > 0) {
    const auto rope_dims = int64_t(double(c.head_dim) * c.partial_rotary_factor);
    for (const auto* factors : {&c.rope_scaling->long_factor, &c.rope_scaling->short_factor})
      if (factors->size() != 1 && int64_t(factors->size()) != rope_dims / 2)
        r.fail(fmt::format("rope_scaling factors have {} entries, the rotary dimensions need {}", factors->size(),
                           rope_dims / 2));
  }

  if (auto tie = r.opt_bool("tie_word_embeddings")) c.tie_word_embeddings = *tie;
  else if (d.tie_word_embeddings) c.tie_word_embeddings = *d.tie_word_embeddings;
  else r.fail("tie_word_embeddings is missing");

  c.attention_bias = d.qkv_bias || (d.reads_bias_flags && r.opt_bool("attention_bias").value_or(false));
  c.mlp_bias = d.reads_bias_flags && r.opt_bool("mlp_bias").value_or(false);

  // mlx-lm: generation_config.json's eos_token_id, when truthy, replaces config.json's.
  if (const json* eos = r.find("eos_token_id")) c.eos_token_ids = token_ids(*eos, "eos_token_id", label);
  if (generation_config && generation_config->is_object()) {
    auto it = generation_config->find("eos_token_id");
    if (it != generation_config->end() && truthy(*it))
      c.eos_token_ids = token_ids(*it, "generation_config eos_token_id", label);
  }
  if (const json* bos = r.find("bos_token_id")) {
    auto ids = token_ids(*bos, "bos_token_id", label);
    if (!ids.empty()) c.bos_token_id = ids.front();
  }

  if (const json* q = r.find("quantization")) {
    c.quantization = parse_mlx_quantization(*q, "quantization", label);
  } else {
    const json* qc = r.find("quantization_config");
    if (!qc) {
      if (const json* text = r.find("text_config"); text && text->is_object()) {
        auto it = text->find("quantization_config");
        if (it != text->end() && !it->is_null()) qc = &*it;
      }
    }
    if (qc && truthy(*qc)) c.quantization = parse_quantization_config(*qc, label);
  }
  return c;
}

ModelConfig ModelConfig::load(const fs::path& folder) {
  const fs::path config_path = folder / "config.json";
  const std::string label = config_path.string();
  std::ifstream in(config_path, std::ios::binary);
  if (!in) throw Error(Errc::not_found, fmt::format("{}: cannot read", label));
  json config = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded()) throw Error(Errc::not_a_model, fmt::format("{}: not valid JSON", label));

  json generation;  // mlx-lm ignores a generation_config.json that is not valid JSON
  std::ifstream gen_in(folder / "generation_config.json", std::ios::binary);
  if (gen_in) {
    generation = json::parse(gen_in, nullptr, false);
    if (generation.is_discarded()) generation = json();
  }
  return parse(config, generation.is_object() ? &generation : nullptr, label);
}

const std::optional<QuantSpec>* ModelConfig::override_for(std::string_view module_path) const {
  if (!quantization) return nullptr;
  auto it = quantization->overrides.find(module_path);
  return it == quantization->overrides.end() ? nullptr : &it->second;
}

}  // namespace salut::weights
