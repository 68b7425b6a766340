#include "chat/jinja/value.h"

#include <algorithm>
#include <cmath>

#include "chat/jinja/error.h"
#include "chat/jinja/pyformat.h"

namespace salut::jinja {

namespace {

int depth_of(const std::vector<Value>& items) {
  int depth = 0;
  for (const Value& v : items) depth = std::max(depth, v.depth());
  return depth + 1;
}

void check_depth(int depth) {
  if (depth > kMaxValueDepth) fail("value nested more than " + std::to_string(kMaxValueDepth) + " levels deep");
}

}  // namespace

Value Value::list(std::vector<Value> items, bool is_tuple) {
  return sequence(std::move(items), is_tuple ? Shape::tuple : Shape::list);
}

Value Value::sequence(std::vector<Value> items, Shape shape) {
  auto data = std::make_shared<ListData>();
  data->depth = depth_of(items);
  check_depth(data->depth);
  data->items = std::move(items);
  data->shape = shape;
  return Value(ListPtr(std::move(data)));
}

Value Value::range(std::vector<Value> items, int64_t start, int64_t stop, int64_t step) {
  auto data = std::make_shared<ListData>();
  data->items = std::move(items);
  data->shape = Shape::range;
  data->range_args[0] = start, data->range_args[1] = stop, data->range_args[2] = step;
  return Value(ListPtr(std::move(data)));
}

Value Value::iterator(std::vector<Value> items, const char* type) {
  auto data = std::make_shared<IteratorData>();
  check_depth(depth_of(items));
  data->items = std::move(items);
  data->type = type;
  return Value(IteratorPtr(std::move(data)));
}

Value Value::dict(std::vector<std::pair<Value, Value>> entries) {
  auto data = std::make_shared<DictData>();
  int depth = 0;
  for (const auto& [k, v] : entries) depth = std::max({depth, k.depth(), v.depth()});
  data->depth = depth + 1;
  check_depth(data->depth);
  data->entries = std::move(entries);
  return Value(DictPtr(std::move(data)));
}

int Value::depth() const {
  switch (kind()) {
    case Kind::list: return as_list().depth;
    case Kind::dict: return as_dict().depth;
    default: return 1;  // a namespace counts as 1: its contents are cut loose after each render
  }
}

const std::string& Value::undefined_hint() const {
  static const std::string empty;
  const auto& hint = std::get<Undefined>(v_).hint;
  return hint ? *hint : empty;
}

const Value* DictData::find(const Value& key) const {
  if (key.is_string()) return find(std::string_view(key.as_string()));
  for (const auto& [k, v] : entries)
    if (equal(k, key)) return &v;
  return nullptr;
}

const Value* DictData::find(std::string_view key) const {
  for (const auto& [k, v] : entries)
    if (k.is_string() && k.as_string() == key) return &v;
  return nullptr;
}

const Value* NamespaceData::find(std::string_view name) const {
  for (const auto& [k, v] : attrs)
    if (k == name) return &v;
  return nullptr;
}

void NamespaceData::set(std::string_view name, Value value) {
  for (auto& [k, v] : attrs)
    if (k == name) {
      v = std::move(value);
      return;
    }
  attrs.emplace_back(std::string(name), std::move(value));
}

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::undefined:
    case Value::Kind::none: return false;
    case Value::Kind::boolean: return v.as_bool();
    case Value::Kind::integer: return v.as_int() != 0;
    case Value::Kind::floating: return v.as_float() != 0.0;
    case Value::Kind::string: return !v.as_string().empty();
    case Value::Kind::list: return !v.as_list().items.empty();
    case Value::Kind::dict: return !v.as_dict().entries.empty();
    default: return true;
  }
}

bool equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.number_value() == b.number_value();
    return a.int_value() == b.int_value();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::undefined:
    case Value::Kind::none: return true;
    case Value::Kind::string: return a.as_string() == b.as_string();
    case Value::Kind::list: {
      const auto& x = a.as_list();
      const auto& y = b.as_list();
      if (x.shape != y.shape || x.items.size() != y.items.size()) return false;
      if (x.shape == Shape::dict_values) return &x == &y;  // Python compares values views by identity
      for (size_t i = 0; i < x.items.size(); ++i)
        if (!equal(x.items[i], y.items[i])) return false;
      return true;
    }
    case Value::Kind::dict: {  // same keys and values, in any order
      const auto& x = a.as_dict();
      const auto& y = b.as_dict();
      if (x.entries.size() != y.entries.size()) return false;
      for (const auto& [k, v] : x.entries) {
        const Value* other = y.find(k);
        if (!other || !equal(v, *other)) return false;
      }
      return true;
    }
    case Value::Kind::callable: return &a.as_callable() == &b.as_callable();
    case Value::Kind::ns: return &a.as_namespace() == &b.as_namespace();
    case Value::Kind::loop: return &a.as_loop() == &b.as_loop();
    case Value::Kind::iterator: return &a.as_iterator() == &b.as_iterator();
    default: return false;
  }
}

int compare(const Value& a, const Value& b) {
  if (a.is_undefined()) fail(undefined_error(a));
  if (b.is_undefined()) fail(undefined_error(b));
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      double x = a.number_value(), y = b.number_value();
      return x < y ? -1 : (x > y ? 1 : 0);  // NaN compares equal here; Python says all false
    }
    int64_t x = a.int_value(), y = b.int_value();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    int c = a.as_string().compare(b.as_string());  // UTF-8 byte order is code point order
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_list() && b.is_list() && a.shape() == b.shape() && (a.shape() == Shape::list || a.shape() == Shape::tuple)) {
    const auto& x = a.as_list().items;
    const auto& y = b.as_list().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i)
      if (!equal(x[i], y[i])) return compare(x[i], y[i]);
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  fail(std::string("'<' not supported between instances of '") + type_name(a) + "' and '" + type_name(b) + "'");
}

bool is_hashable(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::dict:
    case Value::Kind::ns:
    case Value::Kind::loop: return false;
    case Value::Kind::list:
      if (v.shape() == Shape::range) return true;
      if (!v.is_tuple()) return false;
      for (const Value& item : v.as_list().items)
        if (!is_hashable(item)) return false;
      return true;
    default: return true;
  }
}

const char* type_name(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::undefined: return "Undefined";
    case Value::Kind::none: return "NoneType";
    case Value::Kind::boolean: return "bool";
    case Value::Kind::integer: return "int";
    case Value::Kind::floating: return "float";
    case Value::Kind::string: return "str";
    case Value::Kind::list:
      switch (v.shape()) {
        case Shape::list: return "list";
        case Shape::tuple: return "tuple";
        case Shape::range: return "range";
        case Shape::dict_keys: return "dict_keys";
        case Shape::dict_values: return "dict_values";
        case Shape::dict_items: return "dict_items";
      }
      return "list";
    case Value::Kind::dict: return "dict";
    case Value::Kind::callable: return "function";
    case Value::Kind::ns: return "TemplateNamespace";
    case Value::Kind::loop: return "LoopContext";
    case Value::Kind::iterator: return v.as_iterator().type;
  }
  return "object";
}

std::string undefined_error(const Value& v) {
  const std::string& hint = v.undefined_hint();
  return hint.empty() ? "'undefined' is undefined" : hint;
}

}  // namespace salut::jinja
