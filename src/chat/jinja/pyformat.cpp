#include "chat/jinja/pyformat.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "chat/jinja/callable.h"
#include "chat/jinja/error.h"
#include "chat/jinja/ops.h"
#include "chat/jinja/unicode.h"

namespace salut::jinja {

namespace {

constexpr int kMaxReprDepth = kMaxValueDepth + 8;  // a namespace can contain itself

void append_hex(std::string& out, const char* prefix, uint32_t value, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%s%0*x", prefix, digits, value);
  out += buf;
}

void repr_to(const Value& v, std::string& out, int depth);

void repr_items(const std::vector<Value>& items, std::string& out, int depth) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    repr_to(items[i], out, depth);
  }
}

void dict_repr_to(const std::vector<std::pair<Value, Value>>& entries, std::string& out, int depth) {
  out += '{';
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i) out += ", ";
    repr_to(entries[i].first, out, depth);
    out += ": ";
    repr_to(entries[i].second, out, depth);
  }
  out += '}';
}

void repr_to(const Value& v, std::string& out, int depth) {
  if (++depth > kMaxReprDepth) fail("maximum recursion depth exceeded while getting the repr of an object");
  check_string_size(out.size());  // a list can hold one long string a million times
  switch (v.kind()) {
    case Value::Kind::undefined: out += "Undefined"; return;
    case Value::Kind::string: out += string_repr(v.as_string()); return;
    case Value::Kind::list: {
      const ListData& list = v.as_list();
      switch (list.shape) {
        case Shape::list:
          out += '[';
          repr_items(list.items, out, depth);
          out += ']';
          return;
        case Shape::tuple:
          out += '(';
          repr_items(list.items, out, depth);
          out += list.items.size() == 1 ? ",)" : ")";
          return;
        case Shape::range:
          out += "range(" + std::to_string(list.range_args[0]) + ", " + std::to_string(list.range_args[1]);
          if (list.range_args[2] != 1) out += ", " + std::to_string(list.range_args[2]);
          out += ')';
          return;
        default:  // dict_keys([...]) and the like
          out += type_name(v);
          out += "([";
          repr_items(list.items, out, depth);
          out += "])";
          return;
      }
    }
    case Value::Kind::dict: dict_repr_to(v.as_dict().entries, out, depth); return;
    case Value::Kind::ns: {
      out += "<Namespace ";
      std::vector<std::pair<Value, Value>> entries;
      for (const auto& [k, val] : v.as_namespace().attrs) entries.emplace_back(Value(k), val);
      dict_repr_to(entries, out, depth);
      out += '>';
      return;
    }
    default: py_str_to(v, out); return;
  }
}

}  // namespace

std::string float_repr(double f) {
  if (std::isnan(f)) return "nan";
  if (std::isinf(f)) return f > 0 ? "inf" : "-inf";
  char buf[64];
  auto result = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(result.ptr - buf));  // "-1.2345e+05"
  std::string out;
  if (sci.front() == '-') {
    out += '-';
    sci.remove_prefix(1);
  }
  size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos))
    if (c != '.') digits += c;
  int exponent = std::atoi(std::string(sci.substr(e_pos + 1)).c_str());
  int decpt = exponent + 1;  // value = 0.DIGITS * 10^decpt
  int n = static_cast<int>(digits.size());
  if (decpt > -4 && decpt <= 16) {  // CPython's repr switches to exponent form outside this range
    if (decpt <= 0) {
      out += "0." + std::string(static_cast<size_t>(-decpt), '0') + digits;
    } else if (decpt >= n) {
      out += digits + std::string(static_cast<size_t>(decpt - n), '0') + ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(decpt)) + "." + digits.substr(static_cast<size_t>(decpt));
    }
    return out;
  }
  out += digits[0];
  if (n > 1) out += "." + digits.substr(1);
  char exp[16];
  std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  return out + exp;
}

std::string string_repr(std::string_view s) {
  char quote = '\'';
  if (s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos) quote = '"';
  std::string out;
  out.reserve(s.size() + 2);
  out += quote;
  for (size_t pos = 0; pos < s.size();) {
    size_t start = pos;
    char32_t cp = unicode::next(s, pos);
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp < 0x20 || cp == 0x7F) {
      append_hex(out, "\\x", cp, 2);
    } else if (cp < 0x7F) {
      out += static_cast<char>(cp);
    } else if (unicode::is_printable(cp)) {
      out.append(s.substr(start, pos - start));
    } else if (cp <= 0xFF) {
      append_hex(out, "\\x", cp, 2);
    } else if (cp <= 0xFFFF) {
      append_hex(out, "\\u", cp, 4);
    } else {
      append_hex(out, "\\U", cp, 8);
    }
  }
  out += quote;
  return out;
}

