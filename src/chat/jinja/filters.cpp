// Filters (`value|name(args)`), following jinja2's filters.py, plus transformers' own `tojson`.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>

#include "chat/jinja/builtins.h"
#include "chat/jinja/error.h"
#include "chat/jinja/methods.h"
#include "chat/jinja/pyformat.h"
#include "chat/jinja/renderer.h"
#include "chat/jinja/unicode.h"

namespace salut::jinja {

namespace {

const Value kNone{None{}};

std::vector<Value> bind(const char* filter, const Args& args, std::initializer_list<Param> params) {
  return bind_args(filter, args, params);
}

// ---- attribute paths: "a.b.0" as used by map, sort, selectattr, ... ----

std::vector<Value> attribute_path(const Value& attribute) {
  std::vector<Value> parts;
  if (attribute.is_none() || attribute.is_undefined()) return parts;
  if (!attribute.is_string()) return {attribute};
  const std::string& s = attribute.as_string();
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string part = s.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits && part.size() < 19)
      parts.emplace_back(static_cast<int64_t>(std::stoll(part)));
    else
      parts.emplace_back(std::move(part));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

Value follow_path(Value item, const std::vector<Value>& path, const Value& default_value = Value()) {
  for (const Value& part : path) {
    item = get_item(item, part);
    if (!default_value.is_undefined() && !default_value.is_none() && item.is_undefined()) item = default_value;
  }
  return item;
}

// sorted(reverse=x) accepts only an int (bool included).
bool reverse_flag(const Value& v) {
  if (!v.is_bool() && !v.is_int()) fail(std::string("'") + type_name(v) + "' object cannot be interpreted as an integer");
  return v.int_value() != 0;
}

// A filter that is a generator in jinja2: the result is a one-pass iterator, and an error found
// while computing it surfaces only when the iterator is used.
template <typename Compute>
Value lazily(const char* type, Compute compute) {
  try {
    return Value::iterator(compute(), type);
  } catch (const RaisedError&) {
    throw;
  } catch (const TemplateError& e) {
    Value it = Value::iterator({}, type);
    it.as_iterator().error = e.what();
    return it;
  }
}

Value ignore_case(const Value& v) { return v.is_string() ? Value(unicode::lower(v.as_string())) : v; }

// ---- text ----

Value f_trim(Renderer&, const Value& in, const Args& args) {
  auto a = bind("trim", args, {{"chars", kNone}});
  std::string s = py_str(in);
  if (a[0].is_none()) return Value(unicode::strip(s, true, true));
  if (!a[0].is_string()) fail("strip arg must be None or str");
  return Value(unicode::strip_chars(s, a[0].as_string(), true, true));
}

Value f_upper(Renderer&, const Value& in, const Args& args) { return bind("upper", args, {}), Value(unicode::upper(py_str(in))); }
Value f_lower(Renderer&, const Value& in, const Args& args) { return bind("lower", args, {}), Value(unicode::lower(py_str(in))); }
Value f_capitalize(Renderer&, const Value& in, const Args& args) {
  return bind("capitalize", args, {}), Value(unicode::capitalize(py_str(in)));
}

// jinja2's title: capitalize each run between characters of [-\s({\[<].
Value f_title(Renderer&, const Value& in, const Args& args) {
  bind("title", args, {});
  std::string s = py_str(in), out;
  auto is_boundary = [](char32_t cp) {
    return cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || unicode::is_space(cp);
  };
  bool at_start = true;
  for (size_t pos = 0; pos < s.size();) {
    char32_t cp = unicode::next(s, pos);
    bool boundary = is_boundary(cp);
    if (boundary) {
      unicode::append(out, cp);
      at_start = true;
      continue;
    }
    unicode::append(out, at_start ? unicode::to_upper(cp) : unicode::to_lower(cp));
    at_start = false;
  }
  return Value(std::move(out));
}

Value f_replace(Renderer& r, const Value& in, const Args& args) {
  auto a = bind("replace", args, {{"old"}, {"new"}, {"count", kNone}});
  Args call;
  call.positional = {Value(py_str(a[0])), Value(py_str(a[1])), a[2].is_none() ? Value(-1) : a[2]};
  return call_method(Value(py_str(in)), "replace", call);
}

Value f_string(Renderer&, const Value& in, const Args& args) { return bind("string", args, {}), Value(py_str(in)); }

Value f_escape(Renderer&, const Value& in, const Args& args) {
  bind("escape", args, {});
  std::string out;
  for (char c : py_str(in)) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return Value(std::move(out));
}

Value f_indent(Renderer& r, const Value& in, const Args& args) {
  auto a = bind("indent", args, {{"width", Value(4)}, {"first", Value(false)}, {"blank", Value(false)}});
  // jinja2 starts with `s += "\n"`, which only a str survives
  if (in.is_undefined()) fail(undefined_error(in));
  if (in.is_plain_list()) fail("'list' object has no attribute 'splitlines'");
  if (!in.is_string()) fail(std::string("unsupported operand type(s) for +=: '") + type_name(in) + "' and 'str'");
  std::string indention;
  if (a[0].is_string()) {
    indention = a[0].as_string();
  } else {
    int64_t width = to_index(a[0], "indent");
    check_string_size(static_cast<size_t>(std::max<int64_t>(width, 0)));
    indention.assign(static_cast<size_t>(std::max<int64_t>(width, 0)), ' ');
  }
  Args none;
  Value lines_value = call_method(Value(py_str(in) + "\n"), "splitlines", none);
  const auto& lines = lines_value.as_list().items;
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i].as_string();
    if (i) out += '\n';
    if (i && (truthy(a[2]) || !line.empty())) out += indention;
    out += line;
    check_string_size(out.size());
  }
  if (truthy(a[1])) out = indention + out;
  return Value(std::move(out));
}

