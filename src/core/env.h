#pragma once
// Environment lookups and the standard per-user folders (XDG), in one place.

#include <filesystem>
#include <optional>
#include <string>

namespace salut {

// The variable's value, or nullopt when unset or empty.
std::optional<std::string> env(const char* name);

// True for "1", "true", "yes", "on" (any case), as huggingface_hub reads its boolean variables.
bool env_flag(const char* name);

std::filesystem::path home_dir();

// ${XDG_CACHE_HOME:-~/.cache}
std::filesystem::path xdg_cache_home();
// ${XDG_DATA_HOME:-~/.local/share}
std::filesystem::path xdg_data_home();

// Salut's own data directory: $SALUT_HOME, else $XDG_DATA_HOME/salut.
std::filesystem::path salut_home();

}  // namespace salut
