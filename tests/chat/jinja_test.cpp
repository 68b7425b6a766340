// The Jinja interpreter against jinja2 itself: every snippet in tests/data/chat/jinja_goldens.json.gz
// (made by make_jinja_goldens.py with transformers' environment) must render byte for byte, or
// fail where jinja2 fails; raise_exception must fail with exactly the template's message.

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

#include "chat/jinja/error.h"
#include "chat/jinja/template.h"
#include "test_data.h"

namespace salut::jinja {
namespace {

using json = nlohmann::ordered_json;

struct Goldens {
  json doc;
  RenderOptions options;
};

const Goldens& goldens() {
  static const Goldens g = [] {
    setenv("TZ", "UTC", 1);
    tzset();
    Goldens g{chat::testing::read_json_gz(chat::testing::data_dir() / "chat" / "jinja_goldens.json.gz"), {}};
    auto micros = static_cast<int64_t>(g.doc["now"].get<double>() * 1e6 + 0.5);
    g.options.now = std::chrono::system_clock::time_point(std::chrono::microseconds(micros));
    return g;
  }();
  return g;
}

TEST(JinjaGoldens, EverySnippetMatchesJinja2) {
  const Goldens& g = goldens();
  int passed = 0, failed = 0, same_error_text = 0, errors = 0;
  for (const json& c : g.doc["cases"]) {
    const std::string& source = c["template"].get_ref<const std::string&>();
    json context = g.doc["data"];
    for (const auto& [k, v] : c["context"].items()) context[k] = v;
    std::string output, error;
    bool raised_by_template = false;
    try {
      output = Template::parse(source).render(context, g.options);
    } catch (const RaisedError& e) {
      error = e.what();
      raised_by_template = true;
    } catch (const Error& e) {
      error = e.what();
    } catch (const std::exception& e) {  // anything else is a bug in the interpreter
      ADD_FAILURE() << "template: " << source << "\nunexpected exception: " << e.what();
      ++failed;
      continue;
    }
    bool ok;
    if (c.contains("output")) {
      ok = error.empty() && output == c["output"].get<std::string>();
      EXPECT_TRUE(ok) << "template: " << source << "\nexpected: " << c["output"].get<std::string>()
                      << "\n     got: " << (error.empty() ? output : "error: " + error);
    } else {
      ++errors;
      const std::string& type = c["error"]["type"].get_ref<const std::string&>();
      const std::string& message = c["error"]["message"].get_ref<const std::string&>();
      ok = !error.empty();
      if (type == "TemplateError") ok = ok && raised_by_template && error == message;  // raise_exception
      if (error == message) ++same_error_text;
      EXPECT_TRUE(ok) << "template: " << source << "\nexpected " << type << ": " << message
                      << "\n     got: " << (error.empty() ? "output: " + output : error);
    }
    (ok ? passed : failed)++;
  }
  std::printf("jinja goldens: %d passed, %d failed; %d of %d errors with jinja2's exact message\n", passed, failed,
              same_error_text, errors);
}

TEST(Jinja, ParsesOnceRendersManyTimes) {
  Template t = Template::parse("{% for m in messages %}{{ m }}{% endfor %}");
  EXPECT_EQ(t.render(json{{"messages", {1, 2}}}), "12");
  EXPECT_EQ(t.render(json{{"messages", {"a"}}}), "a");
}

TEST(Jinja, KeepsDictOrderOfInput) {
  json context = json::parse(R"({"d": {"z": 1, "a": 2, "m": 3}})");
  EXPECT_EQ(Template::parse("{{ d|tojson }} {% for k in d %}{{ k }}{% endfor %}").render(context),
            R"({"z": 1, "a": 2, "m": 3} zam)");
}

}  // namespace
}  // namespace salut::jinja
