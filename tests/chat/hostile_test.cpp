// Bad and hostile templates: each must fail with a clear salut::Error, quickly, never crash or hang.

#include <gtest/gtest.h>

#include <chrono>

#include "chat/jinja/template.h"
#include "core/error.h"

namespace salut::jinja {
namespace {

using json = nlohmann::ordered_json;

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// Parses and renders; returns the error message ("" when it rendered).
std::string failure_of(const std::string& source, const json& context = json::object()) {
  auto start = std::chrono::steady_clock::now();
  std::string error;
  try {
    Template::parse(source).render(context);
  } catch (const Error& e) {
    error = e.what();
  }
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 5.0) << source.substr(0, 80);
  return error;
}

TEST(Hostile, SyntaxErrorsNameTheLine) {
  EXPECT_EQ(failure_of("line 1\n{% if x %}\nno end"), "syntax error at line 3: unexpected end of template, expected 'elif' or 'else' or 'endif'");
  EXPECT_EQ(failure_of("{{ x|no_such_filter }}"), "syntax error at line 1: No filter named 'no_such_filter'.");
  EXPECT_EQ(failure_of("a\n\n{{ x is no_such_test }}"), "syntax error at line 3: No test named 'no_such_test'.");
  EXPECT_EQ(failure_of("{% include 'x' %}"), "syntax error at line 1: 'include' tags are not supported in chat templates");
  EXPECT_NE(failure_of("{{ 'unterminated }}"), "");
  EXPECT_NE(failure_of("{{ 1 +* 2 }}"), "");
  EXPECT_NE(failure_of("{% for %}"), "");
  EXPECT_NE(failure_of("{{ 99999999999999999999999 }}"), "");
  EXPECT_NE(failure_of("{{ '\\N{BULLET}' }}"), "");
}

TEST(Hostile, DeepNestingIsRefusedAtParse) {
  EXPECT_NE(failure_of("{{ " + repeat("(", 5000) + "1" + repeat(")", 5000) + " }}"), "");
  EXPECT_NE(failure_of("{{ " + repeat("[", 5000) + repeat("]", 5000) + " }}"), "");
  EXPECT_NE(failure_of("{{ " + repeat("not ", 5000) + "1 }}"), "");
  EXPECT_NE(failure_of("{{ " + repeat("-", 5000) + "1 }}"), "");
  EXPECT_NE(failure_of("{{ 1" + repeat(" + 1", 20000) + " }}"), "");
  EXPECT_NE(failure_of("{{ x" + repeat("|trim", 20000) + " }}"), "");
  EXPECT_NE(failure_of("{{ x" + repeat(".a", 20000) + " }}"), "");
  EXPECT_NE(failure_of("{{ 1 if 1 else" + repeat(" 1 if 1 else", 5000) + " 2 }}"), "");
  EXPECT_NE(failure_of(repeat("{% if true %}", 5000) + repeat("{% endif %}", 5000)), "");
  EXPECT_NE(failure_of(repeat("{% for x in [1] %}", 5000) + repeat("{% endfor %}", 5000)), "");
}

TEST(Hostile, RunawayLoopsStop) {
  EXPECT_NE(failure_of("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"), "");
  EXPECT_NE(failure_of("{{ range(100001)|list }}"), "");
}

TEST(Hostile, RunawayRecursionStops) {
  EXPECT_NE(failure_of("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"), "");
  EXPECT_NE(failure_of("{% macro f(n) %}{{ f(n + 1) ~ f(n + 1) }}{% endmacro %}{{ f(0) }}"), "");
  EXPECT_NE(failure_of("{% macro f() %}{% call f() %}x{% endcall %}{% endmacro %}{{ f() }}"), "");
}

TEST(Hostile, HugeValuesAreRefused) {
  EXPECT_NE(failure_of("{{ 'x' * 1000000000000 }}"), "");
  EXPECT_NE(failure_of("{{ [1] * 1000000000000 }}"), "");
  EXPECT_NE(failure_of("{% set ns = namespace(s='ab') %}{% for i in range(100) %}{% set ns.s = ns.s + ns.s %}{% endfor %}"), "");
  EXPECT_NE(failure_of("{% set ns = namespace(s=[1]) %}{% for i in range(100) %}{% set ns.s = ns.s + ns.s %}{% endfor %}"), "");
  EXPECT_NE(failure_of("{% for i in range(100000) %}{{ 'x' * 100000 }}{% endfor %}"), "");
  EXPECT_NE(failure_of("{{ 'x'|indent(100000000000) }}"), "");
  EXPECT_NE(failure_of("{{ 'x'.center(1000000000) }}"), "");
  EXPECT_NE(failure_of("{{ '%2000000000d' % 1 }}"), "");  // format widths are bounded
  EXPECT_NE(failure_of("{{ 2 ** 64 }}"), "");  // Python big ints: refused, not wrapped
  EXPECT_NE(failure_of("{{ ['x' * 1000000] * 1000 }}"), "");  // the list shares one string; its repr would not
  EXPECT_NE(failure_of("{{ ([['x' * 100000] * 100] * 100)|tojson(indent=1000) }}"), "");
  EXPECT_NE(failure_of("{% for c in 'x' * 5000000 %}{% endfor %}"), "");
  EXPECT_EQ(failure_of("{{ [1, 2, 3][1::9223372036854775807] }}{{ [1, 2][::-9223372036854775807] }}"), "");
  EXPECT_NE(failure_of("{{ range(10, 0, -9223372036854775807)[::-1] }}"), "");  // Python: a big-int range
  EXPECT_NE(failure_of("{{ -9223372036854775807 - 2 }}"), "");
}

TEST(Hostile, DeepValuesAreRefused) {
  EXPECT_NE(failure_of("{% set ns = namespace(x=[]) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}"), "");
  json deep = json::array();
  for (int i = 0; i < 2000; ++i) deep = json::array({deep});
  EXPECT_NE(failure_of("{{ d }}", json{{"d", deep}}), "");
}

TEST(Hostile, CyclesDoNotHangOrLeak) {
  EXPECT_NE(failure_of("{% set ns = namespace() %}{% set ns.self = ns %}{{ ns }}"), "");
  EXPECT_NE(failure_of("{% set ns = namespace() %}{% set ns.self = [ns] %}{{ ns|tojson }}"), "");
  EXPECT_EQ(failure_of("{% set a = namespace() %}{% set b = namespace(a=a) %}{% set a.b = b %}ok"), "");
}

TEST(Hostile, InvalidUtf8PassesThrough) {
  std::string bad = "\xff\xfe{{ x }}\xc3";
  EXPECT_EQ(Template::parse(bad).render(json{{"x", 1}}), "\xff\xfe" "1\xc3");
  EXPECT_EQ(failure_of("{{ '\xe2\x82'|upper }}{{ '\xe2\x82'[::-1] }}{{ '\xf0'|length }}{{ '\xc3'.strip() }}"), "");
}

}  // namespace
}  // namespace salut::jinja
