#include "server/openai_json.h"

#include <chrono>
#include <filesystem>

namespace salut::server {

using nlohmann::json;

json error_body(const std::string& message, const std::string& type, const std::string& code, const std::string& param) {
  return {{"error",
           {{"message", message},
            {"type", type},
            {"param", param.empty() ? json(nullptr) : json(param)},
            {"code", code.empty() ? json(nullptr) : json(code)}}}};
}

json model_object(const store::ModelEntry& entry) {
  int64_t created = 0;
  std::error_code ec;
  if (!entry.path.empty()) {
    auto time = std::filesystem::last_write_time(entry.path, ec);
    if (!ec) {
      auto system = std::chrono::file_clock::to_sys(time);
      created = std::chrono::duration_cast<std::chrono::seconds>(system.time_since_epoch()).count();
    }
  }
  return {{"id", entry.id},
          {"object", "model"},
          {"created", created},
          {"owned_by", "local"},
          {"display_name", entry.display_name},
          {"downloaded", entry.downloaded},
          {"loaded", false},
          {"custom", entry.custom},
          {"size_bytes", entry.size_bytes},
          {"model_type", entry.model_type.empty() ? json(nullptr) : json(entry.model_type)}};
}

}  // namespace salut::server
