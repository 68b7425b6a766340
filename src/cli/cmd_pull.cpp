#include <fmt/format.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/progress.h"
#include "core/env.h"
#include "core/format.h"
#include "store/downloader.h"

namespace salut::cli {

void add_pull_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("pull", "Download models from the Hugging Face Hub into the HF cache");
  struct Args {
    std::vector<std::string> ids;
    int parallel = 8;
    bool quiet = false;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("ids", args->ids, "Model IDs: owner/name or owner/name@revision")->required();
  cmd->add_option("-j,--parallel", args->parallel, "Files downloaded at once")->check(CLI::Range(1, 64));
  cmd->add_flag("-q,--quiet", args->quiet, "No progress output");
  cmd->callback([args] {
    const auto ids = parse_ids(args->ids);

    store::PullOptions options;
    options.parallel_files = args->parallel;
    options.offline = env_flag("HF_HUB_OFFLINE");
    store::Downloader downloader(store::HfCache(store::HfCache::default_root()),
                                 store::HubClient(store::HubConfig::from_env()), options);
    for (const auto& id : ids) {
      PullProgress progress(stderr, ::isatty(STDERR_FILENO) == 1);
      store::PullResult result = downloader.pull(id, args->quiet ? nullptr : &progress);
      progress.finish();
      if (result.from_cache)
        fmt::print("{} is in the cache (commit {}): {}\n", id.str(), result.commit.substr(0, 12), result.snapshot.string());
      else
        fmt::print("pulled {} (commit {}, {} downloaded): {}\n", id.str(), result.commit.substr(0, 12),
                   human_bytes(result.bytes_downloaded), result.snapshot.string());
    }
  });
}

}  // namespace salut::cli
