// Real chat templates (tests/data/chat/templates, see SOURCE.md there) rendered through
// transformers' apply_chat_template path by make_template_goldens.py: every conversation must give
// the same prompt byte for byte, or fail where transformers fails (raise_exception: same message).

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>

#include "chat/chat_template.h"
#include "chat/jinja/error.h"
#include "test_data.h"

namespace salut::chat {
namespace {

using json = nlohmann::ordered_json;

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(TemplateGoldens, RealTemplatesMatchTransformers) {
  setenv("TZ", "UTC", 1);
  tzset();
  json goldens = testing::read_json_gz(testing::data_dir() / "chat" / "template_goldens.json.gz");
  jinja::RenderOptions options;
  options.now = std::chrono::system_clock::time_point(
      std::chrono::microseconds(static_cast<int64_t>(goldens["now"].get<double>() * 1e6 + 0.5)));
  int renders = 0, errors = 0, failed = 0;
  for (const json& t : goldens["templates"]) {
    std::string file = t["file"].get<std::string>();
    SCOPED_TRACE(file);
    SpecialTokens tokens;
    for (const auto& [k, v] : t["special_tokens"].items()) tokens.emplace_back(k, v.get<std::string>());
    std::string source = read_text(testing::data_dir() / "chat" / "templates" / file);
    std::optional<ChatTemplate> tmpl;
    try {
      tmpl = ChatTemplate::from_source(source, tokens);
    } catch (const Error& e) {
      ADD_FAILURE() << "cannot parse: " << e.what();
      ++failed;
      continue;
    }
    for (const json& c : t["cases"]) {
      ++renders;
      std::string prompt, error;
      bool raised_by_template = false;
      try {
        prompt = tmpl->render(c["request"], options);
      } catch (const jinja::RaisedError& e) {
        error = e.what();
        raised_by_template = true;
      } catch (const Error& e) {
        error = e.what();
      }
      bool ok;
      if (c.contains("prompt")) {
        ok = error.empty() && prompt == c["prompt"].get<std::string>();
        EXPECT_TRUE(ok) << "request: " << c["request"].dump() << "\nexpected: " << c["prompt"].get<std::string>()
                        << "\n     got: " << (error.empty() ? prompt : "error: " + error);
      } else {
        ++errors;
        const std::string& type = c["error"]["type"].get_ref<const std::string&>();
        const std::string& message = c["error"]["message"].get_ref<const std::string&>();
        ok = !error.empty() && (type != "TemplateError" || (raised_by_template && error == message));
        EXPECT_TRUE(ok) << "request: " << c["request"].dump() << "\nexpected " << type << ": " << message
                        << "\n     got: " << (error.empty() ? "prompt: " + prompt : error);
      }
      if (!ok) ++failed;
    }
  }
  std::printf("real templates: %zu templates, %d renders (%d expected errors), %d mismatches\n",
              goldens["templates"].size(), renders, errors, failed);
}

}  // namespace
}  // namespace salut::chat