Value f_wordcount(Renderer&, const Value& in, const Args& args) {
  bind("wordcount", args, {});
  std::string s = py_str(in);
  int64_t words = 0;
  bool in_word = false;
  for (size_t pos = 0; pos < s.size();) {
    bool w = unicode::is_word(unicode::next(s, pos));
    if (w && !in_word) ++words;
    in_word = w;
  }
  return words;
}

Value f_center(Renderer& r, const Value& in, const Args& args) {
  auto a = bind("center", args, {{"width", Value(80)}});
  Args call;
  call.positional = {a[0]};
  return call_method(Value(py_str(in)), "center", call);
}

Value f_truncate(Renderer&, const Value& in, const Args& args) {
  auto a = bind("truncate", args, {{"length", Value(255)}, {"killwords", Value(false)}, {"end", Value("...")}, {"leeway", Value(5)}});
  int64_t limit = to_index(a[0], "truncate"), leeway = to_index(a[3], "truncate");
  std::string end = py_str(a[2]);
  int64_t end_length = static_cast<int64_t>(unicode::length(end));
  if (limit < end_length) fail("expected length >= " + std::to_string(end_length) + ", got " + std::to_string(limit));
  if (leeway < 0) fail("expected leeway >= 0, got " + std::to_string(leeway));
  if (length(in) <= limit + leeway) return in;  // jinja2 returns the input itself, not its str()
  if (!in.is_string()) fail(std::string("unsupported operand type(s) for +: '") + type_name(in) + "' and 'str'");
  Value head = get_slice(in, Value(0), Value(limit - end_length), kNone);
  if (truthy(a[1])) return Value(head.as_string() + end);
  const std::string& h = head.as_string();
  size_t space = h.rfind(' ');
  return Value((space == std::string::npos ? h : h.substr(0, space)) + end);
}

Value f_format(Renderer&, const Value& in, const Args& args) {
  if (!args.positional.empty() && !args.keyword.empty())
    fail("can't handle positional and keyword arguments at the same time");
  if (!args.keyword.empty()) {
    std::vector<std::pair<Value, Value>> entries;
    for (const auto& [k, v] : args.keyword) entries.emplace_back(Value(k), v);
    return Value(percent_format(py_str(in), Value::dict(std::move(entries))));
  }
  return Value(percent_format(py_str(in), Value::list(args.positional, true)));
}

