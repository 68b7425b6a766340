#include "model/architecture.h"

namespace salut::model {
namespace {

const Architecture* const* all() {
  static const Architecture* const list[] = {&llama_architecture(), &mistral_architecture(), &qwen2_architecture(),
                                             &qwen3_architecture(), &phi3_architecture(), nullptr};
  return list;
}

}  // namespace

const Architecture* find_architecture(std::string_view model_type) {
  for (auto it = all(); *it != nullptr; ++it)
    if ((*it)->model_type == model_type) return *it;
  return nullptr;
}

std::vector<std::string_view> supported_model_types() {
  std::vector<std::string_view> types;
  for (auto it = all(); *it != nullptr; ++it) types.push_back((*it)->model_type);
  return types;
}

}  // namespace salut::model
