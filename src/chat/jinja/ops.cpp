#include "chat/jinja/ops.h"

#include <cmath>
#include <limits>
#include <optional>

#include "chat/jinja/error.h"
#include "chat/jinja/methods.h"
#include "chat/jinja/pyformat.h"
#include "chat/jinja/unicode.h"

namespace salut::jinja {

namespace {

std::string object_type(const Value& obj) {  // jinja2's object_type_repr
  if (obj.is_none()) return "None";
  return std::string(type_name(obj)) + " object";
}

bool is_dunder(std::string_view name) { return name.size() > 4 && name.starts_with("__") && name.ends_with("__"); }

Value unsafe_attribute(const Value& obj, std::string_view name) {
  return Value::undefined("access to attribute '" + std::string(name) + "' of '" + type_name(obj) + "' object is unsafe.");
}

std::optional<Value> loop_attribute(const LoopData& loop, std::string_view name) {
  const auto& items = loop.items->items;
  int64_t length = static_cast<int64_t>(items.size());
  if (name == "index") return loop.index0 + 1;
  if (name == "index0") return loop.index0;
  if (name == "revindex") return length - loop.index0;
  if (name == "revindex0") return length - loop.index0 - 1;
  if (name == "first") return loop.index0 == 0;
  if (name == "last") return loop.index0 + 1 == length;
  if (name == "length") return length;
  if (name == "depth") return 1;
  if (name == "depth0") return 0;
  if (name == "previtem")
    return loop.index0 > 0 ? items[static_cast<size_t>(loop.index0 - 1)] : Value::undefined("there is no previous item");
  if (name == "nextitem")
    return loop.index0 + 1 < length ? items[static_cast<size_t>(loop.index0 + 1)] : Value::undefined("there is no next item");
  return std::nullopt;
}

// Python's sequence index: negative counts from the end; returns -1 when out of range.
int64_t normalize_index(int64_t index, int64_t size) {
  if (index < 0) index += size;
  return (index < 0 || index >= size) ? -1 : index;
}

// Python's slice.indices(size): the normalized start, stop and step of obj[start:stop:step].
struct SliceBounds {
  int64_t start, stop, step;
  std::vector<int64_t> indices() const {
    std::vector<int64_t> out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
      out.push_back(i);
      if (__builtin_add_overflow(i, step, &i)) break;  // a huge step jumps past the end
    }
    return out;
  }
};

SliceBounds slice_bounds(int64_t size, const Value& start_v, const Value& stop_v, const Value& step_v) {
  auto arg = [](const Value& v) -> std::optional<int64_t> {
    if (v.is_none() || v.is_undefined()) return std::nullopt;
    if (!v.is_int() && !v.is_bool()) fail("slice indices must be integers or None or have an __index__ method");
    return v.int_value();
  };
  int64_t step = arg(step_v).value_or(1);
  if (step == 0) fail("slice step cannot be zero");
  auto clamp = [&](std::optional<int64_t> v, int64_t fallback) {
    if (!v) return fallback;
    int64_t i = *v;
    if (i < 0) {
      i = i < -size ? (step < 0 ? -1 : 0) : i + size;
    } else if (i >= size) {
      i = step < 0 ? size - 1 : size;
    }
    return i;
  };
  return {clamp(arg(start_v), step < 0 ? size - 1 : 0), clamp(arg(stop_v), step < 0 ? -1 : size), step};
}

bool is_list_or_tuple(const Value& v) { return v.is_list() && (v.shape() == Shape::list || v.shape() == Shape::tuple); }

std::string operand_error(const char* op, const Value& a, const Value& b) {
  return std::string("unsupported operand type(s) for ") + op + ": '" + type_name(a) + "' and '" + type_name(b) + "'";
}

Value repeat(const Value& seq, int64_t times) {
  if (times < 0) times = 0;
  if (seq.is_string()) {
    const std::string& s = seq.as_string();
    if (!s.empty()) check_string_size(s.size() * static_cast<size_t>(std::min<int64_t>(times, int64_t{1} << 40)));
    std::string out;
    for (int64_t i = 0; i < times && !s.empty(); ++i) out += s;
    return Value(std::move(out));
  }
  const auto& items = seq.as_list().items;
  if (!items.empty()) check_items(items.size() * static_cast<size_t>(std::min<int64_t>(times, int64_t{1} << 40)));
  std::vector<Value> out;
  for (int64_t i = 0; i < times && !items.empty(); ++i) out.insert(out.end(), items.begin(), items.end());
  return Value::list(std::move(out), seq.is_tuple());
}

double python_float_mod(double a, double b) {
  double mod = std::fmod(a, b);
  if (mod != 0) {
    if ((b < 0) != (mod < 0)) mod += b;
  } else {
    mod = std::copysign(0.0, b);
  }
  return mod;
}

double python_float_floordiv(double a, double b) {
  double mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0 && ((b < 0) != (mod < 0))) div -= 1.0;
  if (div == 0) return std::copysign(0.0, a / b);
  double floordiv = std::floor(div);
  if (div - floordiv > 0.5) floordiv += 1.0;
  return floordiv;
}

