#include "model/rope.h"

#include <fmt/format.h>

#include <cmath>
#include <numbers>

#include "core/error.h"

namespace salut::model {

Rope::Rope(const weights::ModelConfig& config)
    : dims_(static_cast<int>(static_cast<double>(config.head_dim) * config.partial_rotary_factor)),
      base_(config.rope_theta),
      max_positions_(config.max_position_embeddings.value_or(0)) {
  params_.rotary_dim = dims_;
  params_.traditional = config.rope_traditional;
  const int pairs = dims_ / 2;
  const std::string type = config.rope_scaling ? config.rope_scaling->type : "default";
  const weights::RopeScaling none{};
  const weights::RopeScaling& scaling = config.rope_scaling ? *config.rope_scaling : none;

  if (type == "default") {
    set_base_frequencies(base_, 1.0);
  } else if (type == "linear") {
    set_base_frequencies(base_, 1.0 / scaling.factor);
  } else if (type == "dynamic") {
    dynamic_ = true;
    dynamic_factor_ = scaling.factor;
    set_base_frequencies(base_, 1.0);
  } else if (type == "llama3") {
    // Llama 3.1: long wavelengths slowed by `factor`, short ones kept, a smooth blend between.
    const double factor = scaling.factor, low = scaling.low_freq_factor, high = scaling.high_freq_factor;
    const double old_context = static_cast<double>(scaling.original_max_position_embeddings.value_or(8192));
    const double low_wavelen = old_context / low, high_wavelen = old_context / high;
    params_.inv_freq.resize(pairs);
    for (int i = 0; i < pairs; ++i) {
      double freq = std::pow(base_, 2.0 * i / dims_);  // a period, as mlx-lm's _freqs
      const double wavelen = 2 * std::numbers::pi * freq;
      if (wavelen > low_wavelen) freq *= factor;
      if (wavelen > high_wavelen && wavelen < low_wavelen) {
        const double smooth = (old_context / wavelen - low) / (high - low);
        freq = freq / ((1 - smooth) / factor + smooth);
      }
      params_.inv_freq[i] = static_cast<float>(1.0 / freq);
    }
  } else if (type == "longrope" || type == "su") {
    // phi3's SuScaledRoPE: mlx-lm always uses long_factor, and scales the rotated dims by
    // sqrt(1 + ln(max/original) / ln(original)) when the context was extended.
    if (static_cast<int>(scaling.long_factor.size()) != pairs)
      throw Error(Errc::not_a_model, fmt::format("rope_scaling.long_factor must list {} numbers", pairs));
    params_.inv_freq.resize(pairs);
    for (int i = 0; i < pairs; ++i)
      params_.inv_freq[i] = static_cast<float>(1.0 / (scaling.long_factor[i] * std::pow(base_, 2.0 * i / dims_)));
    const double original = static_cast<double>(config.original_max_position_embeddings);
    const double factor = static_cast<double>(max_positions_) / original;
    if (scaling.long_mscale) params_.input_scale = static_cast<float>(*scaling.long_mscale);
    else params_.input_scale = factor <= 1.0 ? 1.0f : static_cast<float>(std::sqrt(1 + std::log(factor) / std::log(original)));
  } else {
    throw Error(Errc::not_a_model, fmt::format("rope_scaling type '{}' is not supported", type));
  }
}

void Rope::set_base_frequencies(double base, double scale) {
  const int pairs = dims_ / 2;
  params_.inv_freq.resize(pairs);
  for (int i = 0; i < pairs; ++i) params_.inv_freq[i] = static_cast<float>(scale / std::pow(base, 2.0 * i / dims_));
}

const backend::RopeParams& Rope::for_positions(int64_t first, int64_t count) {
  if (dynamic_) {
    // mlx-lm's DynamicNTKScalingRoPE: the base depends on the length reached by this call.
    const double max_pos = static_cast<double>(max_positions_);
    const double length = std::max(static_cast<double>(first + count), max_pos);
    const double base = base_ * std::pow(dynamic_factor_ * length / max_pos - (dynamic_factor_ - 1), dims_ / (dims_ - 2.0));
    set_base_frequencies(base, 1.0);
  }
  return params_;
}

}  // namespace salut::model
