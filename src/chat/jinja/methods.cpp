#include "chat/jinja/methods.h"

#include <algorithm>
#include <array>
#include <limits>

#include "chat/jinja/error.h"
#include "chat/jinja/pyformat.h"
#include "chat/jinja/unicode.h"

namespace salut::jinja {

namespace {

bool one_of(std::string_view name, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

const std::initializer_list<std::string_view> kStrMethods = {
    "startswith", "endswith", "split", "rsplit", "splitlines", "strip", "lstrip", "rstrip", "replace",
    "upper", "lower", "title", "capitalize", "swapcase", "casefold", "format", "find", "rfind", "index",
    "rindex", "count", "join", "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower", "isdecimal",
    "isnumeric", "istitle", "center", "ljust", "rjust", "zfill", "partition", "rpartition", "removeprefix",
    "removesuffix", "expandtabs", "encode", "format_map", "isidentifier", "isprintable", "isascii",
    "maketrans", "translate"};

class BoundMethod : public Callable {
 public:
  BoundMethod(Value receiver, std::string name) : receiver_(std::move(receiver)), name_(std::move(name)) {}
  Value call(Renderer&, const Args& args) const override {
    return call_method(receiver_, name_, args);
  }
  std::string repr() const override {
    return "<built-in method " + name_ + " of " + type_name(receiver_) + " object>";
  }

 private:
  Value receiver_;
  std::string name_;
};

const std::string& str_arg(const Value& v, const char* method) {
  if (!v.is_string()) fail(std::string(method) + "() argument must be str, not " + type_name(v));
  return v.as_string();
}

// Byte offset of code point index i (Python slice-clamped) in s.
size_t byte_offset(const std::string& s, int64_t i) {
  int64_t n = static_cast<int64_t>(unicode::length(s));
  if (i < 0) i = std::max<int64_t>(i + n, 0);
  if (i >= n) return s.size();
  size_t pos = 0;
  for (int64_t k = 0; k < i; ++k) unicode::next(s, pos);
  return pos;
}

int64_t code_point_index(const std::string& s, size_t byte) {
  return static_cast<int64_t>(unicode::length(std::string_view(s).substr(0, byte)));
}

// The [start, end) byte window of optional start/end arguments (code point indices, slice rules).
std::pair<size_t, size_t> window(const std::string& s, const std::vector<Value>& a, size_t first) {
  size_t begin = 0, end = s.size();
  if (a.size() > first && !a[first].is_none()) begin = byte_offset(s, to_index(a[first], "slice indices"));
  if (a.size() > first + 1 && !a[first + 1].is_none()) end = byte_offset(s, to_index(a[first + 1], "slice indices"));
  return {begin, std::max(begin, end)};
}

Value split(const std::string& s, const Value& sep_v, int64_t maxsplit, bool from_right) {
  size_t limit = maxsplit < 0 ? std::numeric_limits<size_t>::max() : static_cast<size_t>(maxsplit);
  auto piece = [&](size_t b, size_t e) { return Value(s.substr(b, e - b)); };
  std::vector<Value> parts;
  if (sep_v.is_none()) {  // runs of whitespace; leading and trailing whitespace ignored
    std::vector<std::pair<size_t, size_t>> words;  // byte ranges
    std::string_view sv(s);
    for (size_t pos = 0; pos < s.size();) {
      size_t p = pos;
      if (unicode::is_space(unicode::next(sv, p))) {
        pos = p;
        continue;
      }
      size_t start = pos;
      while (pos < s.size()) {
        size_t q = pos;
        if (unicode::is_space(unicode::next(sv, q))) break;
        pos = q;
      }
      words.emplace_back(start, pos);
    }
    if (words.size() <= limit) {
      for (auto [b, e] : words) parts.push_back(piece(b, e));
    } else if (!from_right) {  // the rest, whitespace and all, is the last part
      for (size_t i = 0; i < limit; ++i) parts.push_back(piece(words[i].first, words[i].second));
      parts.push_back(piece(words[limit].first, s.size()));
    } else {
      size_t keep = words.size() - limit;
      parts.push_back(piece(0, words[keep - 1].second));
      for (size_t i = keep; i < words.size(); ++i) parts.push_back(piece(words[i].first, words[i].second));
    }
    return Value::list(std::move(parts));
  }
  const std::string& sep = str_arg(sep_v, "split");
  if (sep.empty()) fail("empty separator");
  if (!from_right) {
    size_t start = 0;
    for (size_t n = 0; n < limit; ++n) {
      size_t hit = s.find(sep, start);
      if (hit == std::string::npos) break;
      parts.push_back(piece(start, hit));
      start = hit + sep.size();
    }
    parts.push_back(piece(start, s.size()));
    return Value::list(std::move(parts));
  }
  size_t end = s.size();
  for (size_t n = 0; n < limit && end >= sep.size(); ++n) {
    size_t hit = s.rfind(sep, end - sep.size());
    if (hit == std::string::npos) break;
    parts.push_back(piece(hit + sep.size(), end));
    end = hit;
  }
  parts.push_back(piece(0, end));
  std::reverse(parts.begin(), parts.end());
  return Value::list(std::move(parts));
}

Value splitlines(const std::string& s, bool keepends) {
  std::vector<Value> lines;
  std::string_view sv(s);
  size_t start = 0, pos = 0;
  while (pos < s.size()) {
    size_t line_end = pos;
    char32_t cp = unicode::next(sv, pos);
    bool is_break = cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cp == 0x1C || cp == 0x1D ||
                    cp == 0x1E || cp == 0x85 || cp == 0x2028 || cp == 0x2029;
    if (!is_break) continue;
    if (cp == '\r' && pos < s.size() && s[pos] == '\n') ++pos;
    lines.emplace_back(s.substr(start, (keepends ? pos : line_end) - start));
    start = pos;
  }
  if (start < s.size()) lines.emplace_back(s.substr(start));
  return Value::list(std::move(lines));
}

Value replace(const std::string& s, const std::string& old, const std::string& with, int64_t count) {
  if (count < 0) count = std::numeric_limits<int64_t>::max();  // only compared, never incremented past
  std::string out;
  if (old.empty()) {  // Python inserts `with` around every code point
    size_t pos = 0;
    int64_t n = 0;
    while (true) {
      if (n < count) out += with, ++n;
      if (pos >= s.size()) break;
      size_t start = pos;
      unicode::next(s, pos);
      out.append(s, start, pos - start);
      check_string_size(out.size());
    }
    return Value(std::move(out));
  }
  size_t start = 0;
  for (int64_t n = 0; n < count; ++n) {
    size_t hit = s.find(old, start);
    if (hit == std::string::npos) break;
    out.append(s, start, hit - start);
    out += with;
    check_string_size(out.size());
    start = hit + old.size();
  }
  out.append(s, start);
  return Value(std::move(out));
}

bool has_prefix_or_suffix(const std::string& s, const Value& affix, const std::vector<Value>& a, bool prefix) {
  auto [begin, end] = window(s, a, 1);
  std::string_view w = std::string_view(s).substr(begin, end - begin);
  auto test = [&](const Value& v) {
    const std::string& x = str_arg(v, prefix ? "startswith" : "endswith");
    return prefix ? w.starts_with(x) : w.ends_with(x);
  };
  if (affix.is_tuple()) {
    for (const Value& v : affix.as_list().items)
      if (test(v)) return true;
    return false;
  }
  if (!affix.is_string())
    fail(std::string(prefix ? "startswith" : "endswith") + " first arg must be str or a tuple of str, not " + type_name(affix));
  return test(affix);
}

template <typename Pred>
bool all_code_points(const std::string& s, Pred pred) {
  if (s.empty()) return false;
  for (size_t pos = 0; pos < s.size();)
    if (!pred(unicode::next(s, pos))) return false;
  return true;
}


// Upper/titlecase only after uncased characters, lowercase only after cased ones, and at least one cased.
bool is_title(const std::string& s) {
  bool previous_cased = false, any = false;
  for (size_t pos = 0; pos < s.size();) {
    char32_t cp = unicode::next(s, pos);
    if (unicode::is_upper(cp) || (unicode::is_cased(cp) && !unicode::is_lower(cp))) {
      if (previous_cased) return false;
      previous_cased = any = true;
    } else if (unicode::is_lower(cp)) {
      if (!previous_cased) return false;
      previous_cased = any = true;
    } else {
      previous_cased = false;
    }
  }
  return any;
}

Value justify(const std::string& s, const std::vector<Value>& a, char how) {
  int64_t width = to_index(a[0], "width");
  std::string fill = a.size() > 1 ? str_arg(a[1], "fill") : " ";
  if (unicode::length(fill) != 1) fail("The fill character must be exactly one character long");
  int64_t len = static_cast<int64_t>(unicode::length(s));
  if (width <= len) return Value(s);
  if (width > (1 << 24)) fail("width too large");
  int64_t missing = width - len;
  auto rep = [&](int64_t n) {
    std::string r;
    for (int64_t i = 0; i < n; ++i) r += fill;
    return r;
  };
  if (how == '<') return Value(s + rep(missing));
  if (how == '>') return Value(rep(missing) + s);
  int64_t left = missing / 2 + (missing & width & 1);  // CPython's centering rule
  return Value(rep(left) + s + rep(missing - left));
}

Value str_method(const std::string& s, std::string_view name, const Args& args) {
  auto a = [&](std::initializer_list<Param> params) { return bind_args(std::string(name).c_str(), args, params); };
  if (name == "format") return Value(brace_format(s, args.positional, args.keyword));
  if (name == "startswith" || name == "endswith") {
    auto v = a({{"prefix"}, {"start", Value(None{})}, {"end", Value(None{})}});
    return has_prefix_or_suffix(s, v[0], v, name == "startswith");
  }
  if (name == "split" || name == "rsplit") {
    auto v = a({{"sep", Value(None{})}, {"maxsplit", Value(-1)}});
    return split(s, v[0], to_index(v[1], "maxsplit"), name == "rsplit");
  }
  if (name == "splitlines") return splitlines(s, truthy(a({{"keepends", Value(false)}})[0]));
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    auto v = a({{"chars", Value(None{})}});
    bool left = name != "rstrip", right = name != "lstrip";
    if (v[0].is_none()) return Value(unicode::strip(s, left, right));
    return Value(unicode::strip_chars(s, str_arg(v[0], std::string(name).c_str()), left, right));
  }
  if (name == "replace") {
    auto v = a({{"old"}, {"new"}, {"count", Value(-1)}});
    return replace(s, str_arg(v[0], "replace"), str_arg(v[1], "replace"), to_index(v[2], "count"));
  }
  if (name == "upper") return a({}), Value(unicode::upper(s));
  if (name == "lower" || name == "casefold") return a({}), Value(unicode::lower(s));
  if (name == "title") return a({}), Value(unicode::title(s));
  if (name == "capitalize") return a({}), Value(unicode::capitalize(s));
  if (name == "swapcase") {
    a({});
    std::string out;
    for (size_t pos = 0; pos < s.size();) {
      char32_t cp = unicode::next(s, pos);
      unicode::append(out, unicode::is_upper(cp) ? unicode::to_lower(cp) : unicode::is_lower(cp) ? unicode::to_upper(cp) : cp);
    }
    return Value(std::move(out));
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex") {
    auto v = a({{"sub"}, {"start", Value(None{})}, {"end", Value(None{})}});
    const std::string& sub = str_arg(v[0], std::string(name).c_str());
    auto [begin, end] = window(s, v, 1);
    std::string_view w = std::string_view(s).substr(begin, end - begin);
    size_t hit = name[0] == 'r' ? w.rfind(sub) : w.find(sub);
    if (hit == std::string_view::npos) {
      if (name.ends_with("index")) fail("substring not found");
      return int64_t{-1};
    }
    return code_point_index(s, begin + hit);
  }
  if (name == "count") {
    auto v = a({{"sub"}, {"start", Value(None{})}, {"end", Value(None{})}});
    const std::string& sub = str_arg(v[0], "count");
    auto [begin, end] = window(s, v, 1);
    std::string_view w = std::string_view(s).substr(begin, end - begin);
    if (sub.empty()) return static_cast<int64_t>(unicode::length(w)) + 1;
    int64_t count = 0;
    for (size_t pos = w.find(sub); pos != std::string_view::npos; pos = w.find(sub, pos + sub.size())) ++count;
    return count;
  }
  if (name == "join") {
    auto items = iterate(a({{"iterable"}})[0]);
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_string())
        fail("sequence item " + std::to_string(i) + ": expected str instance, " + type_name(items[i]) + " found");
      if (i) out += s;
      out += items[i].as_string();
      check_string_size(out.size());
    }
    return Value(std::move(out));
  }
  if (name == "isdigit") return a({}), all_code_points(s, unicode::is_digit);
  if (name == "isdecimal") return a({}), all_code_points(s, unicode::is_decimal);
  if (name == "isnumeric") return a({}), all_code_points(s, unicode::is_numeric);
  if (name == "isalpha") return a({}), all_code_points(s, unicode::is_alpha);
  if (name == "isalnum") return a({}), all_code_points(s, [](char32_t c) { return unicode::is_alpha(c) || unicode::is_numeric(c); });
  if (name == "isspace") return a({}), all_code_points(s, unicode::is_space);
  if (name == "isprintable") return a({}), s.empty() || all_code_points(s, unicode::is_printable);
  if (name == "isascii") return a({}), unicode::is_ascii(s);
  if (name == "isupper") return a({}), unicode::all_cased_are(s, true);
  if (name == "islower") return a({}), unicode::all_cased_are(s, false);
  if (name == "istitle") return a({}), is_title(s);
  if (name == "center") return justify(s, a({{"width"}, {"fillchar", Value(" ")}}), '^');
  if (name == "ljust") return justify(s, a({{"width"}, {"fillchar", Value(" ")}}), '<');
  if (name == "rjust") return justify(s, a({{"width"}, {"fillchar", Value(" ")}}), '>');
  if (name == "zfill") {
    int64_t width = to_index(a({{"width"}})[0], "width");
    int64_t len = static_cast<int64_t>(unicode::length(s));
    if (width <= len) return Value(s);
    if (width > (1 << 24)) fail("width too large");
    size_t sign = (!s.empty() && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
    return Value(s.substr(0, sign) + std::string(static_cast<size_t>(width - len), '0') + s.substr(sign));
  }
  if (name == "partition" || name == "rpartition") {
    const std::string& sep = str_arg(a({{"sep"}})[0], std::string(name).c_str());
    if (sep.empty()) fail("empty separator");
    size_t hit = name == "partition" ? s.find(sep) : s.rfind(sep);
    if (hit == std::string::npos)
      return name == "partition" ? Value::list({Value(s), Value(""), Value("")}, true)
                                 : Value::list({Value(""), Value(""), Value(s)}, true);
    return Value::list({Value(s.substr(0, hit)), Value(sep), Value(s.substr(hit + sep.size()))}, true);
  }
  if (name == "removeprefix" || name == "removesuffix") {
    const std::string& affix = str_arg(a({{"affix"}})[0], std::string(name).c_str());
    if (name == "removeprefix") return Value(s.starts_with(affix) ? s.substr(affix.size()) : s);
    return Value(s.ends_with(affix) ? s.substr(0, s.size() - affix.size()) : s);
  }
  fail("str." + std::string(name) + "() is not supported in chat templates");
}

Value dict_method(const Value& d, std::string_view name, const Args& args) {
  auto a = [&](std::initializer_list<Param> params) {
    if (!args.keyword.empty()) fail(std::string(name) + "() takes no keyword arguments");
    return bind_args(std::string(name).c_str(), args, params);
  };
  const DictData& dict = d.as_dict();
  if (name == "get") {
    auto v = a({{"key"}, {"default", Value(None{})}});
    if (!is_hashable(v[0])) fail(std::string("unhashable type: '") + type_name(v[0]) + "'");
    const Value* found = dict.find(v[0]);
    return found ? *found : v[1];
  }
  a({});
  if (name == "copy") return d;
  std::vector<Value> out;
  for (const auto& [k, v] : dict.entries) {
    if (name == "keys") out.push_back(k);
    else if (name == "values") out.push_back(v);
    else out.push_back(Value::list({k, v}, true));
  }
  Shape view = name == "keys" ? Shape::dict_keys : name == "values" ? Shape::dict_values : Shape::dict_items;
  return Value::sequence(std::move(out), view);
}

Value sequence_method(const Value& list, std::string_view name, const Args& args) {
  const auto& items = list.as_list().items;
  if (name == "isdisjoint") {
    auto other = iterate(bind_args("isdisjoint", args, {{"other"}})[0]);
    for (const Value& a : items)
      for (const Value& b : other)
        if (equal(a, b)) return false;
    return true;
  }
  if (name == "copy") return bind_args("copy", args, {}), list;
  auto v = bind_args(std::string(name).c_str(), args, {{"value"}});
  int64_t count = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!equal(items[i], v[0])) continue;
    if (name == "index") return static_cast<int64_t>(i);
    ++count;
  }
  if (name == "index") fail(py_repr(v[0]) + " is not in " + type_name(list));
  return count;
}

}  // namespace

