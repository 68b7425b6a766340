#include "engine/sampling_defaults.h"

#include <fstream>
#include <nlohmann/json.hpp>

namespace salut::engine {

SamplingParams sampling_defaults(const std::filesystem::path& model_folder) {
  SamplingParams params;
  params.temperature = 0.0f;  // mlx-lm's default: greedy
  std::ifstream in(model_folder / "generation_config.json");
  if (!in) return params;
  const auto config = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!config.is_object() || !config.value("do_sample", false)) return params;
  const auto number = [&](const char* key, auto& field) {
    auto it = config.find(key);
    if (it != config.end() && it->is_number()) field = static_cast<std::remove_reference_t<decltype(field)>>(it->get<double>());
  };
  params.temperature = 1.0f;  // transformers' default once do_sample is on
  number("temperature", params.temperature);
  number("top_p", params.top_p);
  number("top_k", params.top_k);
  number("min_p", params.min_p);
  number("repetition_penalty", params.repetition_penalty);
  return params;
}

}  // namespace salut::engine
