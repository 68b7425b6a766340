#include <fmt/format.h>

#include "cli/commands.h"
#include "core/error.h"
#include "core/format.h"

namespace salut::cli {

void add_rm_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("rm", "Delete downloaded models from the HF cache");
  auto ids = std::make_shared<std::vector<std::string>>();
  cmd->add_option("ids", *ids, "Model IDs: owner/name (the whole repository) or owner/name@revision")->required();
  cmd->callback([ids] {
    const auto parsed = parse_ids(*ids);
    store::Registry registry = open_registry();
    for (const auto& id : parsed) {
      uint64_t freed = id.revision.empty() ? registry.cache().repo_size(id) : 0;
      bool removed = id.revision.empty() ? registry.cache().remove_repo(id)
                                         : registry.cache().remove_revision(id, &freed);
      if (!removed) throw Error(Errc::not_found, fmt::format("{} is not in the cache", id.str()));
      fmt::print("removed {} ({} freed)\n", id.str(), human_bytes(freed));
      for (const auto& custom : registry.custom().list())
        if (custom == id)
          fmt::print("{} stays in the custom list (salut custom rm {} drops it)\n", id.str(), id.str());
    }
  });
}

}  // namespace salut::cli