MethodKind method_kind(const Value& receiver, std::string_view name) {
  switch (receiver.kind()) {
    case Value::Kind::string: return one_of(name, kStrMethods) ? MethodKind::safe : MethodKind::none;
    case Value::Kind::dict:
      if (one_of(name, {"get", "items", "keys", "values", "copy", "fromkeys"})) return MethodKind::safe;
      if (one_of(name, {"clear", "pop", "popitem", "setdefault", "update"})) return MethodKind::unsafe;
      return MethodKind::none;
    case Value::Kind::list:
      if (receiver.shape() == Shape::dict_keys || receiver.shape() == Shape::dict_items)
        return name == "isdisjoint" ? MethodKind::safe : MethodKind::none;
      if (receiver.shape() == Shape::dict_values) return MethodKind::none;
      if (one_of(name, {"count", "index"})) return MethodKind::safe;
      if (!receiver.is_plain_list()) return MethodKind::none;
      if (name == "copy") return MethodKind::safe;
      if (one_of(name, {"append", "clear", "pop", "reverse", "insert", "sort", "extend", "remove"}))
        return MethodKind::unsafe;
      return MethodKind::none;
    case Value::Kind::loop: return one_of(name, {"cycle", "changed"}) ? MethodKind::safe : MethodKind::none;
    default: return MethodKind::none;
  }
}