Value f_tojson(Renderer&, const Value& in, const Args& args) {
  auto a = bind("tojson", args, {{"ensure_ascii", Value(false)}, {"indent", kNone}, {"separators", kNone}, {"sort_keys", Value(false)}});
  JsonOptions options;
  options.ensure_ascii = truthy(a[0]);
  if (a[1].is_string()) {
    options.indent = a[1].as_string();
  } else if (!a[1].is_none()) {
    int64_t n = to_index(a[1], "indent");
    options.indent = std::string(static_cast<size_t>(std::clamp<int64_t>(n, 0, 1024)), ' ');
  }
  if (options.indent) options.item_separator.resize(1);  // "," : json.dumps drops the space when indenting
  if (!a[2].is_none()) {
    if (!a[2].is_list() || a[2].as_list().items.size() != 2) fail("tojson separators must be a pair of strings");
    const auto& seps = a[2].as_list().items;
    if (!seps[0].is_string() || !seps[1].is_string()) fail("tojson separators must be a pair of strings");
    options.item_separator = seps[0].as_string();
    options.key_separator = seps[1].as_string();
  }
  options.sort_keys = truthy(a[3]);
  return Value(json_dumps(in, options));
}

// ---- numbers ----

// Python's float(str): optional whitespace, sign, digits with single underscores, or inf/nan.
std::optional<double> parse_python_float(std::string_view text) {
  std::string s(unicode::strip(text, true, true));
  std::string lower = unicode::lower(s);
  std::string_view body = lower;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) body.remove_prefix(1);
  if (body == "inf" || body == "infinity" || body == "nan") return std::strtod(lower.c_str(), nullptr);
  std::string clean;
  bool digits = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '_') {
      bool ok = i > 0 && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i - 1])) &&
                std::isdigit(static_cast<unsigned char>(s[i + 1]));
      if (!ok) return std::nullopt;
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) digits = true;
    else if (!(c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')) return std::nullopt;
    clean += c;
  }
  if (!digits) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(clean.c_str(), &end);
  if (end != clean.c_str() + clean.size()) return std::nullopt;
  return v;
}

// Python's int(str, 10).
std::optional<int64_t> parse_python_int(std::string_view text) {
  std::string s(unicode::strip(text, true, true));
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  if (i >= s.size()) return std::nullopt;
  int64_t v = 0;
  for (size_t k = i; k < s.size(); ++k) {
    char c = s[k];
    if (c == '_' && k > i && k + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[k + 1]))) continue;
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, c - '0', &v)) fail("integer too large");
  }
  return negative ? -v : v;
}

std::optional<int64_t> float_to_int(double f) {
  if (!std::isfinite(f)) return std::nullopt;
  if (std::fabs(f) >= 9.2e18) fail("integer too large");
  return static_cast<int64_t>(f);
}

Value f_int(Renderer&, const Value& in, const Args& args) {
  auto a = bind("int", args, {{"default", Value(0)}, {"base", Value(10)}});
  if (in.is_undefined()) fail(undefined_error(in));
  if (in.is_int() || in.is_bool()) return in.int_value();
  if (in.is_float())
    if (auto v = float_to_int(in.as_float())) return *v;
  if (in.is_string()) {
    if (to_index(a[1], "base") != 10) fail("int filter: only base 10 is supported");
    if (auto v = parse_python_int(in.as_string())) return *v;
    if (auto f = parse_python_float(in.as_string()))
      if (auto v = float_to_int(*f)) return *v;
  }
  return a[0];
}

Value f_float(Renderer&, const Value& in, const Args& args) {
  auto a = bind("float", args, {{"default", Value(0.0)}});
  if (in.is_undefined()) fail(undefined_error(in));
  if (in.is_number()) return in.number_value();
  if (in.is_string())
    if (auto f = parse_python_float(in.as_string())) return *f;
  return a[0];
}

