#pragma once
// Python object semantics the template language is built on: attribute and item access (as
// jinja2's sandbox does them), iteration, len(), `in`, and the arithmetic operators.

#include <cstddef>
#include <string_view>
#include <vector>

#include "chat/jinja/ast.h"
#include "chat/jinja/value.h"

namespace salut::jinja {

// Sizes a render may build, so a template cannot exhaust memory. The renderer makes its limits
// the active ones for the length of a render (per thread); outside a render the defaults apply.
struct SizeLimits {
  size_t max_string_bytes = 64 << 20;
  size_t max_items = 1 << 20;
};
const SizeLimits& size_limits();
class SizeLimitsScope {
 public:
  explicit SizeLimitsScope(const SizeLimits& limits);
  ~SizeLimitsScope();
  SizeLimitsScope(const SizeLimitsScope&) = delete;
  SizeLimitsScope& operator=(const SizeLimitsScope&) = delete;

 private:
  const SizeLimits* previous_;
};

Value get_attr(const Value& obj, std::string_view name);  // obj.name: attributes first, then items
Value get_item(const Value& obj, const Value& key);       // obj[key]: items first, then attributes
Value get_python_attribute(const Value& obj, std::string_view name);  // getattr(obj, name) only (the attr filter)
Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step);
std::vector<Value> iterate(const Value& v);  // what `for x in v` sees
int64_t length(const Value& v);               // len(v)
bool contains(const Value& container, const Value& item);  // item in container

Value binary_op(BinaryExpr::Op op, const Value& a, const Value& b);
Value negate(const Value& v);
Value unary_plus(const Value& v);

// Python's int(x) for an index or count argument; throws TypeError for other types.
int64_t to_index(const Value& v, const char* what);
void check_string_size(size_t bytes);  // against the active limits
void check_items(size_t items);

// The Undefined jinja2 makes for a missing attribute or item of obj ("'dict object' has no attribute 'x'").
Value missing_attribute(const Value& obj, std::string_view name);
Value missing_item(const Value& obj, const Value& key);

}  // namespace salut::jinja
