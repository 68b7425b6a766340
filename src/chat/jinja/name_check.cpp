#include "chat/jinja/name_check.h"

#include "chat/jinja/error.h"

namespace salut::jinja {

namespace {

// jinja2 refuses an unknown filter or test when it compiles the template, except inside an `if`
// (test and branches) or an inline `a if b else c`, where it fails only if evaluated. Loops,
// macros and blocks start a fresh frame that is strict again.
class NameChecker {
 public:
  void body(const Body& stmts, bool soft) {
    for (const StmtPtr& s : stmts) stmt(*s, soft);
  }

 private:
  [[noreturn]] static void unknown(const char* what, const std::string& name, int line) {
    fail("syntax error at line " + std::to_string(line) + ": No " + what + " named '" + name + "'.");
  }

  void stmt(const Stmt& s, bool soft) {
    switch (s.kind) {
      case Stmt::Kind::print: expr(static_cast<const PrintStmt&>(s).expr.get(), soft); break;
      case Stmt::Kind::if_: {
        const auto& x = static_cast<const IfStmt&>(s);
        for (const auto& [test, branch] : x.branches) {
          expr(test.get(), true);
          body(branch, true);
        }
        body(x.otherwise, true);
        break;
      }
      case Stmt::Kind::for_: {
        const auto& x = static_cast<const ForStmt&>(s);
        expr(x.iterable.get(), soft);
        expr(x.filter.get(), false);
        body(x.body, false);
        body(x.otherwise, false);
        break;
      }
      case Stmt::Kind::set: expr(static_cast<const SetStmt&>(s).value.get(), soft); break;
      case Stmt::Kind::set_block: {
        const auto& x = static_cast<const SetBlockStmt&>(s);
        expr(x.filter.get(), false);
        body(x.body, false);
        break;
      }
      case Stmt::Kind::macro: macro(static_cast<const MacroStmt&>(s)); break;
      case Stmt::Kind::call_block: {
        const auto& x = static_cast<const CallBlockStmt&>(s);
        macro(x.caller);
        expr(x.call.get(), soft);
        break;
      }
      case Stmt::Kind::filter_block: {
        const auto& x = static_cast<const FilterBlockStmt&>(s);
        expr(x.filter.get(), false);
        body(x.body, false);
        break;
      }
      case Stmt::Kind::with: {
        const auto& x = static_cast<const WithStmt&>(s);
        for (const auto& [target, value] : x.assignments) expr(value.get(), soft);
        body(x.body, false);
        break;
      }
      case Stmt::Kind::scope: body(static_cast<const ScopeStmt&>(s).body, false); break;
      default: break;
    }
  }

  void macro(const MacroStmt& m) {
    for (const auto& [name, default_value] : m.params) expr(default_value.get(), false);
    body(m.body, false);
  }

  void args(const CallArgs& a, bool soft) {
    for (const auto& e : a.positional) expr(e.get(), soft);
    for (const auto& [k, e] : a.keyword) expr(e.get(), soft);
    expr(a.star_args.get(), soft);
    expr(a.star_kwargs.get(), soft);
  }

  void expr(const Expr* e, bool soft) {
    if (!e) return;
    switch (e->kind) {
      case Expr::Kind::literal:
      case Expr::Kind::name: break;
      case Expr::Kind::list:
        for (const auto& item : static_cast<const ListExpr*>(e)->items) expr(item.get(), soft);
        break;
      case Expr::Kind::dict:
        for (const auto& [k, v] : static_cast<const DictExpr*>(e)->items) expr(k.get(), soft), expr(v.get(), soft);
        break;
      case Expr::Kind::getattr: expr(static_cast<const GetAttrExpr*>(e)->object.get(), soft); break;
      case Expr::Kind::getitem: {
        const auto* x = static_cast<const GetItemExpr*>(e);
        expr(x->object.get(), soft);
        expr(x->index.get(), soft);
        break;
      }
      case Expr::Kind::slice: {
        const auto* x = static_cast<const SliceExpr*>(e);
        for (const Expr* part : {x->object.get(), x->start.get(), x->stop.get(), x->step.get()}) expr(part, soft);
        break;
      }
      case Expr::Kind::call: {
        const auto* x = static_cast<const CallExpr*>(e);
        expr(x->callee.get(), soft);
        args(x->args, soft);
        break;
      }
      case Expr::Kind::filter: {
        const auto* x = static_cast<const FilterExpr*>(e);
        if (!x->fn && !soft) unknown("filter", x->name, x->line);
        expr(x->input.get(), soft);
        args(x->args, soft);
        break;
      }
      case Expr::Kind::test: {
        const auto* x = static_cast<const TestExpr*>(e);
        if (!x->fn && !soft) unknown("test", x->name, x->line);
        expr(x->input.get(), soft);
        args(x->args, soft);
        break;
      }
      case Expr::Kind::unary: expr(static_cast<const UnaryExpr*>(e)->operand.get(), soft); break;
      case Expr::Kind::binary: {
        const auto* x = static_cast<const BinaryExpr*>(e);
        expr(x->left.get(), soft);
        expr(x->right.get(), soft);
        break;
      }
      case Expr::Kind::concat:
        for (const auto& part : static_cast<const ConcatExpr*>(e)->parts) expr(part.get(), soft);
        break;
      case Expr::Kind::compare: {
        const auto* x = static_cast<const CompareExpr*>(e);
        expr(x->first.get(), soft);
        for (const auto& [op, operand] : x->rest) expr(operand.get(), soft);
        break;
      }
      case Expr::Kind::cond: {
        const auto* x = static_cast<const CondExpr*>(e);
        for (const Expr* part : {x->condition.get(), x->then.get(), x->otherwise.get()}) expr(part, true);
        break;
      }
    }
  }
};

}  // namespace

void check_names(const Body& body) { NameChecker().body(body, false); }

}  // namespace salut::jinja