Value f_abs(Renderer&, const Value& in, const Args& args) {
  bind("abs", args, {});
  if (in.is_float()) return std::fabs(in.as_float());
  if (in.is_int() || in.is_bool()) {
    if (in.int_value() == std::numeric_limits<int64_t>::min()) fail("integer result too large");
    return std::abs(in.int_value());
  }
  fail(std::string("bad operand type for abs(): '") + type_name(in) + "'");
}

double round_half_even(double x) { return std::nearbyint(x); }  // default rounding mode: ties to even

Value f_round(Renderer&, const Value& in, const Args& args) {
  auto a = bind("round", args, {{"precision", Value(0)}, {"method", Value("common")}});
  if (!a[1].is_string() || (a[1].as_string() != "common" && a[1].as_string() != "ceil" && a[1].as_string() != "floor"))
    fail("method must be common, ceil or floor");
  const std::string& method = a[1].as_string();
  int64_t precision = to_index(a[0], "round");
  if (!in.is_number()) fail(std::string("type ") + type_name(in) + " doesn't define __round__ method");
  if (method != "common") {  // math.ceil(value * 10**p) / 10**p: always a float
    double scale = std::pow(10.0, static_cast<double>(precision));
    double v = in.number_value() * scale;
    return (method == "ceil" ? std::ceil(v) : std::floor(v)) / scale;
  }
  if (!in.is_float()) {  // round(int, n) stays an int
    int64_t v = in.int_value();
    if (precision >= 0) return v;
    if (precision < -18) return int64_t{0};
    int64_t unit = 1;
    for (int64_t i = 0; i < -precision; ++i) unit *= 10;
    int64_t q = v / unit, rem = v % unit;
    if (rem < 0) rem += unit, --q;
    if (rem * 2 > unit || (rem * 2 == unit && (q % 2 != 0))) ++q;
    int64_t out = 0;
    if (__builtin_mul_overflow(q, unit, &out)) fail("integer result too large");
    return out;
  }
  double x = in.as_float();
  if (!std::isfinite(x)) return x;
  if (precision == 0) return round_half_even(x);
  if (precision > 0) {  // correctly rounded decimal, like CPython's round()
    if (precision > 330) return x;
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(precision), x);
    return std::strtod(buf, nullptr);
  }
  if (precision < -330) return 0.0 * x;
  double scale = std::pow(10.0, static_cast<double>(-precision));
  return round_half_even(x / scale) * scale;
}

// ---- sequences ----

Value f_length(Renderer&, const Value& in, const Args& args) { return bind("length", args, {}), length(in); }

Value f_list(Renderer&, const Value& in, const Args& args) { return bind("list", args, {}), Value::list(iterate(in)); }

Value f_first(Renderer&, const Value& in, const Args& args) {
  bind("first", args, {});
  if (in.is_iterator()) {  // next(iter(it)) takes just one item
    IteratorData& it = in.as_iterator();
    if (!it.error.empty()) fail(std::exchange(it.error, {}));
    if (it.position < it.items.size()) return it.items[it.position++];
    return Value::undefined("No first item, sequence was empty.");
  }
  auto items = iterate(in);
  return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}

// Python's type(reversed(v)).__name__, or nullptr when v is not reversible.
const char* reverse_iterator_type(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::undefined: return "reversed";
    case Value::Kind::dict: return "dict_reversekeyiterator";
    case Value::Kind::list:
      switch (v.shape()) {
        case Shape::list: return "list_reverseiterator";
        case Shape::tuple: return "reversed";
        case Shape::range: return "range_iterator";
        case Shape::dict_keys: return "dict_reversekeyiterator";
        case Shape::dict_values: return "dict_reversevalueiterator";
        case Shape::dict_items: return "dict_reverseitemiterator";
      }
      return nullptr;
    default: return nullptr;
  }
}

