#pragma once
// One function per subcommand; each registers its options and its action on the app.

#include <CLI/CLI.hpp>

#include <memory>

#include "store/downloader.h"
#include "store/registry.h"

namespace salut::cli {

void add_serve_command(CLI::App& app);
void add_pull_command(CLI::App& app);
void add_ls_command(CLI::App& app);
void add_rm_command(CLI::App& app);
void add_display_name_command(CLI::App& app);
void add_custom_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_detokenize_command(CLI::App& app);
void add_template_command(CLI::App& app);

// The registry over the HF cache and the custom list, located from the environment.
store::Registry open_registry();

// A downloader over the HF cache and the Hub, configured from the environment.
std::unique_ptr<store::Downloader> make_downloader();

// Parses every ID before any is acted on, so one bad ID stops the command before it touches
// the disk or the network.
std::vector<store::ModelId> parse_ids(const std::vector<std::string>& texts);

}  // namespace salut::cli
