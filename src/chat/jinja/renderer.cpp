#include "chat/jinja/renderer.h"

#include <algorithm>

#include "chat/jinja/builtins.h"
#include "chat/jinja/error.h"
#include "chat/jinja/methods.h"
#include "chat/jinja/pyformat.h"

namespace salut::jinja {

namespace {

// C++ frames through eval/exec; well above what the parser's nesting limits allow in one
// statement, and low enough for small thread stacks even under sanitizers.
constexpr int kMaxRuntimeDepth = 600;

class Macro : public Callable {
 public:
  Macro(const MacroStmt& stmt, std::weak_ptr<Scope> closure) : stmt_(stmt), closure_(std::move(closure)) {}
  Value call(Renderer& r, const Args& args) const override { return r.call_macro(stmt_, closure_.lock(), args); }
  Value call_with_caller(Renderer& r, const Args& args, const Value& caller) const {
    return r.call_macro(stmt_, closure_.lock(), args, &caller);
  }
  std::string repr() const override { return "<Macro " + string_repr(stmt_.name) + ">"; }

 private:
  const MacroStmt& stmt_;
  std::weak_ptr<Scope> closure_;  // weak: the scope holds the macro, so a strong pointer would be a cycle
};

}  // namespace

// ---- Scope ----

const Value* Scope::find(std::string_view name) const {
  for (const Scope* s = this; s; s = s->parent_.get())
    for (const auto& [k, v] : s->vars_)
      if (k == name) return &v;
  return nullptr;
}

void Scope::set(std::string_view name, Value value) {
  for (auto& [k, v] : vars_)
    if (k == name) {
      v = std::move(value);
      return;
    }
  vars_.emplace_back(std::string(name), std::move(value));
}

// ---- Renderer ----

struct Renderer::DepthGuard {
  explicit DepthGuard(Renderer& r) : r_(r) {
    if (++r_.depth_ > kMaxRuntimeDepth || r_.stack_->exceeded()) {
      --r_.depth_;
      fail("template nests too deeply at run time (recursion?)");
    }
  }
  ~DepthGuard() { --r_.depth_; }
  Renderer& r_;
};

namespace {

// Sets a member for the lifetime of a block and puts the old value back, also when a render fails.
template <typename T>
class Swap {
 public:
  Swap(T& slot, T value) : slot_(slot), saved_(std::exchange(slot, std::move(value))) {}
  ~Swap() { slot_ = std::move(saved_); }