Value f_last(Renderer&, const Value& in, const Args& args) {
  bind("last", args, {});
  if (!in.is_string() && !reverse_iterator_type(in))
    fail(std::string("'") + type_name(in) + "' object is not reversible");
  auto items = iterate(in);
  return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}

Value f_reverse(Renderer&, const Value& in, const Args& args) {
  bind("reverse", args, {});
  if (in.is_string()) return get_slice(in, kNone, kNone, Value(-1));
  const char* type = reverse_iterator_type(in);
  std::vector<Value> items;
  try {
    items = iterate(in);
  } catch (const TemplateError&) {
    fail("argument must be iterable");
  }
  std::reverse(items.begin(), items.end());
  if (!type) return Value::list(std::move(items));  // jinja2 falls back to a reversed list
  return Value::iterator(std::move(items), type);
}

Value f_join(Renderer& r, const Value& in, const Args& args) {
  auto a = bind("join", args, {{"d", Value("")}, {"attribute", kNone}});
  std::string separator = py_str(a[0]);
  auto path = attribute_path(a[1]);
  std::string out;
  bool first = true;
  for (const Value& item : iterate(in)) {
    if (!first) out += separator;
    first = false;
    py_str_to(path.empty() ? item : follow_path(item, path), out);
    check_string_size(out.size());
  }
  return Value(std::move(out));
}

Value f_items(Renderer&, const Value& in, const Args& args) {
  bind("items", args, {});
  return lazily("generator", [&] {
    std::vector<Value> items;
    if (in.is_undefined()) return items;
    if (!in.is_dict()) fail("Can only get item pairs from a mapping.");
    for (const auto& [k, v] : in.as_dict().entries) items.push_back(Value::list({k, v}, true));
    return items;
  });
}

Value f_dictsort(Renderer&, const Value& in, const Args& args) {
  auto a = bind("dictsort", args, {{"case_sensitive", Value(false)}, {"by", Value("key")}, {"reverse", Value(false)}});
  size_t pos;
  if (a[1].is_string() && a[1].as_string() == "key") pos = 0;
  else if (a[1].is_string() && a[1].as_string() == "value") pos = 1;
  else fail("You can only sort by either \"key\" or \"value\"");
  if (in.is_undefined()) fail(undefined_error(in));
  if (!in.is_dict()) fail(std::string("'") + type_name(in) + "' object has no attribute 'items'");
  std::vector<Value> items;
  for (const auto& [k, v] : in.as_dict().entries) items.push_back(Value::list({k, v}, true));
  bool case_sensitive = truthy(a[0]), reverse = reverse_flag(a[2]);
  auto key = [&](const Value& item) {
    const Value& v = item.as_list().items[pos];
    return case_sensitive ? v : ignore_case(v);
  };
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    return reverse ? compare(key(y), key(x)) < 0 : compare(key(x), key(y)) < 0;
  });
  return Value::list(std::move(items));
}

Value f_sort(Renderer&, const Value& in, const Args& args) {
  auto a = bind("sort", args, {{"reverse", Value(false)}, {"case_sensitive", Value(false)}, {"attribute", kNone}});
  auto items = iterate(in);
  bool reverse = reverse_flag(a[0]), case_sensitive = truthy(a[1]);
  std::vector<std::vector<Value>> paths;  // "a,b" sorts by several attributes
  if (a[2].is_string()) {
    const std::string& s = a[2].as_string();
    size_t start = 0;
    while (true) {
      size_t comma = s.find(',', start);
      paths.push_back(attribute_path(Value(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start))));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  } else {
    paths.push_back(attribute_path(a[2]));
  }
  std::vector<std::pair<Value, Value>> keyed;  // (key, item)
  for (Value& item : items) {
    std::vector<Value> key;
    for (const auto& path : paths) {
      Value k = follow_path(item, path);
      key.push_back(case_sensitive ? k : ignore_case(k));
    }
    keyed.emplace_back(Value::list(std::move(key)), std::move(item));
  }
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return reverse ? compare(y.first, x.first) < 0 : compare(x.first, y.first) < 0;
  });
  std::vector<Value> out;
  for (auto& [k, item] : keyed) out.push_back(std::move(item));
  return Value::list(std::move(out));
}

