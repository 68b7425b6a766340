#pragma once
// Executes a parsed template: a tree-walking interpreter with jinja2's scoping rules (for loops,
// macros and blocks get their own variables; if does not), bounded in steps, depth and output.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/jinja/ast.h"
#include "chat/jinja/ops.h"
#include "chat/jinja/stack_budget.h"

namespace salut::jinja {

struct RenderOptions {
  size_t max_output_bytes = 64 << 20;  // also the largest string a render may build
  size_t max_items = 1 << 20;           // the longest list or dict
  size_t max_steps = 10'000'000;        // expressions and statements evaluated: stops runaway loops
  int max_call_depth = 100;             // nested macro calls
  // strftime_now() reads this clock when set (tests), else the system clock.
  std::optional<std::chrono::system_clock::time_point> now;
};

// Variables of one level: the template, a for loop, a macro call, a block.
class Scope {
 public:
  explicit Scope(std::shared_ptr<Scope> parent) : parent_(std::move(parent)) {}
  const Value* find(std::string_view name) const;  // here, then the enclosing scopes
  void set(std::string_view name, Value value);    // always here
  void keep_first(size_t n) {  // drops the variables set after the first n
    if (vars_.size() > n) vars_.resize(n);
  }

 private:
  std::shared_ptr<Scope> parent_;
  std::vector<std::pair<std::string, Value>> vars_;
};

class Renderer {
 public:
  explicit Renderer(const RenderOptions& options);
  ~Renderer();
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  std::string render(const Body& body, std::vector<std::pair<std::string, Value>> variables);

  // Used by filters, tests and globals.
  Value apply_filter(std::string_view name, const Value& input, const Args& args);
  bool apply_test(std::string_view name, const Value& input, const Args& args);
  Value call(const Value& callee, const Args& args);
  // caller: the body of a {% call %} block, visible in the macro as caller()
  Value call_macro(const MacroStmt& macro, std::shared_ptr<Scope> closure, const Args& args,
                   const Value* caller = nullptr);
  NamespacePtr new_namespace();
  std::chrono::system_clock::time_point now() const;

 private:
  enum class Flow { next, break_loop, continue_loop };

  Flow exec_body(const Body& body);
  Flow exec(const Stmt& stmt);
  Flow exec_for(const ForStmt& stmt);
  void exec_set(const Target& target, Value value);
  std::string capture(const Body& body, std::shared_ptr<Scope> scope);  // renders body into a string
  void write(std::string_view text);

  Value eval(const Expr& expr);
  Value eval_name(const NameExpr& expr);
  Value eval_call(const CallExpr& expr);
  Value eval_compare(const CompareExpr& expr);
  Value eval_filter(const FilterExpr& expr, const Value* block_input);
  Args eval_args(const CallArgs& args);
  void step();

  struct DepthGuard;  // bounds C++ recursion through eval/exec

  RenderOptions options_;
  SizeLimits limits_;
  std::shared_ptr<Scope> root_;   // the template's own variables
  std::shared_ptr<Scope> scope_;  // the innermost scope
  std::string* out_ = nullptr;
  std::optional<StackBudget> stack_;  // set at the start of render()
  size_t steps_ = 0;
  int depth_ = 0;
  int call_depth_ = 0;
  std::vector<NamespacePtr> namespaces_;  // emptied at the end so that cycles through them are freed
};

}  // namespace salut::jinja