[[noreturn]] void overflow() { fail("integer result too large (Python would use a big integer)"); }

// Python ints never overflow; ours are 64-bit, so an overflow is an error instead of a wrong number.
int64_t add_int(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) overflow();
  return r;
}
int64_t sub_int(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) overflow();
  return r;
}
int64_t mul_int(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) overflow();
  return r;
}

Value int_pow(int64_t base, int64_t exp) {
  int64_t result = 1;
  while (exp > 0) {
    if (exp & 1) result = mul_int(result, base);
    exp >>= 1;
    if (exp) base = mul_int(base, base);
  }
  return result;
}

}  // namespace

namespace {
const SizeLimits kDefaultLimits;
thread_local const SizeLimits* active_limits = &kDefaultLimits;
}  // namespace

const SizeLimits& size_limits() { return *active_limits; }
SizeLimitsScope::SizeLimitsScope(const SizeLimits& limits) : previous_(std::exchange(active_limits, &limits)) {}
SizeLimitsScope::~SizeLimitsScope() { active_limits = previous_; }

void check_string_size(size_t bytes) {
  size_t limit = size_limits().max_string_bytes;
  if (bytes > limit) fail("string too large (limit " + std::to_string(limit) + " bytes)");
}

void check_items(size_t items) {
  size_t limit = size_limits().max_items;
  if (items > limit) fail("list too large (limit " + std::to_string(limit) + " items)");
}

Value missing_attribute(const Value& obj, std::string_view name) {
  return Value::undefined("'" + object_type(obj) + "' has no attribute " + string_repr(name));
}

Value missing_item(const Value& obj, const Value& key) {
  if (key.is_string()) return missing_attribute(obj, key.as_string());
  return Value::undefined(object_type(obj) + " has no element " + py_repr(key));
}

namespace {

// What Python's getattr(obj, name) finds in the sandbox, or nothing.
std::optional<Value> find_attribute(const Value& obj, std::string_view name) {
  if (is_dunder(name)) return unsafe_attribute(obj, name);
  switch (method_kind(obj, name)) {
    case MethodKind::safe: return bound_method(obj, name);
    case MethodKind::unsafe: return unsafe_attribute(obj, name);
    case MethodKind::none: break;
  }
  if (obj.is_number() && (name == "real" || name == "imag")) {
    if (obj.is_float()) return name == "real" ? obj : Value(0.0);
    return name == "real" ? Value(obj.int_value()) : Value(0);
  }
  if (obj.is_namespace()) {
    if (const Value* v = obj.as_namespace().find(name)) return *v;
  } else if (obj.is_loop()) {
    return loop_attribute(obj.as_loop(), name);
  }
  return std::nullopt;
}

}  // namespace

Value get_python_attribute(const Value& obj, std::string_view name) {
  if (obj.is_undefined()) fail(undefined_error(obj));
  if (std::optional<Value> v = find_attribute(obj, name)) return *v;
  return missing_attribute(obj, name);
}

Value get_attr(const Value& obj, std::string_view name) {
  if (obj.is_undefined()) fail(undefined_error(obj));
  if (std::optional<Value> v = find_attribute(obj, name)) return *v;
  if (obj.is_dict())
    if (const Value* v = obj.as_dict().find(name)) return *v;
  return missing_attribute(obj, name);
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) fail(undefined_error(obj));
  switch (obj.kind()) {
    case Value::Kind::dict:
      if (!is_hashable(key)) fail(std::string("unhashable type: '") + type_name(key) + "'");
      if (const Value* v = obj.as_dict().find(key)) return *v;
      break;
    case Value::Kind::list:
      if ((key.is_int() || key.is_bool()) && (is_list_or_tuple(obj) || obj.shape() == Shape::range)) {
        const auto& items = obj.as_list().items;
        int64_t i = normalize_index(key.int_value(), static_cast<int64_t>(items.size()));
        if (i >= 0) return items[static_cast<size_t>(i)];
        return missing_item(obj, key);
      }
      break;
    case Value::Kind::string:
      if (key.is_int() || key.is_bool()) {
        const std::string& s = obj.as_string();
        if (unicode::is_ascii(s)) {
          int64_t i = normalize_index(key.int_value(), static_cast<int64_t>(s.size()));
          if (i >= 0) return Value(s.substr(static_cast<size_t>(i), 1));
        } else {
          auto offs = unicode::offsets(s);
          int64_t i = normalize_index(key.int_value(), static_cast<int64_t>(offs.size() - 1));
          if (i >= 0) return Value(s.substr(offs[static_cast<size_t>(i)], offs[static_cast<size_t>(i) + 1] - offs[static_cast<size_t>(i)]));
        }
        return missing_item(obj, key);
      }
      break;
    default: break;
  }
  if (key.is_string())  // jinja2 falls back to the attribute of that name
    if (std::optional<Value> v = find_attribute(obj, key.as_string())) return *v;
  return missing_item(obj, key);
}

