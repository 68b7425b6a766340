// salut: serve MLX-format language models on Linux.

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.h"
#include "core/env.h"
#include "core/error.h"
#include "salut/version.h"

namespace salut::cli {

store::Registry open_registry() {
  return store::Registry(store::HfCache(store::HfCache::default_root()),
                         store::CustomModels(store::CustomModels::default_path()));
}

std::unique_ptr<store::Downloader> make_downloader() {
  store::PullOptions options;
  options.offline = env_flag("HF_HUB_OFFLINE");
  return std::make_unique<store::Downloader>(store::HfCache(store::HfCache::default_root()),
                                             store::HubClient(store::HubConfig::from_env()), options);
}

std::vector<store::ModelId> parse_ids(const std::vector<std::string>& texts) {
  std::vector<store::ModelId> ids;
  for (const auto& text : texts) ids.push_back(store::ModelId::parse(text));
  return ids;
}

}  // namespace salut::cli

int main(int argc, char** argv) {
  using namespace salut;
  CLI::App app{"salut: download MLX-format models from the Hugging Face Hub and serve them over an "
               "OpenAI-compatible API"};
  app.name("salut");
  app.set_version_flag("--version", std::string("salut ") + kVersion);
  app.require_subcommand(1);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Log debug details");
  app.parse_complete_callback([&] { spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::info); });
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S %^%l%$ %v");

  cli::add_serve_command(app);
  cli::add_pull_command(app);
  cli::add_ls_command(app);
  cli::add_rm_command(app);
  cli::add_display_name_command(app);
  cli::add_custom_command(app);
  cli::add_run_command(app);
  cli::add_bench_command(app);
  cli::add_tokenize_command(app);
  cli::add_detokenize_command(app);
  cli::add_template_command(app);

  try {
    // CLI11 would call a mistyped command a missing one; name it instead.
    if (argc > 1 && argv[1][0] != '-') {
      bool known = false;
      for (const auto* sub : app.get_subcommands({})) known = known || sub->check_name(argv[1]);
      if (!known) {
        std::fprintf(stderr, "salut: unknown command '%s' (see salut --help)\n", argv[1]);
        return 2;
      }
    }
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::fputs(app.help("", CLI::AppFormatMode::All).c_str(), stdout);
    return 0;
  } catch (const CLI::CallForVersion&) {
    std::printf("%s\n", app.version().c_str());
    return 0;
  } catch (const CLI::ParseError& e) {
    // One line, then the way to more help.
    std::fprintf(stderr, "salut: %s (see salut --help)\n", e.what());
    return 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "salut: error: %s\n", e.what());
    return e.code() == Errc::invalid_argument ? 2 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "salut: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