void py_str_to(const Value& v, std::string& out) {
  switch (v.kind()) {
    case Value::Kind::undefined: return;
    case Value::Kind::none: out += "None"; return;
    case Value::Kind::boolean: out += v.as_bool() ? "True" : "False"; return;
    case Value::Kind::integer: {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, v.as_int());
      out.append(buf, r.ptr);
      return;
    }
    case Value::Kind::floating: out += float_repr(v.as_float()); return;
    case Value::Kind::string: out += v.as_string(); return;
    case Value::Kind::callable: out += v.as_callable().repr(); return;
    case Value::Kind::iterator: out += std::string("<") + v.as_iterator().type + " object>"; return;
    case Value::Kind::loop: {
      const LoopData& loop = v.as_loop();
      out += "<LoopContext " + std::to_string(loop.index0 + 1) + "/" + std::to_string(loop.items->items.size()) + ">";
      return;
    }
    default: repr_to(v, out, 0); return;
  }
}

std::string py_str(const Value& v) {
  if (v.is_string()) return v.as_string();
  std::string out;
  py_str_to(v, out);
  return out;
}

std::string py_repr(const Value& v) {
  std::string out;
  repr_to(v, out, 0);
  return out;
}

// ---- json.dumps ----

namespace {

void json_string(std::string_view s, bool ensure_ascii, std::string& out) {
  out += '"';
  for (size_t pos = 0; pos < s.size();) {
    size_t start = pos;
    char32_t cp = unicode::next(s, pos);
    switch (cp) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (cp < 0x20) {
      append_hex(out, "\\u", cp, 4);
    } else if (cp < 0x7F || (cp == 0x7F && !ensure_ascii)) {
      out += static_cast<char>(cp);
    } else if (!ensure_ascii) {
      out.append(s.substr(start, pos - start));
    } else if (cp <= 0xFFFF) {
      append_hex(out, "\\u", cp, 4);
    } else {
      char32_t v = cp - 0x10000;
      append_hex(out, "\\u", 0xD800 + (v >> 10), 4);
      append_hex(out, "\\u", 0xDC00 + (v & 0x3FF), 4);
    }
  }
  out += '"';
}

class JsonWriter {
 public:
  JsonWriter(const JsonOptions& options, std::string& out) : o_(options), out_(out) {}

  void write(const Value& v, int level) {
    if (level > kMaxReprDepth) fail("maximum recursion depth exceeded while encoding a JSON object");
    check_string_size(out_.size());
    switch (v.kind()) {
      case Value::Kind::none: out_ += "null"; return;
      case Value::Kind::boolean: out_ += v.as_bool() ? "true" : "false"; return;
      case Value::Kind::integer: py_str_to(v, out_); return;
      case Value::Kind::floating: out_ += json_float(v.as_float()); return;
      case Value::Kind::string: json_string(v.as_string(), o_.ensure_ascii, out_); return;
      case Value::Kind::list:
        if (v.shape() != Shape::list && v.shape() != Shape::tuple) break;
        write_list(v.as_list().items, level);
        return;
      case Value::Kind::dict: write_dict(v.as_dict(), level); return;
      default: break;
    }
    fail(std::string("Object of type ") + type_name(v) + " is not JSON serializable");
  }

 private:
  static std::string json_float(double f) {
    if (std::isnan(f)) return "NaN";
    if (std::isinf(f)) return f > 0 ? "Infinity" : "-Infinity";
    return float_repr(f);
  }

  void open(char bracket, int level) {
    out_ += bracket;
    newline(level + 1);
  }
  void newline(int level) {
    if (!o_.indent) return;
    out_ += '\n';
    for (int i = 0; i < level; ++i) out_ += *o_.indent;
  }
  void separator(int level) {
    out_ += o_.item_separator;
    newline(level);
  }

  void write_list(const std::vector<Value>& items, int level) {
    if (items.empty()) {
      out_ += "[]";
      return;
    }
    open('[', level);
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) separator(level + 1);
      write(items[i], level + 1);
    }
    newline(level);
    out_ += ']';
  }

  std::string key_text(const Value& key) {
    switch (key.kind()) {
      case Value::Kind::string: return key.as_string();
      case Value::Kind::none: return "null";
      case Value::Kind::boolean: return key.as_bool() ? "true" : "false";
      case Value::Kind::integer: return py_str(key);
      case Value::Kind::floating: return json_float(key.as_float());
      default: fail(std::string("keys must be str, int, float, bool or None, not ") + type_name(key));
    }
  }

  void write_dict(const DictData& dict, int level) {
    if (dict.entries.empty()) {
      out_ += "{}";
      return;
    }
    std::vector<const std::pair<Value, Value>*> entries;
    for (const auto& e : dict.entries) entries.push_back(&e);
    if (o_.sort_keys)
      std::stable_sort(entries.begin(), entries.end(),
                       [](auto* a, auto* b) { return compare(a->first, b->first) < 0; });
    open('{', level);
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i) separator(level + 1);
      json_string(key_text(entries[i]->first), o_.ensure_ascii, out_);
      out_ += o_.key_separator;
      write(entries[i]->second, level + 1);
    }
    newline(level);
    out_ += '}';
  }

  const JsonOptions& o_;
  std::string& out_;
};

}  // namespace

std::string json_dumps(const Value& v, const JsonOptions& options) {
  std::string out;
  JsonWriter(options, out).write(v, 0);
  return out;
}

}  // namespace salut::jinja
