// Python's two string formatting languages: `format % args` and str.format(*args, **kwargs).

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "chat/jinja/error.h"
#include "chat/jinja/pyformat.h"
#include "chat/jinja/unicode.h"

namespace salut::jinja {

// ---- % formatting ----

namespace {

// Widths and precisions beyond this are refused rather than building megabytes of padding.
constexpr int kMaxFormatWidth = 100000;

// Accumulates a decimal field, saturating just past the limit so that the check above still fires.
int add_digit(int value, char digit) { return std::min(std::max(value, 0) * 10 + (digit - '0'), kMaxFormatWidth + 1); }

struct Spec {  // one conversion of printf-style or format-spec syntax
  std::string flags;
  int width = -1;
  int precision = -1;
  char type = 0;
};

int64_t to_int_for_format(const Value& v, char type) {
  if (v.is_bool() || v.is_int()) return v.int_value();
  if (v.is_float() && type != 'x' && type != 'X' && type != 'o') {
    double f = v.as_float();
    if (!std::isfinite(f)) fail("cannot convert float " + float_repr(f) + " to integer");
    if (std::fabs(f) >= 9.2e18) fail("integer too large to format");
    return static_cast<int64_t>(f);
  }
  fail(std::string("%") + type + " format: a real number is required, not " + type_name(v));
}

double to_float_for_format(const Value& v) {
  if (v.is_number()) return v.number_value();
  fail(std::string("must be real number, not ") + type_name(v));
}

std::string pad(std::string text, const Spec& spec) {
  if (spec.width > kMaxFormatWidth) fail("format width or precision too large");
  size_t len = unicode::length(text);
  if (spec.width < 0 || len >= static_cast<size_t>(spec.width)) return text;
  std::string fill(static_cast<size_t>(spec.width) - len, ' ');
  return spec.flags.find('-') != std::string::npos ? text + fill : fill + text;
}

std::string c_format(const Spec& spec, const char* length, double f, int64_t i, bool is_float) {
  if (spec.width > kMaxFormatWidth || spec.precision > kMaxFormatWidth) fail("format width or precision too large");
  std::string fmt = "%" + spec.flags;
  if (spec.width >= 0) fmt += std::to_string(spec.width);
  if (spec.precision >= 0) fmt += "." + std::to_string(spec.precision);
  fmt += length;
  fmt += spec.type;
  auto print = [&](char* buf, size_t size) {
    return is_float ? std::snprintf(buf, size, fmt.c_str(), f) : std::snprintf(buf, size, fmt.c_str(), static_cast<long long>(i));
  };
  int n = print(nullptr, 0);
  if (n < 0) fail("invalid format");
  std::string out(static_cast<size_t>(n) + 1, '\0');
  print(out.data(), out.size());
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string format_one(const Value& arg, const Spec& spec) {
  switch (spec.type) {
    case 's':
    case 'r':
    case 'a': {
      std::string text = spec.type == 's' ? py_str(arg) : py_repr(arg);
      if (spec.precision >= 0) {
        auto offs = unicode::offsets(text);
        if (static_cast<size_t>(spec.precision) + 1 < offs.size()) text.resize(offs[static_cast<size_t>(spec.precision)]);
      }
      return pad(text, spec);
    }
    case 'd':
    case 'i':
    case 'u': {
      Spec s = spec;
      s.type = 'd';
      return c_format(s, "ll", 0, to_int_for_format(arg, 'd'), false);
    }
    case 'x':
    case 'X':
    case 'o': return c_format(spec, "ll", 0, to_int_for_format(arg, spec.type), false);
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G': return c_format(spec, "", to_float_for_format(arg), 0, true);
    case 'c': {
      std::string ch;
      if (arg.is_string() && unicode::length(arg.as_string()) == 1) {
        ch = arg.as_string();
      } else {
        int64_t cp = to_int_for_format(arg, 'c');
        if (cp < 0 || cp > 0x10FFFF) fail("%c arg not in range(0x110000)");
        unicode::append(ch, static_cast<char32_t>(cp));
      }
      return pad(ch, spec);
    }
    default: fail(std::string("unsupported format character '") + spec.type + "'");
  }
}

}  // namespace

std::string percent_format(std::string_view format, const Value& args) {
  std::vector<Value> positional;
  const DictData* mapping = nullptr;
  // CPython does not complain about an unused argument that supports item access (dict, list, range)
  bool unused_ok = args.is_dict() || (args.is_list() && !args.is_tuple() && args.shape() != Shape::dict_keys &&
                                      args.shape() != Shape::dict_values && args.shape() != Shape::dict_items);
  if (args.is_tuple()) {
    positional = args.as_list().items;
  } else {
    if (args.is_dict()) mapping = &args.as_dict();
    positional.push_back(args);
  }
  size_t next_arg = 0;
  bool used_mapping = false;
  auto take = [&]() -> const Value& {
    if (next_arg >= positional.size()) fail("not enough arguments for format string");
    return positional[next_arg++];
  };
  auto take_int = [&]() {
    const Value& v = take();
    if (!v.is_int() && !v.is_bool()) fail("* wants int");
    return static_cast<int>(std::clamp<int64_t>(v.int_value(), -1, kMaxFormatWidth + 1));
  };

  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c != '%') {
      out += c;
      continue;
    }
    if (++i >= format.size()) fail("incomplete format");
    const Value* arg = nullptr;
    if (format[i] == '(') {
      size_t close = format.find(')', i);
      if (close == std::string_view::npos) fail("incomplete format key");
      if (!mapping) fail("format requires a mapping");
      std::string key(format.substr(i + 1, close - i - 1));
      arg = mapping->find(std::string_view(key));
      if (!arg) fail("KeyError: " + string_repr(key));
      used_mapping = true;
      i = close + 1;
    }
    Spec spec;
    while (i < format.size() && std::string_view("#0- +").find(format[i]) != std::string_view::npos)
      spec.flags += format[i++];
    if (i < format.size() && format[i] == '*') {
      spec.width = take_int(), ++i;
    } else {
      while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i])))
        spec.width = add_digit(spec.width, format[i++]);
    }
    if (i < format.size() && format[i] == '.') {
      ++i;
      spec.precision = 0;
      if (i < format.size() && format[i] == '*') {
        spec.precision = take_int(), ++i;
      } else {
        while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i])))
          spec.precision = add_digit(spec.precision, format[i++]);
      }
    }
    while (i < format.size() && std::string_view("hlL").find(format[i]) != std::string_view::npos) ++i;
    if (i >= format.size()) fail("incomplete format");
    spec.type = format[i];
    if (spec.type == '%') {
      out += '%';
      continue;
    }
    out += format_one(arg ? *arg : take(), spec);
  }
  if (next_arg < positional.size() && !unused_ok && !used_mapping)
    fail("not all arguments converted during string formatting");
  return out;
}

