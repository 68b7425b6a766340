#include <fmt/format.h>

#include "cli/commands.h"

namespace salut::cli {

void add_custom_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("custom", "Edit the custom model list (shown beside the cached models)");
  cmd->require_subcommand(1);
  auto ids = std::make_shared<std::vector<std::string>>();

  auto* add = cmd->add_subcommand("add", "Add model IDs to the custom list");
  add->add_option("ids", *ids, "Model IDs: owner/name or owner/name@revision")->required();
  add->callback([ids] {
    const auto parsed = parse_ids(*ids);
    store::CustomModels custom(store::CustomModels::default_path());
    for (const auto& id : parsed)
      fmt::print("{} {}\n", custom.add(id) ? "added" : "already listed:", id.str());
  });

  auto* rm = cmd->add_subcommand("rm", "Remove model IDs from the custom list");
  rm->add_option("ids", *ids, "Model IDs")->required();
  rm->callback([ids] {
    const auto parsed = parse_ids(*ids);
    store::CustomModels custom(store::CustomModels::default_path());
    for (const auto& id : parsed)
      fmt::print("{} {}\n", custom.remove(id) ? "removed" : "not listed:", id.str());
  });

  auto* ls = cmd->add_subcommand("ls", "Print the custom list");
  ls->callback([] {
    store::CustomModels custom(store::CustomModels::default_path());
    std::vector<store::CustomListProblem> problems;
    for (const auto& id : custom.list(&problems)) fmt::print("{}\n", id.str());
    for (const auto& p : problems)
      fmt::print(stderr, "salut: warning: {} line {}: '{}' is not a model ID ({})\n", custom.file().string(), p.line,
                 p.text, p.reason);
  });
}

}  // namespace salut::cli
