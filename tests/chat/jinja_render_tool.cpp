// salut_jinja_render: renders chat templates for differential.py. argv[1] is a request JSON file;
// stdin lists template files, one per line; stdout gets one JSON line per file:
// {"file", "out"} or {"file", "raised"} (raise_exception) or {"file", "error"}.
// The clock is fixed at argv[2] (Unix seconds) and TZ=UTC, like the Python side.

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include "chat/chat_template.h"
#include "chat/jinja/error.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: salut_jinja_render REQUEST.json UNIX_SECONDS < template-list\n";
    return 2;
  }
  setenv("TZ", "UTC", 1);
  tzset();
  std::ifstream request_file(argv[1]);
  std::stringstream request_text;
  request_text << request_file.rdbuf();
  auto request = nlohmann::ordered_json::parse(request_text.str());
  salut::jinja::RenderOptions options;
  options.now = std::chrono::system_clock::time_point(std::chrono::seconds(std::atoll(argv[2])));
  std::string path;
  while (std::getline(std::cin, path)) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream source;
    source << in.rdbuf();
    nlohmann::ordered_json line = {{"file", path}};
    try {
      auto tmpl = salut::chat::ChatTemplate::from_source(source.str(), {{"bos_token", "<s>"}, {"eos_token", "</s>"}});
      line["out"] = tmpl.render(request, options);
    } catch (const salut::jinja::RaisedError& e) {
      line["raised"] = e.what();
    } catch (const salut::Error& e) {
      line["error"] = e.what();
    }
    std::cout << line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  }
}
