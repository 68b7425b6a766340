#include <fmt/format.h>

#include "cli/commands.h"
#include "store/display_name.h"

namespace salut::cli {

void add_display_name_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("display-name", "Print the display name of each model ID or local model folder");
  auto ids = std::make_shared<std::vector<std::string>>();
  cmd->add_option("ids", *ids, "Model IDs (owner/name) or paths")->required();
  cmd->callback([ids] {
    for (const auto& id : *ids) fmt::print("{}\n", store::display_name(id));
  });
}

}  // namespace salut::cli
