#include "cli/text_io.h"

#include <fmt/format.h>

#include <iostream>
#include <iterator>

#include "cli/commands.h"
#include "core/error.h"
#include "store/model_locator.h"

namespace salut::cli {

std::filesystem::path model_folder(const std::string& model) {
  auto downloader = make_downloader();
  return store::locate_model(store::parse_model_ref(model), *downloader, /*pull_if_missing=*/true);
}

std::string read_stdin() {
  std::ios::sync_with_stdio(false);
  return std::string(std::istreambuf_iterator<char>(std::cin), {});
}

void for_each_jsonl_line(const std::function<nlohmann::ordered_json(const nlohmann::ordered_json&)>& handle) {
  std::ios::sync_with_stdio(false);
  for (std::string line; std::getline(std::cin, line);) {
    nlohmann::ordered_json result;
    auto input = nlohmann::ordered_json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (input.is_discarded()) {
      result = {{"error", "the line is not JSON"}};
    } else {
      try {
        result = handle(input);
      } catch (const Error& e) {
        result = {{"error", e.what()}};
      }
    }
    // Invalid UTF-8 from a decode must not make the line unprintable: replace it.
    std::cout << result.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
  }
  std::cout.flush();
}

}  // namespace salut::cli
