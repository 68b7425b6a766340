#pragma once
// Where a model's files are on this machine: a local folder as given, or the cached snapshot
// of a Hub ID (pulled first when it is missing and the caller allows it).

#include <filesystem>

#include "store/downloader.h"
#include "store/model_id.h"

namespace salut::store {

// Throws salut::Error naming the problem: no such folder, not cached (offline), or whatever
// the download reports.
std::filesystem::path locate_model(const ModelRef& ref, Downloader& downloader, bool pull_if_missing,
                                   PullObserver* observer = nullptr);

}  // namespace salut::store
