#pragma once
// The parsed template: expressions and statements, built once by the parser and then only read.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja/callable.h"
#include "chat/jinja/value.h"

namespace salut::jinja {

using FilterFn = Value (*)(Renderer&, const Value& input, const Args& args);
using TestFn = bool (*)(Renderer&, const Value& input, const Args& args);

// ---- expressions ----

struct Expr {
  enum class Kind {
    literal, name, list, dict, getattr, getitem, slice, call, filter, test, unary, binary, concat, compare, cond
  };
  Expr(Kind k, int l) : kind(k), line(l) {}
  virtual ~Expr() = default;
  Kind kind;
  int line;
  int depth = 1;  // of the subtree; the parser bounds it so evaluating and freeing never overflow the stack
};
using ExprPtr = std::unique_ptr<Expr>;

struct CallArgs {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
  ExprPtr star_args;    // *args
  ExprPtr star_kwargs;  // **kwargs
};

struct LiteralExpr : Expr {
  LiteralExpr(Value v, int l) : Expr(Kind::literal, l), value(std::move(v)) {}
  Value value;
};
struct NameExpr : Expr {
  NameExpr(std::string n, int l) : Expr(Kind::name, l), name(std::move(n)) {}
  std::string name;
};
struct ListExpr : Expr {  // [a, b] or a tuple (a, b)
  ListExpr(bool tuple, int l) : Expr(Kind::list, l), is_tuple(tuple) {}
  std::vector<ExprPtr> items;
  bool is_tuple;
};
struct DictExpr : Expr {
  explicit DictExpr(int l) : Expr(Kind::dict, l) {}
  std::vector<std::pair<ExprPtr, ExprPtr>> items;
};
struct GetAttrExpr : Expr {  // obj.name
  GetAttrExpr(ExprPtr o, std::string n, int l) : Expr(Kind::getattr, l), object(std::move(o)), name(std::move(n)) {}
  ExprPtr object;
  std::string name;
};
struct GetItemExpr : Expr {  // obj[index]
  GetItemExpr(ExprPtr o, ExprPtr i, int l) : Expr(Kind::getitem, l), object(std::move(o)), index(std::move(i)) {}
  ExprPtr object, index;
};
struct SliceExpr : Expr {  // obj[start:stop:step]; missing parts are null
  explicit SliceExpr(int l) : Expr(Kind::slice, l) {}
  ExprPtr object, start, stop, step;
};
struct CallExpr : Expr {
  CallExpr(ExprPtr c, int l) : Expr(Kind::call, l), callee(std::move(c)) {}
  ExprPtr callee;
  CallArgs args;
};
struct FilterExpr : Expr {  // input|name(args); input is null inside {% filter %} and {% set x | f %}
  FilterExpr(ExprPtr in, std::string n, FilterFn f, int l)
      : Expr(Kind::filter, l), input(std::move(in)), name(std::move(n)), fn(f) {}
  ExprPtr input;
  std::string name;
  FilterFn fn;
  CallArgs args;
};
struct TestExpr : Expr {  // input is [not] name(args)
  TestExpr(ExprPtr in, std::string n, TestFn f, bool neg, int l)
      : Expr(Kind::test, l), input(std::move(in)), name(std::move(n)), fn(f), negated(neg) {}
  ExprPtr input;
  std::string name;
  TestFn fn;
  bool negated;
  CallArgs args;
};
struct UnaryExpr : Expr {
  enum class Op { logical_not, negate, plus };
  UnaryExpr(Op o, ExprPtr e, int l) : Expr(Kind::unary, l), op(o), operand(std::move(e)) {}
  Op op;
  ExprPtr operand;
};
struct BinaryExpr : Expr {
  enum class Op { add, sub, mul, div, floordiv, mod, pow, logical_and, logical_or };
  BinaryExpr(Op o, ExprPtr a, ExprPtr b, int l) : Expr(Kind::binary, l), op(o), left(std::move(a)), right(std::move(b)) {}
  Op op;
  ExprPtr left, right;
};
struct ConcatExpr : Expr {  // a ~ b ~ c
  explicit ConcatExpr(int l) : Expr(Kind::concat, l) {}
  std::vector<ExprPtr> parts;
};
enum class CompareOp { eq, ne, lt, le, gt, ge, in, not_in };
struct CompareExpr : Expr {  // chained like Python: a < b < c
  CompareExpr(ExprPtr f, int l) : Expr(Kind::compare, l), first(std::move(f)) {}
  ExprPtr first;
  std::vector<std::pair<CompareOp, ExprPtr>> rest;
};
struct CondExpr : Expr {  // then if condition else otherwise (otherwise may be null)
  CondExpr(ExprPtr c, ExprPtr t, ExprPtr o, int l)
      : Expr(Kind::cond, l), condition(std::move(c)), then(std::move(t)), otherwise(std::move(o)) {}
  ExprPtr condition, then, otherwise;
};

// ---- statements ----

// Where `set`, `for` and `with` store values: a name, several names (unpacking), or ns.attr.
struct Target {
  std::vector<std::string> names;
  bool unpack = false;        // a, b = ...
  std::string namespace_attr;  // set: names[0].namespace_attr = ...
};

struct Stmt {
  enum class Kind { text, print, if_, for_, set, set_block, macro, call_block, filter_block, with, scope, break_, continue_ };
  Stmt(Kind k, int l) : kind(k), line(l) {}
  virtual ~Stmt() = default;
  Kind kind;
  int line;
};
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct TextStmt : Stmt {
  TextStmt(std::string t, int l) : Stmt(Kind::text, l), text(std::move(t)) {}
  std::string text;
};
struct PrintStmt : Stmt {
  PrintStmt(ExprPtr e, int l) : Stmt(Kind::print, l), expr(std::move(e)) {}
  ExprPtr expr;
};
struct IfStmt : Stmt {
  explicit IfStmt(int l) : Stmt(Kind::if_, l) {}
  std::vector<std::pair<ExprPtr, Body>> branches;  // if, then each elif
  Body otherwise;
};
struct ForStmt : Stmt {
  explicit ForStmt(int l) : Stmt(Kind::for_, l) {}
  Target target;
  ExprPtr iterable;
  ExprPtr filter;  // for x in xs if filter
  Body body, otherwise;
};
struct SetStmt : Stmt {
  explicit SetStmt(int l) : Stmt(Kind::set, l) {}
  Target target;
  ExprPtr value;
};
struct SetBlockStmt : Stmt {  // {% set x | filters %}body{% endset %}
  explicit SetBlockStmt(int l) : Stmt(Kind::set_block, l) {}
  Target target;
  ExprPtr filter;  // may be null
  Body body;
};
struct MacroStmt : Stmt {
  explicit MacroStmt(int l) : Stmt(Kind::macro, l) {}
  std::string name;
  std::vector<std::pair<std::string, ExprPtr>> params;  // default may be null
  Body body;
};
struct CallBlockStmt : Stmt {  // {% call(params) m(args) %}body{% endcall %}: m sees body as caller()
  explicit CallBlockStmt(int l) : Stmt(Kind::call_block, l), caller(l) {}
  MacroStmt caller;  // named "caller"
  ExprPtr call;      // a CallExpr
};
struct FilterBlockStmt : Stmt {
  explicit FilterBlockStmt(int l) : Stmt(Kind::filter_block, l) {}
  ExprPtr filter;
  Body body;
};
struct WithStmt : Stmt {
  explicit WithStmt(int l) : Stmt(Kind::with, l) {}
  std::vector<std::pair<Target, ExprPtr>> assignments;
  Body body;
};
struct ScopeStmt : Stmt {  // a body with its own variables: {% generation %}
  explicit ScopeStmt(int l) : Stmt(Kind::scope, l) {}
  Body body;
};
struct LoopControlStmt : Stmt {  // {% break %} / {% continue %}
  LoopControlStmt(Kind k, int l) : Stmt(k, l) {}
};

}  // namespace salut::jinja
