#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/format.h"

namespace salut::cli {

void add_ls_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("ls", "List models: MLX models in the HF cache and custom models");
  auto json_output = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json_output, "Print JSON for machines");
  cmd->callback([json_output] {
    std::vector<store::CustomListProblem> problems;
    auto entries = open_registry().list(&problems);
    for (const auto& p : problems)
      fmt::print(stderr, "salut: warning: custom-models.txt line {}: '{}' is not a model ID ({})\n", p.line, p.text, p.reason);

    auto source = [](const store::ModelEntry& e) {
      return e.custom && e.detected ? "custom,cache" : e.custom ? "custom" : "cache";
    };
    if (*json_output) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& e : entries)
        out.push_back({{"id", e.id},
                       {"display_name", e.display_name},
                       {"size_bytes", e.size_bytes},
                       {"downloaded", e.downloaded},
                       {"custom", e.custom},
                       {"detected", e.detected},
                       {"source", source(e)},
                       {"model_type", e.model_type},
                       {"commit", e.commit},
                       {"path", e.path.string()}});
      fmt::print("{}\n", out.dump(2));
      return;
    }
    if (entries.empty()) {
      fmt::print("No models yet: `salut pull <owner/name>` downloads one, `salut custom add <owner/name>` lists one.\n");
      return;
    }
    size_t id_width = 2, name_width = 4;
    for (const auto& e : entries) {
      id_width = std::max(id_width, e.id.size());
      name_width = std::max(name_width, e.display_name.size());
    }
    fmt::print("{:<{}}  {:<{}}  {:>9}  {:<14}  {}\n", "ID", id_width, "NAME", name_width, "SIZE", "STATUS", "SOURCE");
    for (const auto& e : entries) {
      std::string status = e.downloaded ? "downloaded" : e.detected ? "incomplete" : "not downloaded";
      fmt::print("{:<{}}  {:<{}}  {:>9}  {:<14}  {}\n", e.id, id_width, e.display_name, name_width,
                 e.size_bytes > 0 ? human_bytes(e.size_bytes) : "-", status, source(e));
    }
  });
}

}  // namespace salut::cli