Value bound_method(const Value& receiver, std::string_view name) {
  return Value(CallablePtr(std::make_shared<BoundMethod>(receiver, std::string(name))));
}

Value call_method(const Value& receiver, std::string_view name, const Args& args) {
  switch (receiver.kind()) {
    case Value::Kind::string: return str_method(receiver.as_string(), name, args);
    case Value::Kind::dict:
      if (name == "fromkeys") fail("dict.fromkeys() is not supported in chat templates");
      return dict_method(receiver, name, args);
    case Value::Kind::list: return sequence_method(receiver, name, args);
    case Value::Kind::loop: {
      if (!args.keyword.empty()) fail(std::string(name) + "() takes no keyword arguments");
      LoopData& loop = receiver.as_loop();
      if (name == "changed") {  // true on the first call and whenever the arguments differ from the last call's
        Value now = Value::list(args.positional, true);
        if (loop.changed_called && equal(Value::list(loop.changed_args, true), now)) return false;
        loop.changed_called = true;
        loop.changed_args = args.positional;
        return true;
      }
      if (args.positional.empty()) fail("no items for cycling given");
      return args.positional[static_cast<size_t>(loop.index0) % args.positional.size()];
    }
    default: break;
  }
  fail(std::string("'") + type_name(receiver) + "' object has no attribute '" + std::string(name) + "'");
}

}  // namespace salut::jinja