// ---- str.format ----

namespace {

// format(value, spec) for the parts of the format-spec mini-language templates use.
std::string format_field(const Value& value, std::string_view spec_text) {
  if (spec_text.empty()) return py_str(value);
  size_t i = 0;
  std::string fill = " ";
  char align = 0;
  auto is_align = [](char c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  {
    size_t pos = 0;
    unicode::next(spec_text, pos);  // a fill character may be any code point
    if (pos < spec_text.size() && is_align(spec_text[pos])) {
      fill = std::string(spec_text.substr(0, pos));
      align = spec_text[pos];
      i = pos + 1;
    } else if (is_align(spec_text[0])) {
      align = spec_text[0];
      i = 1;
    }
  }
  char sign = 0;
  if (i < spec_text.size() && (spec_text[i] == '+' || spec_text[i] == '-' || spec_text[i] == ' ')) sign = spec_text[i++];
  bool zero = false;
  if (i < spec_text.size() && spec_text[i] == '0') zero = true, ++i;
  int width = -1;
  while (i < spec_text.size() && std::isdigit(static_cast<unsigned char>(spec_text[i])))
    width = add_digit(width, spec_text[i++]);
  int precision = -1;
  if (i < spec_text.size() && spec_text[i] == '.') {
    ++i;
    precision = 0;
    while (i < spec_text.size() && std::isdigit(static_cast<unsigned char>(spec_text[i])))
      precision = add_digit(precision, spec_text[i++]);
  }
  char type = 0;
  if (i < spec_text.size()) type = spec_text[i++];
  if (i != spec_text.size()) fail("Invalid format specifier '" + std::string(spec_text) + "'");
  if (width > kMaxFormatWidth || precision > kMaxFormatWidth) fail("format width or precision too large");

  std::string body;
  bool numeric = false;
  if (value.is_string() && (type == 0 || type == 's')) {
    body = value.as_string();
    if (precision >= 0) {
      auto offs = unicode::offsets(body);
      if (static_cast<size_t>(precision) + 1 < offs.size()) body.resize(offs[static_cast<size_t>(precision)]);
    }
  } else if ((value.is_int() || value.is_bool()) && (type == 0 || type == 'd' || type == 'x' || type == 'X' || type == 'o' || type == 'b')) {
    if (value.is_bool() && type == 0) {
      body = py_str(value);
    } else {
      numeric = true;
      Spec s;
      if (sign == '+' || sign == ' ') s.flags += sign;
      s.type = (type == 0 || type == 'b') ? 'd' : type;
      body = c_format(s, "ll", 0, value.int_value(), false);
    }
  } else if (value.is_number() && std::string_view("eEfFgG%").find(type) != std::string_view::npos && type != 0) {
    numeric = true;
    Spec s;
    if (sign == '+' || sign == ' ') s.flags += sign;
    s.precision = precision < 0 ? 6 : precision;
    double f = value.number_value();
    s.type = type == '%' ? 'f' : type;
    body = c_format(s, "", type == '%' ? f * 100 : f, 0, true);
    if (type == '%') body += '%';
  } else if (value.is_float() && type == 0) {
    numeric = true;
    body = precision < 0 ? float_repr(value.as_float()) : c_format(Spec{"", -1, precision, 'g'}, "", value.as_float(), 0, true);
    if (sign == '+' && value.as_float() >= 0) body = "+" + body;
  } else {
    fail(std::string("unsupported format string passed to ") + type_name(value) + ".__format__");
  }
  if (zero && !align) {
    align = '=';
    fill = "0";
  }
  if (!align) align = numeric ? '>' : '<';
  size_t len = unicode::length(body);
  if (width < 0 || len >= static_cast<size_t>(width)) return body;
  size_t missing = static_cast<size_t>(width) - len;
  auto repeat = [&](size_t n) {
    std::string s;
    for (size_t k = 0; k < n; ++k) s += fill;
    return s;
  };
  switch (align) {
    case '<': return body + repeat(missing);
    case '^': return repeat(missing / 2) + body + repeat(missing - missing / 2);
    case '=': {
      size_t sign_len = (!body.empty() && (body[0] == '-' || body[0] == '+' || body[0] == ' ')) ? 1 : 0;
      return body.substr(0, sign_len) + repeat(missing) + body.substr(sign_len);
    }
    default: return repeat(missing) + body;
  }
}

}  // namespace

std::string brace_format(std::string_view format, const std::vector<Value>& args,
                         const std::vector<std::pair<std::string, Value>>& kwargs) {
  std::string out;
  size_t auto_index = 0;
  bool used_auto = false, used_manual = false;
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c == '}') {
      if (i + 1 < format.size() && format[i + 1] == '}') {
        out += '}', ++i;
        continue;
      }
      fail("Single '}' encountered in format string");
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < format.size() && format[i + 1] == '{') {
      out += '{', ++i;
      continue;
    }
    size_t close = format.find('}', i);
    if (close == std::string_view::npos) fail("Single '{' encountered in format string");
    std::string_view field = format.substr(i + 1, close - i - 1);
    if (field.find('{') != std::string_view::npos) fail("nested replacement fields are not supported");
    std::string_view spec;
    if (size_t colon = field.find(':'); colon != std::string_view::npos) {
      spec = field.substr(colon + 1);
      field = field.substr(0, colon);
    }
    char conversion = 0;
    if (size_t bang = field.find('!'); bang != std::string_view::npos) {
      if (bang + 2 != field.size()) fail("expected ':' after conversion specifier");
      conversion = field[bang + 1];
      field = field.substr(0, bang);
    }
    if (field.find_first_of(".[") != std::string_view::npos) fail("attribute and index fields are not supported");
    const Value* value = nullptr;
    if (field.empty()) {
      if (used_manual) fail("cannot switch from manual field specification to automatic field numbering");
      used_auto = true;
      if (auto_index >= args.size()) fail("Replacement index " + std::to_string(auto_index) + " out of range for positional args tuple");
      value = &args[auto_index++];
    } else if (std::isdigit(static_cast<unsigned char>(field[0]))) {
      if (used_auto) fail("cannot switch from automatic field numbering to manual field specification");
      used_manual = true;
      size_t index = 0;
      auto r = std::from_chars(field.data(), field.data() + field.size(), index);
      if (r.ptr != field.data() + field.size()) fail("invalid format field");
      if (index >= args.size()) fail("Replacement index " + std::to_string(index) + " out of range for positional args tuple");
      value = &args[index];
    } else {
      for (const auto& [k, v] : kwargs)
        if (k == field) value = &v;
      if (!value) fail("KeyError: " + string_repr(field));
    }
    Value converted;
    if (conversion == 'r' || conversion == 'a') {
      converted = Value(py_repr(*value));
    } else if (conversion == 's') {
      converted = Value(py_str(*value));
    } else if (conversion != 0) {
      fail(std::string("Unknown conversion specifier ") + conversion);
    } else {
      converted = *value;
    }
    out += format_field(converted, spec);
    i = close;
  }
  return out;
}

}  // namespace salut::jinja
