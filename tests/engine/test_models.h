#pragma once
// Where the engine tests find models/: $SALUT_MODELS_DIR, else the repository's (the demo model and
// tools/make_fixtures.py's references).

#include <cstdlib>
#include <filesystem>

namespace salut::testing {

inline std::filesystem::path models_dir() {
  const char* env = std::getenv("SALUT_MODELS_DIR");
  return env ? std::filesystem::path(env) : std::filesystem::path(SALUT_MODELS_DIR);
}

}  // namespace salut::testing