Value f_unique(Renderer&, const Value& in, const Args& args) {
  auto a = bind("unique", args, {{"case_sensitive", Value(false)}, {"attribute", kNone}});
  return lazily("generator", [&] {
    bool case_sensitive = truthy(a[0]);
    auto path = attribute_path(a[1]);
    std::vector<Value> seen, out;
    for (const Value& item : iterate(in)) {
      Value key = follow_path(item, path);
      if (!case_sensitive) key = ignore_case(key);
      if (!is_hashable(key)) fail(std::string("unhashable type: '") + type_name(key) + "'");
      if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equal(s, key); })) continue;
      seen.push_back(key);
      out.push_back(item);
    }
    return out;
  });
}

Value min_or_max(const Value& in, const Args& args, const char* name, bool want_max) {
  auto a = bind(name, args, {{"case_sensitive", Value(false)}, {"attribute", kNone}});
  auto items = iterate(in);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  auto path = attribute_path(a[1]);
  auto key = [&](const Value& item) {
    Value k = follow_path(item, path);
    return truthy(a[0]) ? k : ignore_case(k);
  };
  size_t best = 0;
  Value best_key = key(items[0]);
  for (size_t i = 1; i < items.size(); ++i) {
    Value k = key(items[i]);
    if (want_max ? compare(k, best_key) > 0 : compare(k, best_key) < 0) best = i, best_key = k;
  }
  return items[best];
}

Value f_min(Renderer&, const Value& in, const Args& args) { return min_or_max(in, args, "min", false); }
Value f_max(Renderer&, const Value& in, const Args& args) { return min_or_max(in, args, "max", true); }

Value f_sum(Renderer& r, const Value& in, const Args& args) {
  auto a = bind("sum", args, {{"attribute", kNone}, {"start", Value(0)}});
  auto path = attribute_path(a[0]);
  Value total = a[1];
  for (const Value& item : iterate(in)) {
    Value v = follow_path(item, path);
    if (v.is_string()) fail("unsupported operand type(s) for +: 'int' and 'str'");
    total = binary_op(BinaryExpr::Op::add, total, v);
  }
  return total;
}

// jinja2's map/select/reject start with `if value:`, so a falsy input yields nothing, unchecked.
Value f_map(Renderer& r, const Value& in, const Args& args) {
  return lazily("generator", [&] {
    std::vector<Value> out;
    if (!truthy(in)) return out;
    auto items = iterate(in);
    if (args.positional.empty()) {
      Value attribute, default_value;
      for (const auto& [k, v] : args.keyword) {
        if (k == "attribute") attribute = v;
        else if (k == "default") default_value = v;
        else fail("Unexpected keyword argument '" + k + "'");
      }
      if (attribute.is_undefined()) fail("map requires a filter argument");
      auto path = attribute_path(attribute);
      for (const Value& item : items) out.push_back(follow_path(item, path, default_value));
      return out;
    }
    if (!args.positional[0].is_string()) fail("map filter name must be a string");
    Args rest{std::vector<Value>(args.positional.begin() + 1, args.positional.end()), args.keyword};
    for (const Value& item : items) out.push_back(r.apply_filter(args.positional[0].as_string(), item, rest));
    return out;
  });
}

// select / reject / selectattr / rejectattr
Value select_items(Renderer& r, const Value& in, const Args& args, bool keep_matches, bool by_attribute) {
  return lazily("generator", [&] {
    std::vector<Value> out;
    if (!truthy(in)) return out;
    auto items = iterate(in);
    size_t next = 0;
    std::vector<Value> path;
    if (by_attribute) {
      if (args.positional.empty()) fail("Missing parameter for attribute name");
      path = attribute_path(args.positional[0]);
      next = 1;
    }
    std::optional<std::string> test;
    if (args.positional.size() > next) {
      if (!args.positional[next].is_string()) fail("test name must be a string");
      test = args.positional[next].as_string();
    }
    Args test_args{std::vector<Value>(args.positional.begin() + static_cast<long>(std::min(args.positional.size(), next + 1)),
                                      args.positional.end()),
                   args.keyword};
    for (const Value& item : items) {
      Value v = by_attribute ? follow_path(item, path) : item;
      bool matches = test ? r.apply_test(*test, v, test_args) : truthy(v);
      if (matches == keep_matches) out.push_back(item);
    }
    return out;
  });
}