 private:
  T& slot_;
  T saved_;
};

}  // namespace

Renderer::Renderer(const RenderOptions& options) : options_(options) {
  limits_.max_string_bytes = options.max_output_bytes;
  limits_.max_items = options.max_items;
}

Renderer::~Renderer() {
  for (auto& ns : namespaces_) ns->attrs.clear();
}

std::string Renderer::render(const Body& body, std::vector<std::pair<std::string, Value>> variables) {
  SizeLimitsScope limits(limits_);
  stack_.emplace(kRenderStackBytes);
  root_ = std::make_shared<Scope>(nullptr);
  for (auto& [name, value] : variables) root_->set(name, std::move(value));
  scope_ = root_;
  std::string out;
  out_ = &out;
  exec_body(body);
  out_ = nullptr;
  return out;
}

void Renderer::step() {
  if (++steps_ > options_.max_steps)
    fail("template took more than " + std::to_string(options_.max_steps) + " steps (endless loop?)");
}

void Renderer::write(std::string_view text) {
  if (out_->size() + text.size() > options_.max_output_bytes)
    fail("template output too large (limit " + std::to_string(options_.max_output_bytes) + " bytes)");
  out_->append(text);
}

std::chrono::system_clock::time_point Renderer::now() const {
  return options_.now ? *options_.now : std::chrono::system_clock::now();
}

NamespacePtr Renderer::new_namespace() {
  check_items(namespaces_.size() + 1);
  namespaces_.push_back(std::make_shared<NamespaceData>());
  return namespaces_.back();
}

// ---- statements ----

Renderer::Flow Renderer::exec_body(const Body& body) {
  for (const StmtPtr& s : body) {
    Flow flow = exec(*s);
    if (flow != Flow::next) return flow;
  }
  return Flow::next;
}

std::string Renderer::capture(const Body& body, std::shared_ptr<Scope> scope) {
  std::string text;
  Swap<std::string*> out(out_, &text);
  Swap<std::shared_ptr<Scope>> vars(scope_, std::move(scope));
  exec_body(body);
  return text;
}

Renderer::Flow Renderer::exec(const Stmt& stmt) {
  step();
  DepthGuard guard(*this);
  switch (stmt.kind) {
    case Stmt::Kind::text: write(static_cast<const TextStmt&>(stmt).text); break;
    case Stmt::Kind::print: {
      Value v = eval(*static_cast<const PrintStmt&>(stmt).expr);
      if (v.is_string()) write(v.as_string());
      else write(py_str(v));
      break;
    }
    case Stmt::Kind::if_: {
      const auto& s = static_cast<const IfStmt&>(stmt);
      for (const auto& [test, body] : s.branches)
        if (truthy(eval(*test))) return exec_body(body);
      return exec_body(s.otherwise);
    }
    case Stmt::Kind::for_: return exec_for(static_cast<const ForStmt&>(stmt));
    case Stmt::Kind::set: {
      const auto& s = static_cast<const SetStmt&>(stmt);
      exec_set(s.target, eval(*s.value));
      break;
    }
    case Stmt::Kind::set_block: {
      const auto& s = static_cast<const SetBlockStmt&>(stmt);
      Value v(capture(s.body, std::make_shared<Scope>(scope_)));
      if (s.filter) v = eval_filter(static_cast<const FilterExpr&>(*s.filter), &v);
      exec_set(s.target, std::move(v));
      break;
    }
    case Stmt::Kind::macro: {
      const auto& s = static_cast<const MacroStmt&>(stmt);
      scope_->set(s.name, Value(CallablePtr(std::make_shared<Macro>(s, scope_))));
      break;
    }
    case Stmt::Kind::call_block: {
      const auto& s = static_cast<const CallBlockStmt&>(stmt);
      Value caller(CallablePtr(std::make_shared<Macro>(s.caller, scope_)));
      const auto& call = static_cast<const CallExpr&>(*s.call);
      Value callee = eval(*call.callee);
      const auto* macro = callee.is_callable() ? dynamic_cast<const Macro*>(&callee.as_callable()) : nullptr;
      if (!macro) fail("{% call %} needs a macro to call");
      write(py_str(macro->call_with_caller(*this, eval_args(call.args), caller)));
      break;
    }
    case Stmt::Kind::filter_block: {
      const auto& s = static_cast<const FilterBlockStmt&>(stmt);
      Value body(capture(s.body, std::make_shared<Scope>(scope_)));
      write(py_str(eval_filter(static_cast<const FilterExpr&>(*s.filter), &body)));
      break;
    }
    case Stmt::Kind::with: {
      const auto& s = static_cast<const WithStmt&>(stmt);
      std::vector<Value> values;  // evaluated outside, like jinja2
      for (const auto& [target, expr] : s.assignments) values.push_back(eval(*expr));
      Swap<std::shared_ptr<Scope>> vars(scope_, std::make_shared<Scope>(scope_));
      for (size_t i = 0; i < values.size(); ++i) exec_set(s.assignments[i].first, std::move(values[i]));
      return exec_body(s.body);
    }
    case Stmt::Kind::scope: {
      Swap<std::shared_ptr<Scope>> vars(scope_, std::make_shared<Scope>(scope_));
      return exec_body(static_cast<const ScopeStmt&>(stmt).body);
    }
    case Stmt::Kind::break_: return Flow::break_loop;
    case Stmt::Kind::continue_: return Flow::continue_loop;
  }
  return Flow::next;
}

Renderer::Flow Renderer::exec_for(const ForStmt& stmt) {
  std::vector<Value> items = iterate(eval(*stmt.iterable));
  Swap<std::shared_ptr<Scope>> vars(scope_, std::make_shared<Scope>(scope_));
  if (stmt.filter) {  // `for x in xs if cond`: loop.index and loop.length count only kept items
    std::vector<Value> kept;
    for (Value& item : items) {
      step();
      exec_set(stmt.target, item);
      if (truthy(eval(*stmt.filter))) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    exec_body(stmt.otherwise);
    return Flow::next;
  }
  auto loop = std::make_shared<LoopData>();
  auto list = std::make_shared<ListData>();
  list->items = std::move(items);
  loop->items = list;
  scope_->keep_first(0);  // the filter above bound the target
  scope_->set("loop", Value(loop));
  for (size_t i = 0; i < list->items.size(); ++i) {
    step();
    scope_->keep_first(1);  // jinja2 starts every iteration from the enclosing variables
    loop->index0 = static_cast<int64_t>(i);
    exec_set(stmt.target, list->items[i]);
    if (exec_body(stmt.body) == Flow::break_loop) break;
  }
  return Flow::next;
}

void Renderer::exec_set(const Target& target, Value value) {
  if (!target.namespace_attr.empty()) {
    const Value* ns = scope_->find(target.names[0]);
    if (!ns || !ns->is_namespace()) fail("cannot assign attribute on non-namespace object");
    if (target.namespace_attr[0] == '_')
      fail("Chat templates cannot store underscore-prefixed attributes on a namespace, but got " +
           string_repr(target.namespace_attr) + ". Please rename the attribute.");
    ns->as_namespace().set(target.namespace_attr, std::move(value));
    return;
  }
  if (!target.unpack) {
    scope_->set(target.names[0], std::move(value));
    return;
  }
  std::vector<Value> parts = iterate(value);
  size_t n = target.names.size();
  if (parts.size() < n)
    fail("not enough values to unpack (expected " + std::to_string(n) + ", got " + std::to_string(parts.size()) + ")");
  if (parts.size() > n) fail("too many values to unpack (expected " + std::to_string(n) + ")");
  for (size_t i = 0; i < n; ++i) scope_->set(target.names[i], std::move(parts[i]));
}

// ---- expressions ----

Value Renderer::eval(const Expr& expr) {
  step();
  DepthGuard guard(*this);
  switch (expr.kind) {
    case Expr::Kind::literal: return static_cast<const LiteralExpr&>(expr).value;
    case Expr::Kind::name: return eval_name(static_cast<const NameExpr&>(expr));
    case Expr::Kind::list: {
      const auto& e = static_cast<const ListExpr&>(expr);
      std::vector<Value> items;
      items.reserve(e.items.size());
      for (const auto& item : e.items) items.push_back(eval(*item));
      return Value::list(std::move(items), e.is_tuple);
    }
    case Expr::Kind::dict: {
      std::vector<std::pair<Value, Value>> entries;
      for (const auto& [key_expr, value_expr] : static_cast<const DictExpr&>(expr).items) {
        Value key = eval(*key_expr);
        if (!is_hashable(key)) fail(std::string("unhashable type: '") + type_name(key) + "'");
        Value value = eval(*value_expr);
        auto same = std::find_if(entries.begin(), entries.end(), [&](const auto& e) { return equal(e.first, key); });
        if (same != entries.end()) same->second = std::move(value);
        else entries.emplace_back(std::move(key), std::move(value));
      }
      return Value::dict(std::move(entries));
    }
    case Expr::Kind::getattr: {
      const auto& e = static_cast<const GetAttrExpr&>(expr);
      return get_attr(eval(*e.object), e.name);
    }
    case Expr::Kind::getitem: {
      const auto& e = static_cast<const GetItemExpr&>(expr);
      Value obj = eval(*e.object);
      return get_item(obj, eval(*e.index));
    }
    case Expr::Kind::slice: {
      const auto& e = static_cast<const SliceExpr&>(expr);
      Value obj = eval(*e.object);
      auto part = [&](const ExprPtr& p) { return p ? eval(*p) : Value(None{}); };
      Value start = part(e.start), stop = part(e.stop), step_value = part(e.step);
      return get_slice(obj, start, stop, step_value);
    }
    case Expr::Kind::call: return eval_call(static_cast<const CallExpr&>(expr));
    case Expr::Kind::filter: return eval_filter(static_cast<const FilterExpr&>(expr), nullptr);
    case Expr::Kind::test: {
      const auto& e = static_cast<const TestExpr&>(expr);
      Value input = eval(*e.input);
      Args args = eval_args(e.args);
      if (!e.fn) fail("No test named " + string_repr(e.name) + " found.");  // allowed in an if, fails when run
      bool result = e.fn(*this, input, args);
      return e.negated ? !result : result;
    }
    case Expr::Kind::unary: {
      const auto& e = static_cast<const UnaryExpr&>(expr);
      Value v = eval(*e.operand);
      if (e.op == UnaryExpr::Op::logical_not) return !truthy(v);
      return e.op == UnaryExpr::Op::negate ? negate(v) : unary_plus(v);
    }
    case Expr::Kind::binary: {
      const auto& e = static_cast<const BinaryExpr&>(expr);
      Value left = eval(*e.left);
      if (e.op == BinaryExpr::Op::logical_and) return truthy(left) ? eval(*e.right) : left;
      if (e.op == BinaryExpr::Op::logical_or) return truthy(left) ? left : eval(*e.right);
      return binary_op(e.op, left, eval(*e.right));
    }
    case Expr::Kind::concat: {
      std::string text;
      for (const auto& part : static_cast<const ConcatExpr&>(expr).parts) {
        py_str_to(eval(*part), text);
        check_string_size(text.size());
      }
      return Value(std::move(text));
    }
    case Expr::Kind::compare: return eval_compare(static_cast<const CompareExpr&>(expr));
    case Expr::Kind::cond: {
      const auto& e = static_cast<const CondExpr&>(expr);
      if (truthy(eval(*e.condition))) return eval(*e.then);
      if (e.otherwise) return eval(*e.otherwise);
      return Value::undefined("the inline if-expression on line " + std::to_string(e.line) +
                              " evaluated to false and no else section was defined.");
    }
  }
  fail("unknown expression");
}

Value Renderer::eval_name(const NameExpr& expr) {
  if (const Value* v = scope_->find(expr.name)) return *v;
  if (const Value* v = find_global(expr.name)) return *v;
  return Value::undefined(string_repr(expr.name) + " is undefined");
}

Value Renderer::eval_compare(const CompareExpr& expr) {
  Value left = eval(*expr.first);
  for (const auto& [op, operand] : expr.rest) {
    Value right = eval(*operand);
    bool ok = false;
    switch (op) {
      case CompareOp::eq: ok = equal(left, right); break;
      case CompareOp::ne: ok = !equal(left, right); break;
      case CompareOp::lt: ok = compare(left, right) < 0; break;
      case CompareOp::le: ok = compare(left, right) <= 0; break;
      case CompareOp::gt: ok = compare(left, right) > 0; break;
      case CompareOp::ge: ok = compare(left, right) >= 0; break;
      case CompareOp::in: ok = contains(right, left); break;
      case CompareOp::not_in: ok = !contains(right, left); break;
    }
    if (!ok) return false;
    left = std::move(right);
  }
  return true;
}

Args Renderer::eval_args(const CallArgs& args) {
  Args out;
  out.positional.reserve(args.positional.size());
  for (const auto& e : args.positional) out.positional.push_back(eval(*e));
  if (args.star_args)
    for (Value& v : iterate(eval(*args.star_args))) out.positional.push_back(std::move(v));
  for (const auto& [name, e] : args.keyword) out.keyword.emplace_back(name, eval(*e));
  if (args.star_kwargs) {
    Value kwargs = eval(*args.star_kwargs);
    if (!kwargs.is_dict()) fail("argument after ** must be a mapping, not " + std::string(type_name(kwargs)));
    for (const auto& [k, v] : kwargs.as_dict().entries) {
      if (!k.is_string()) fail("keywords must be strings");
      out.keyword.emplace_back(k.as_string(), v);
    }
  }
  return out;
}

Value Renderer::eval_call(const CallExpr& expr) {
  Value callee;
  if (expr.callee->kind == Expr::Kind::getattr) {  // x.method(...) without building a bound method
    const auto& attr = static_cast<const GetAttrExpr&>(*expr.callee);
    Value obj = eval(*attr.object);
    if (!obj.is_undefined() && method_kind(obj, attr.name) == MethodKind::safe)
      return call_method(obj, attr.name, eval_args(expr.args));
    callee = get_attr(obj, attr.name);
  } else {
    callee = eval(*expr.callee);
  }
  return call(callee, eval_args(expr.args));
}

Value Renderer::call(const Value& callee, const Args& args) {
  if (callee.is_callable()) return callee.as_callable().call(*this, args);
  if (callee.is_undefined()) fail(undefined_error(callee));
  fail(std::string("'") + type_name(callee) + "' object is not callable");
}

Value Renderer::eval_filter(const FilterExpr& expr, const Value* block_input) {
  Value input;
  if (expr.input && expr.input->kind == Expr::Kind::filter) {
    step();
    DepthGuard guard(*this);
    input = eval_filter(static_cast<const FilterExpr&>(*expr.input), block_input);
  } else if (expr.input) {
    input = eval(*expr.input);
  } else if (block_input) {
    input = *block_input;
  }
  Args args = eval_args(expr.args);
  if (!expr.fn) fail("No filter named " + string_repr(expr.name) + " found.");  // allowed in an if, fails when run
  return expr.fn(*this, input, args);
}

Value Renderer::apply_filter(std::string_view name, const Value& input, const Args& args) {
  FilterFn fn = find_filter(name);
  if (!fn) fail("No filter named " + string_repr(name) + ".");
  step();
  return fn(*this, input, args);
}

bool Renderer::apply_test(std::string_view name, const Value& input, const Args& args) {
  TestFn fn = find_test(name);
  if (!fn) fail("No test named " + string_repr(name) + ".");
  step();
  return fn(*this, input, args);
}

Value Renderer::call_macro(const MacroStmt& macro, std::shared_ptr<Scope> closure, const Args& args,
                           const Value* caller) {
  if (call_depth_ >= options_.max_call_depth)
    fail("macro calls nested more than " + std::to_string(options_.max_call_depth) + " deep (endless recursion?)");
  ++call_depth_;
  struct Leave {
    int& depth;
    ~Leave() { --depth; }
  } leave{call_depth_};

  const auto& params = macro.params;
  if (args.positional.size() > params.size())
    fail("macro " + string_repr(macro.name) + " takes not more than " + std::to_string(params.size()) + " argument(s)");
  auto scope = std::make_shared<Scope>(closure ? std::move(closure) : root_);
  if (caller) scope->set("caller", *caller);
  std::vector<bool> given(params.size(), false);
  for (size_t i = 0; i < args.positional.size(); ++i) {
    scope->set(params[i].first, args.positional[i]);
    given[i] = true;
  }
  for (const auto& [name, value] : args.keyword) {
    size_t i = 0;
    while (i < params.size() && params[i].first != name) ++i;
    if (i == params.size()) fail("macro " + string_repr(macro.name) + " takes no keyword argument " + string_repr(name));
    if (given[i]) fail("macro " + string_repr(macro.name) + " got multiple values for argument " + string_repr(name));
    scope->set(name, value);
    given[i] = true;
  }
  for (size_t i = 0; i < params.size(); ++i) {
    if (given[i]) continue;
    if (params[i].second) {  // defaults see the parameters before them
      Swap<std::shared_ptr<Scope>> vars(scope_, scope);
      scope->set(params[i].first, eval(*params[i].second));
    } else {
      scope->set(params[i].first, Value::undefined("parameter " + string_repr(params[i].first) + " was not provided"));
    }
  }
  return Value(capture(macro.body, std::move(scope)));
}

}  // namespace salut::jinja
