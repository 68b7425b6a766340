#include "core/env.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace salut {

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

bool env_flag(const char* name) {
  auto value = env(name);
  if (!value) return false;
  std::string v = *value;
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  return v == "1" || v == "true" || v == "yes" || v == "on";
}

std::filesystem::path home_dir() {
  if (auto home = env("HOME")) return *home;
  if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_dir != nullptr) return pw->pw_dir;
  return "/";
}

std::filesystem::path xdg_cache_home() {
  if (auto dir = env("XDG_CACHE_HOME")) return *dir;
  return home_dir() / ".cache";
}

std::filesystem::path xdg_data_home() {
  if (auto dir = env("XDG_DATA_HOME")) return *dir;
  return home_dir() / ".local" / "share";
}

std::filesystem::path salut_home() {
  if (auto dir = env("SALUT_HOME")) return *dir;
  return xdg_data_home() / "salut";
}

}  // namespace salut
