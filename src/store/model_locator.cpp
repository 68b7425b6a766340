#include "store/model_locator.h"

#include <fmt/format.h>

#include "core/error.h"

namespace salut::store {

std::filesystem::path locate_model(const ModelRef& ref, Downloader& downloader, bool pull_if_missing,
                                   PullObserver* observer) {
  if (ref.is_local()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(ref.path(), ec))
      throw Error(Errc::not_found, fmt::format("no model folder at {}", ref.path().string()));
    return ref.path();
  }
  if (auto cached = downloader.cached_model(ref.id())) return *cached;
  if (!pull_if_missing)
    throw Error(Errc::not_found, fmt::format("{} is not downloaded (salut pull {})", ref.id().str(), ref.id().str()));
  return downloader.pull(ref.id(), observer).snapshot;
}

}  // namespace salut::store
