#pragma once
// The values a chat template sees and makes, modelled on the Python objects jinja2 works with:
// Undefined, None, bool, int, float, str, list/tuple, dict (insertion-ordered), callables
// (macros, builtins, bound methods), namespace() objects and the `loop` object.
// Strings, lists and dicts are immutable once built (transformers renders in jinja2's
// ImmutableSandboxedEnvironment), so values share them through shared_ptr; copying a Value is cheap.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace salut::jinja {

class Value;
class Callable;
class Renderer;

// A missing value. `hint` is the message an operation on it fails with ("'x' is undefined").
struct Undefined {
  std::shared_ptr<const std::string> hint;
};
struct None {};

// Python's sequence types that templates meet. They differ in printing, JSON, `+` and subscripts.
enum class Shape : uint8_t {
  list,
  tuple,
  range,        // range(...): prints as range(a, b)
  dict_keys,    // d.keys(), d.values(), d.items(): views, not subscriptable
  dict_values,
  dict_items,
};

struct ListData {
  std::vector<Value> items;
  Shape shape = Shape::list;
  int depth = 1;                       // nesting depth, bounded so that printing and freeing never overflow the stack
  int64_t range_args[3] = {0, 0, 1};   // start, stop, step of a range
};

// A one-pass iterator: what jinja2's map, select, unique, items, batch and reverse filters return.
// Always true, has no len(), and is used up by iterating it. Its items are computed eagerly; an
// error found while computing them is kept and raised when the iterator is first used, as jinja2's
// lazy generators would.
struct IteratorData {
  std::vector<Value> items;
  size_t position = 0;
  std::string error;
  const char* type = "generator";  // Python's type name
};

struct DictData {
  std::vector<std::pair<Value, Value>> entries;  // insertion order, like a Python dict
  int depth = 1;
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
};

// namespace(): the one mutable object (`{% set ns.x = ... %}`).
struct NamespaceData {
  std::vector<std::pair<std::string, Value>> attrs;
  const Value* find(std::string_view name) const;
  void set(std::string_view name, Value value);
};

// The `loop` object of a for loop; the loop updates it in place each iteration.
struct LoopData {
  std::shared_ptr<const ListData> items;
  int64_t index0 = 0;
  std::vector<Value> changed_args;  // the last loop.changed(...) arguments
  bool changed_called = false;
};

using StringPtr = std::shared_ptr<const std::string>;
using ListPtr = std::shared_ptr<const ListData>;
using DictPtr = std::shared_ptr<const DictData>;
using CallablePtr = std::shared_ptr<const Callable>;
using NamespacePtr = std::shared_ptr<NamespaceData>;
using LoopPtr = std::shared_ptr<LoopData>;
using IteratorPtr = std::shared_ptr<IteratorData>;

class Value {
 public:
  // Same order as the variant below.
  enum class Kind : uint8_t { undefined, none, boolean, integer, floating, string, list, dict, callable, ns, loop, iterator };

  Value() : v_(Undefined{}) {}
  Value(None) : v_(None{}) {}
  Value(Undefined u) : v_(std::move(u)) {}
  Value(bool b) : v_(b) {}
  Value(int i) : v_(static_cast<int64_t>(i)) {}
  Value(int64_t i) : v_(i) {}
  Value(double f) : v_(f) {}
  Value(const char* s) : v_(std::make_shared<const std::string>(s)) {}
  Value(std::string s) : v_(std::make_shared<const std::string>(std::move(s))) {}
  Value(std::string_view s) : v_(std::make_shared<const std::string>(s)) {}
  Value(StringPtr s) : v_(std::move(s)) {}
  Value(ListPtr l) : v_(std::move(l)) {}
  Value(DictPtr d) : v_(std::move(d)) {}
  Value(CallablePtr c) : v_(std::move(c)) {}
  Value(NamespacePtr n) : v_(std::move(n)) {}
  Value(LoopPtr l) : v_(std::move(l)) {}
  Value(IteratorPtr i) : v_(std::move(i)) {}

  static Value undefined(std::string hint) { return Undefined{std::make_shared<const std::string>(std::move(hint))}; }
  static Value list(std::vector<Value> items, bool is_tuple = false);  // throws if nested too deep
  static Value sequence(std::vector<Value> items, Shape shape);
  static Value range(std::vector<Value> items, int64_t start, int64_t stop, int64_t step);
  static Value iterator(std::vector<Value> items, const char* type = "generator");
  static Value dict(std::vector<std::pair<Value, Value>> entries);     // keys must be unique

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_undefined() const { return kind() == Kind::undefined; }
  bool is_none() const { return kind() == Kind::none; }
  bool is_bool() const { return kind() == Kind::boolean; }
  bool is_int() const { return kind() == Kind::integer; }
  bool is_float() const { return kind() == Kind::floating; }
  bool is_number() const { return is_bool() || is_int() || is_float(); }  // Python: bool is an int
  bool is_string() const { return kind() == Kind::string; }
  bool is_list() const { return kind() == Kind::list; }  // list or tuple
  bool is_tuple() const { return is_list() && as_list().shape == Shape::tuple; }
  bool is_plain_list() const { return is_list() && as_list().shape == Shape::list; }
  Shape shape() const { return as_list().shape; }
  bool is_dict() const { return kind() == Kind::dict; }
  bool is_callable() const { return kind() == Kind::callable; }
  bool is_namespace() const { return kind() == Kind::ns; }
  bool is_loop() const { return kind() == Kind::loop; }
  bool is_iterator() const { return kind() == Kind::iterator; }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_float() const { return std::get<double>(v_); }
  const std::string& as_string() const { return *std::get<StringPtr>(v_); }
  const StringPtr& string_ptr() const { return std::get<StringPtr>(v_); }
  const ListData& as_list() const { return *std::get<ListPtr>(v_); }
  const ListPtr& list_ptr() const { return std::get<ListPtr>(v_); }
  const DictData& as_dict() const { return *std::get<DictPtr>(v_); }
  const Callable& as_callable() const { return *std::get<CallablePtr>(v_); }
  NamespaceData& as_namespace() const { return *std::get<NamespacePtr>(v_); }
  LoopData& as_loop() const { return *std::get<LoopPtr>(v_); }
  IteratorData& as_iterator() const { return *std::get<IteratorPtr>(v_); }
  const std::string& undefined_hint() const;

  // int for bool/int (Python's int(True) == 1); only valid when is_bool() || is_int().
  int64_t int_value() const { return is_bool() ? (as_bool() ? 1 : 0) : as_int(); }
  double number_value() const { return is_float() ? as_float() : static_cast<double>(int_value()); }
  int depth() const;  // 1 for scalars

 private:
  std::variant<Undefined, None, bool, int64_t, double, StringPtr, ListPtr, DictPtr, CallablePtr, NamespacePtr, LoopPtr,
               IteratorPtr>
      v_;
};

// Python semantics.
bool truthy(const Value& v);
bool equal(const Value& a, const Value& b);       // ==
int compare(const Value& a, const Value& b);      // <0, 0, >0 for <, ==, >; throws TypeError when unorderable
bool is_hashable(const Value& v);
const char* type_name(const Value& v);            // Python's type(v).__name__: "str", "dict", ...
std::string undefined_error(const Value& v);       // the message an operation on an Undefined raises

constexpr int kMaxValueDepth = 256;  // nesting of lists and dicts

}  // namespace salut::jinja
