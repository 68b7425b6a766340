#pragma once
// The sampling a model's authors recommend, from its generation_config.json: what transformers
// uses when a request names nothing. Without one (or with do_sample false) it is mlx-lm's
// default, greedy.

#include <filesystem>

#include "engine/sampler.h"

namespace salut::engine {

// temperature, top_p, top_k, min_p and repetition_penalty when generation_config.json sets them
// and samples; fields it does not set keep SamplingParams' defaults. A missing or unreadable file
// is not an error (many models have none).
SamplingParams sampling_defaults(const std::filesystem::path& model_folder);

}  // namespace salut::engine