// jinja2 compiles obj[a:b] to a plain Python subscript (not the sandbox's getitem), so a value
// that cannot be sliced is an error here, not an Undefined.
Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  if (obj.is_undefined()) fail(undefined_error(obj));
  if (obj.is_list() && (is_list_or_tuple(obj) || obj.shape() == Shape::range)) {
    const ListData& list = obj.as_list();
    SliceBounds bounds = slice_bounds(static_cast<int64_t>(list.items.size()), start, stop, step);
    std::vector<Value> out;
    for (int64_t i : bounds.indices()) out.push_back(list.items[static_cast<size_t>(i)]);
    if (list.shape != Shape::range) return Value::sequence(std::move(out), list.shape);
    int64_t r_start = list.range_args[0], r_step = list.range_args[2];  // a range's slice is a range
    return Value::range(std::move(out), add_int(r_start, mul_int(bounds.start, r_step)),
                        add_int(r_start, mul_int(bounds.stop, r_step)), mul_int(r_step, bounds.step));
  }
  if (obj.is_string()) {
    const std::string& s = obj.as_string();
    std::string out;
    if (unicode::is_ascii(s)) {
      for (int64_t i : slice_bounds(static_cast<int64_t>(s.size()), start, stop, step).indices()) out += s[static_cast<size_t>(i)];
    } else {
      auto offs = unicode::offsets(s);
      for (int64_t i : slice_bounds(static_cast<int64_t>(offs.size() - 1), start, stop, step).indices())
        out.append(s, offs[static_cast<size_t>(i)], offs[static_cast<size_t>(i) + 1] - offs[static_cast<size_t>(i)]);
    }
    return Value(std::move(out));
  }
  if (obj.is_dict()) fail("unhashable type: 'slice'");
  fail(std::string("'") + type_name(obj) + "' object is not subscriptable");
}

std::vector<Value> iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::undefined: return {};
    case Value::Kind::iterator: {  // used up
      IteratorData& it = v.as_iterator();
      if (!it.error.empty()) fail(std::exchange(it.error, {}));
      std::vector<Value> rest(it.items.begin() + static_cast<long>(it.position), it.items.end());
      it.position = it.items.size();
      return rest;
    }
    case Value::Kind::list: return v.as_list().items;
    case Value::Kind::dict: {
      std::vector<Value> keys;
      keys.reserve(v.as_dict().entries.size());
      for (const auto& [k, val] : v.as_dict().entries) keys.push_back(k);
      return keys;
    }
    case Value::Kind::string: {
      const std::string& s = v.as_string();
      if (s.size() > size_limits().max_items) check_items(unicode::length(s));
      std::vector<Value> chars;
      for (size_t pos = 0; pos < s.size();) {
        size_t start = pos;
        unicode::next(s, pos);
        chars.emplace_back(s.substr(start, pos - start));
      }
      return chars;
    }
    default: fail(std::string("'") + type_name(v) + "' object is not iterable");
  }
}

int64_t length(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::undefined: return 0;
    case Value::Kind::string: return static_cast<int64_t>(unicode::length(v.as_string()));
    case Value::Kind::list: return static_cast<int64_t>(v.as_list().items.size());
    case Value::Kind::dict: return static_cast<int64_t>(v.as_dict().entries.size());
    case Value::Kind::loop: return static_cast<int64_t>(v.as_loop().items->items.size());
    default: fail(std::string("object of type '") + type_name(v) + "' has no len()");
  }
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::undefined: return false;
    case Value::Kind::string:
      if (!item.is_string())
        fail(std::string("'in <string>' requires string as left operand, not ") + type_name(item));
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::list:
      for (const Value& x : container.as_list().items)
        if (equal(x, item)) return true;
      return false;
    case Value::Kind::iterator: {  // consumed up to the match, as in Python
      IteratorData& it = container.as_iterator();
      if (!it.error.empty()) fail(std::exchange(it.error, {}));
      while (it.position < it.items.size())
        if (equal(it.items[it.position++], item)) return true;
      return false;
    }
    case Value::Kind::dict:
      if (!is_hashable(item)) fail(std::string("unhashable type: '") + type_name(item) + "'");
      return container.as_dict().find(item) != nullptr;
    default: fail(std::string("argument of type '") + type_name(container) + "' is not iterable");
  }
}