Value f_select(Renderer& r, const Value& in, const Args& args) { return select_items(r, in, args, true, false); }
Value f_reject(Renderer& r, const Value& in, const Args& args) { return select_items(r, in, args, false, false); }
Value f_selectattr(Renderer& r, const Value& in, const Args& args) { return select_items(r, in, args, true, true); }
Value f_rejectattr(Renderer& r, const Value& in, const Args& args) { return select_items(r, in, args, false, true); }

Value f_batch(Renderer&, const Value& in, const Args& args) {
  auto a = bind("batch", args, {{"linecount"}, {"fill_with", kNone}});
  return lazily("generator", [&] {
    int64_t size = to_index(a[0], "batch");
    std::vector<Value> out, row;
    for (const Value& item : iterate(in)) {
      if (static_cast<int64_t>(row.size()) == size) out.push_back(Value::list(std::exchange(row, {})));
      row.push_back(item);
    }
    if (!row.empty()) {
      if (!a[1].is_none())
        while (static_cast<int64_t>(row.size()) < size) row.push_back(a[1]);
      out.push_back(Value::list(std::move(row)));
    }
    return out;
  });
}

// ---- other ----

Value f_default(Renderer&, const Value& in, const Args& args) {
  auto a = bind("default", args, {{"default_value", Value("")}, {"boolean", Value(false)}});
  if (in.is_undefined() || (truthy(a[1]) && !truthy(in))) return a[0];
  return in;
}

Value f_attr(Renderer&, const Value& in, const Args& args) {
  auto a = bind("attr", args, {{"name"}});
  if (!a[0].is_string()) fail("attribute name must be a string");
  return get_python_attribute(in, a[0].as_string());
}

Value f_safe(Renderer&, const Value& in, const Args& args) { return bind("safe", args, {}), Value(py_str(in)); }

const std::unordered_map<std::string_view, FilterFn>& filter_table() {
  static const std::unordered_map<std::string_view, FilterFn> table = {
      {"abs", f_abs}, {"attr", f_attr}, {"batch", f_batch}, {"capitalize", f_capitalize}, {"center", f_center},
      {"count", f_length}, {"d", f_default}, {"default", f_default}, {"dictsort", f_dictsort}, {"e", f_escape},
      {"escape", f_escape}, {"first", f_first}, {"float", f_float}, {"forceescape", f_escape}, {"format", f_format},
      {"indent", f_indent}, {"int", f_int}, {"items", f_items}, {"join", f_join}, {"last", f_last},
      {"length", f_length}, {"list", f_list}, {"lower", f_lower}, {"map", f_map}, {"max", f_max}, {"min", f_min},
      {"reject", f_reject}, {"rejectattr", f_rejectattr}, {"replace", f_replace}, {"reverse", f_reverse},
      {"round", f_round}, {"safe", f_safe}, {"select", f_select}, {"selectattr", f_selectattr}, {"sort", f_sort},
      {"string", f_string}, {"sum", f_sum}, {"title", f_title}, {"tojson", f_tojson}, {"trim", f_trim}, {"truncate", f_truncate},
      {"unique", f_unique}, {"upper", f_upper}, {"wordcount", f_wordcount},
  };
  return table;
}

}  // namespace

FilterFn find_filter(std::string_view name) {
  const auto& table = filter_table();
  auto it = table.find(name);
  return it == table.end() ? nullptr : it->second;
}

}  // namespace salut::jinja
