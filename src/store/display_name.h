#pragma once
// The name a person sees for a model: "mlx-community/Qwen3-8B-MLX-4bit" -> "Qwen 3 8B (4-bit)".

#include <string>
#include <string_view>

namespace salut::store {

// Accepts a model ID (owner dropped, "@revision" ignored) or a local path (its last folder).
std::string display_name(std::string_view id_or_path);

}  // namespace salut::store