int64_t to_index(const Value& v, const char* what) {
  if (v.is_int() || v.is_bool()) return v.int_value();
  fail(std::string(what) + ": '" + type_name(v) + "' object cannot be interpreted as an integer");
}

Value negate(const Value& v) {
  if (v.is_undefined()) fail(undefined_error(v));
  if (v.is_float()) return -v.as_float();
  if (v.is_int() || v.is_bool()) return sub_int(0, v.int_value());
  fail(std::string("bad operand type for unary -: '") + type_name(v) + "'");
}

Value unary_plus(const Value& v) {
  if (v.is_undefined()) fail(undefined_error(v));
  if (v.is_float()) return v;
  if (v.is_int() || v.is_bool()) return v.int_value();
  fail(std::string("bad operand type for unary +: '") + type_name(v) + "'");
}

Value binary_op(BinaryExpr::Op op, const Value& a, const Value& b) {
  using Op = BinaryExpr::Op;
  if (a.is_undefined()) fail(undefined_error(a));
  if (b.is_undefined()) fail(undefined_error(b));
  bool numbers = a.is_number() && b.is_number();
  bool floats = numbers && (a.is_float() || b.is_float());
  switch (op) {
    case Op::add:
      if (floats) return a.number_value() + b.number_value();
      if (numbers) return add_int(a.int_value(), b.int_value());
      if (a.is_string() && b.is_string()) {
        check_string_size(a.as_string().size() + b.as_string().size());
        return Value(a.as_string() + b.as_string());
      }
      if (is_list_or_tuple(a) && is_list_or_tuple(b) && a.shape() == b.shape()) {
        check_items(a.as_list().items.size() + b.as_list().items.size());
        std::vector<Value> items = a.as_list().items;
        items.insert(items.end(), b.as_list().items.begin(), b.as_list().items.end());
        return Value::list(std::move(items), a.is_tuple());
      }
      if (a.is_string() || is_list_or_tuple(a))
        fail(std::string("can only concatenate ") + type_name(a) + " (not \"" + type_name(b) + "\") to " + type_name(a));
      fail(operand_error("+", a, b));
    case Op::sub:
      if (floats) return a.number_value() - b.number_value();
      if (numbers) return sub_int(a.int_value(), b.int_value());
      fail(operand_error("-", a, b));
    case Op::mul:
      if (floats) return a.number_value() * b.number_value();
      if (numbers) return mul_int(a.int_value(), b.int_value());
      if ((a.is_string() || is_list_or_tuple(a)) && (b.is_int() || b.is_bool())) return repeat(a, b.int_value());
      if ((b.is_string() || is_list_or_tuple(b)) && (a.is_int() || a.is_bool())) return repeat(b, a.int_value());
      if (a.is_string() || is_list_or_tuple(a) || b.is_string() || is_list_or_tuple(b))
        fail(std::string("can't multiply sequence by non-int of type '") +
             type_name(a.is_string() || is_list_or_tuple(a) ? b : a) + "'");
      fail(operand_error("*", a, b));
    case Op::div:
      if (!numbers) fail(operand_error("/", a, b));
      if (b.number_value() == 0) fail("division by zero");
      return a.number_value() / b.number_value();
    case Op::floordiv:
      if (!numbers) fail(operand_error("//", a, b));
      if (floats) {
        if (b.number_value() == 0) fail("float floor division by zero");
        return python_float_floordiv(a.number_value(), b.number_value());
      } else {
        int64_t x = a.int_value(), y = b.int_value();
        if (y == 0) fail("integer division or modulo by zero");
        if (x == std::numeric_limits<int64_t>::min() && y == -1) overflow();
        int64_t q = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
        return q;
      }
    case Op::mod:
      if (a.is_string()) return Value(percent_format(a.as_string(), b));
      if (!numbers) fail(operand_error("%", a, b));
      if (floats) {
        if (b.number_value() == 0) fail("float modulo by zero");
        return python_float_mod(a.number_value(), b.number_value());
      } else {
        int64_t x = a.int_value(), y = b.int_value();
        if (y == 0) fail("integer modulo by zero");
        if (y == -1) return int64_t{0};
        int64_t m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        return m;
      }
    case Op::pow:
      if (!numbers) fail(operand_error("** or pow()", a, b));
      if (!floats && b.int_value() >= 0) return int_pow(a.int_value(), b.int_value());
      {
        double x = a.number_value(), y = b.number_value();
        if (x == 0 && y < 0) fail("zero to a negative power");
        if (x < 0 && y != std::floor(y)) fail("complex results are not supported");
        return std::pow(x, y);
      }
    default: break;
  }
  fail("unsupported operator");
}

}  // namespace salut::jinja
