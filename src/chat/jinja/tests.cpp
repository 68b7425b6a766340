// Tests (`value is name(args)`), following jinja2's tests.py.

#include <unordered_map>

#include "chat/jinja/builtins.h"
#include "chat/jinja/error.h"
#include "chat/jinja/ops.h"
#include "chat/jinja/pyformat.h"
#include "chat/jinja/renderer.h"
#include "chat/jinja/unicode.h"

namespace salut::jinja {

namespace {

Value arg(const Args& args, const char* test) { return bind_args(test, args, {{"other"}})[0]; }

void no_args(const Args& args, const char* test) { bind_args(test, args, {}); }

bool t_defined(Renderer&, const Value& v, const Args& a) { return no_args(a, "defined"), !v.is_undefined(); }
bool t_undefined(Renderer&, const Value& v, const Args& a) { return no_args(a, "undefined"), v.is_undefined(); }
bool t_none(Renderer&, const Value& v, const Args& a) { return no_args(a, "none"), v.is_none(); }
bool t_boolean(Renderer&, const Value& v, const Args& a) { return no_args(a, "boolean"), v.is_bool(); }
bool t_true(Renderer&, const Value& v, const Args& a) { return no_args(a, "true"), v.is_bool() && v.as_bool(); }
bool t_false(Renderer&, const Value& v, const Args& a) { return no_args(a, "false"), v.is_bool() && !v.as_bool(); }
bool t_integer(Renderer&, const Value& v, const Args& a) { return no_args(a, "integer"), v.is_int(); }
bool t_float(Renderer&, const Value& v, const Args& a) { return no_args(a, "float"), v.is_float(); }
bool t_number(Renderer&, const Value& v, const Args& a) { return no_args(a, "number"), v.is_number(); }
bool t_string(Renderer&, const Value& v, const Args& a) { return no_args(a, "string"), v.is_string(); }
bool t_mapping(Renderer&, const Value& v, const Args& a) { return no_args(a, "mapping"), v.is_dict(); }
bool t_callable(Renderer&, const Value& v, const Args& a) {
  return no_args(a, "callable"), v.is_callable() || v.is_undefined();  // Undefined defines __call__
}
// len() and __getitem__ both work (Undefined has both; dict views have no __getitem__)
bool t_sequence(Renderer&, const Value& v, const Args& a) {
  no_args(a, "sequence");
  if (v.is_list()) return v.shape() == Shape::list || v.shape() == Shape::tuple || v.shape() == Shape::range;
  return v.is_string() || v.is_dict() || v.is_undefined();
}
bool t_iterable(Renderer&, const Value& v, const Args& a) {
  no_args(a, "iterable");
  return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined() || v.is_loop() || v.is_iterator();
}
bool t_escaped(Renderer&, const Value&, const Args& a) { return no_args(a, "escaped"), false; }

bool cased_all(const Value& v, bool upper) { return unicode::all_cased_are(py_str(v), upper); }
bool t_lower(Renderer&, const Value& v, const Args& a) { return no_args(a, "lower"), cased_all(v, false); }
bool t_upper(Renderer&, const Value& v, const Args& a) { return no_args(a, "upper"), cased_all(v, true); }

bool modulo_is(Renderer& r, const Value& v, const Value& divisor, int64_t expected) {
  return equal(binary_op(BinaryExpr::Op::mod, v, divisor), Value(expected));
}
bool t_odd(Renderer& r, const Value& v, const Args& a) { return no_args(a, "odd"), modulo_is(r, v, Value(2), 1); }
bool t_even(Renderer& r, const Value& v, const Args& a) { return no_args(a, "even"), modulo_is(r, v, Value(2), 0); }
bool t_divisibleby(Renderer& r, const Value& v, const Args& a) {
  auto bound = bind_args("divisibleby", a, {{"num"}});
  return modulo_is(r, v, bound[0], 0);
}

bool t_eq(Renderer&, const Value& v, const Args& a) { return equal(v, arg(a, "eq")); }
bool t_ne(Renderer&, const Value& v, const Args& a) { return !equal(v, arg(a, "ne")); }
bool t_lt(Renderer&, const Value& v, const Args& a) { return compare(v, arg(a, "lt")) < 0; }
bool t_le(Renderer&, const Value& v, const Args& a) { return compare(v, arg(a, "le")) <= 0; }
bool t_gt(Renderer&, const Value& v, const Args& a) { return compare(v, arg(a, "gt")) > 0; }
bool t_ge(Renderer&, const Value& v, const Args& a) { return compare(v, arg(a, "ge")) >= 0; }
bool t_in(Renderer&, const Value& v, const Args& a) {
  auto bound = bind_args("in", a, {{"seq"}});
  return contains(bound[0], v);
}

// `is sameas`: Python identity. Singletons and CPython's cached small ints are identical by value.
bool t_sameas(Renderer&, const Value& v, const Args& a) {
  const Value other = arg(a, "sameas");
  if (v.kind() != other.kind()) return false;
  switch (v.kind()) {
    case Value::Kind::none: return true;
    case Value::Kind::boolean: return v.as_bool() == other.as_bool();
    case Value::Kind::integer: return v.as_int() == other.as_int() && v.as_int() >= -5 && v.as_int() <= 256;
    case Value::Kind::string: return v.string_ptr() == other.string_ptr();
    case Value::Kind::list: return v.list_ptr() == other.list_ptr();
    default: return equal(v, other) && !v.is_undefined();
  }
}

bool t_filter(Renderer&, const Value& v, const Args& a) {
  no_args(a, "filter");
  return v.is_string() && find_filter(v.as_string()) != nullptr;
}
bool t_test(Renderer&, const Value& v, const Args& a) {
  no_args(a, "test");
  return v.is_string() && find_test(v.as_string()) != nullptr;
}

const std::unordered_map<std::string_view, TestFn>& test_table() {
  static const std::unordered_map<std::string_view, TestFn> table = {
      {"odd", t_odd}, {"even", t_even}, {"divisibleby", t_divisibleby}, {"defined", t_defined},
      {"undefined", t_undefined}, {"filter", t_filter}, {"test", t_test}, {"none", t_none},
      {"boolean", t_boolean}, {"false", t_false}, {"true", t_true}, {"integer", t_integer}, {"float", t_float},
      {"lower", t_lower}, {"upper", t_upper}, {"string", t_string}, {"mapping", t_mapping}, {"number", t_number},
      {"sequence", t_sequence}, {"iterable", t_iterable}, {"callable", t_callable}, {"sameas", t_sameas},
      {"escaped", t_escaped}, {"in", t_in}, {"==", t_eq}, {"eq", t_eq}, {"equalto", t_eq}, {"!=", t_ne},
      {"ne", t_ne}, {">", t_gt}, {"gt", t_gt}, {"greaterthan", t_gt}, {">=", t_ge}, {"ge", t_ge}, {"<", t_lt},
      {"lt", t_lt}, {"lessthan", t_lt}, {"<=", t_le}, {"le", t_le},
  };
  return table;
}

}  // namespace

TestFn find_test(std::string_view name) {
  const auto& table = test_table();
  auto it = table.find(name);
  return it == table.end() ? nullptr : it->second;
}

}  // namespace salut::jinja
