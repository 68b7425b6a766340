#include "chat/jinja/parser.h"

#include <algorithm>

#include "chat/jinja/builtins.h"
#include "chat/jinja/name_check.h"
#include "chat/jinja/stack_budget.h"
#include "chat/jinja/error.h"
#include "chat/jinja/lexer.h"

namespace salut::jinja {

namespace {

using EndTags = std::initializer_list<std::string_view>;

int max_depth(std::initializer_list<const Expr*> children) {
  int d = 0;
  for (const Expr* c : children)
    if (c) d = std::max(d, c->depth);
  return d;
}

int args_depth(const CallArgs& args) {
  int d = max_depth({args.star_args.get(), args.star_kwargs.get()});
  for (const auto& e : args.positional) d = std::max(d, e->depth);
  for (const auto& [k, e] : args.keyword) d = std::max(d, e->depth);
  return d;
}

// The depth of a node from its direct children.
int subtree_depth(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::literal:
    case Expr::Kind::name: return 1;
    case Expr::Kind::list: {
      int d = 0;
      for (const auto& item : static_cast<const ListExpr&>(e).items) d = std::max(d, item->depth);
      return d + 1;
    }
    case Expr::Kind::dict: {
      int d = 0;
      for (const auto& [k, v] : static_cast<const DictExpr&>(e).items) d = std::max({d, k->depth, v->depth});
      return d + 1;
    }
    case Expr::Kind::getattr: return static_cast<const GetAttrExpr&>(e).object->depth + 1;
    case Expr::Kind::getitem: {
      const auto& x = static_cast<const GetItemExpr&>(e);
      return max_depth({x.object.get(), x.index.get()}) + 1;
    }
    case Expr::Kind::slice: {
      const auto& x = static_cast<const SliceExpr&>(e);
      return max_depth({x.object.get(), x.start.get(), x.stop.get(), x.step.get()}) + 1;
    }
    case Expr::Kind::call: {
      const auto& x = static_cast<const CallExpr&>(e);
      return std::max(x.callee->depth, args_depth(x.args)) + 1;
    }
    case Expr::Kind::filter: {
      const auto& x = static_cast<const FilterExpr&>(e);
      return std::max(max_depth({x.input.get()}), args_depth(x.args)) + 1;
    }
    case Expr::Kind::test: {
      const auto& x = static_cast<const TestExpr&>(e);
      return std::max(x.input->depth, args_depth(x.args)) + 1;
    }
    case Expr::Kind::unary: return static_cast<const UnaryExpr&>(e).operand->depth + 1;
    case Expr::Kind::binary: {
      const auto& x = static_cast<const BinaryExpr&>(e);
      return max_depth({x.left.get(), x.right.get()}) + 1;
    }
    case Expr::Kind::concat: {
      int d = 0;
      for (const auto& p : static_cast<const ConcatExpr&>(e).parts) d = std::max(d, p->depth);
      return d + 1;
    }
    case Expr::Kind::compare: {
      const auto& x = static_cast<const CompareExpr&>(e);
      int d = x.first->depth;
      for (const auto& [op, operand] : x.rest) d = std::max(d, operand->depth);
      return d + 1;
    }
    case Expr::Kind::cond: {
      const auto& x = static_cast<const CondExpr&>(e);
      return max_depth({x.condition.get(), x.then.get(), x.otherwise.get()}) + 1;
    }
  }
  return 1;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)), stack_(kParseStackBytes) {}

  Body parse_template() {
    Body body = subparse({});
    if (cur().kind != TokenKind::eof) error("unexpected '" + cur().value + "'");
    return body;
  }

 private:
  // ---- token stream ----
  const Token& cur() const { return toks_[pos_]; }
  const Token& look() const { return toks_[std::min(pos_ + 1, toks_.size() - 1)]; }
  void advance() {
    if (pos_ + 1 < toks_.size()) ++pos_;
  }
  bool is_op(std::string_view op) const { return cur().kind == TokenKind::op && cur().value == op; }
  bool is_name(std::string_view name) const { return cur().kind == TokenKind::name && cur().value == name; }
  bool skip_op(std::string_view op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool skip_name(std::string_view name) {
    if (!is_name(name)) return false;
    advance();
    return true;
  }

  static std::string describe(const Token& t) {
    switch (t.kind) {
      case TokenKind::text: return "template data";
      case TokenKind::print_begin: return "begin of print statement";
      case TokenKind::print_end: return "end of print statement";
      case TokenKind::block_begin: return "begin of statement block";
      case TokenKind::block_end: return "end of statement block";
      case TokenKind::eof: return "end of template";
      case TokenKind::string: return "string";
      case TokenKind::integer: return "integer";
      case TokenKind::floating: return "float";
      default: return t.value;
    }
  }

  [[noreturn]] void error(const std::string& message) const {
    fail("syntax error at line " + std::to_string(cur().line) + ": " + message);
  }
  void expect_op(std::string_view op) {
    if (!skip_op(op)) error("expected '" + std::string(op) + "', got '" + describe(cur()) + "'");
  }
  void expect(TokenKind kind, const char* what) {
    if (cur().kind != kind) error(std::string("expected '") + what + "', got '" + describe(cur()) + "'");
    advance();
  }
  std::string expect_name() {
    if (cur().kind != TokenKind::name) error("expected name, got '" + describe(cur()) + "'");
    std::string name = cur().value;
    advance();
    return name;
  }

  // Every expression node goes through here: it records and bounds the subtree depth.
  template <typename T>
  std::unique_ptr<T> seal(std::unique_ptr<T> node) {
    node->depth = subtree_depth(*node);
    if (node->depth > kMaxExpressionDepth)
      error("expression nested too deeply");
    return node;
  }

  // ---- statements ----

  Body subparse(EndTags end_tags) {
    Body body;
    while (true) {
      const Token& t = cur();
      switch (t.kind) {
        case TokenKind::text:
          body.push_back(std::make_unique<TextStmt>(t.value, t.line));
          advance();
          break;
        case TokenKind::print_begin: {
          int line = t.line;
          advance();
          ExprPtr e = parse_tuple(true, {}, false);
          expect(TokenKind::print_end, "end of print statement");
          body.push_back(std::make_unique<PrintStmt>(std::move(e), line));
          break;
        }
        case TokenKind::block_begin:
          advance();
          if (cur().kind == TokenKind::name && std::find(end_tags.begin(), end_tags.end(), cur().value) != end_tags.end())
            return body;
          if (StmtPtr s = parse_statement()) body.push_back(std::move(s));
          expect(TokenKind::block_end, "end of statement block");
          break;
        case TokenKind::eof:
          if (end_tags.size() > 0) {
            std::string expected;
            for (auto tag : end_tags) expected += (expected.empty() ? "'" : " or '") + std::string(tag) + "'";
            error("unexpected end of template, expected " + expected);
          }
          return body;
        default: error("unexpected '" + describe(t) + "'");
      }
    }
  }

  // After a statement's header: its body up to one of end_tags (left as the current token).
  Body parse_statements(EndTags end_tags, bool drop_needle) {
    skip_op(":");
    expect(TokenKind::block_end, "end of statement block");
    Body body = subparse(end_tags);
    if (drop_needle) advance();
    return body;
  }

  StmtPtr parse_statement() {
    if (cur().kind != TokenKind::name) error("tag name expected");
    if (++statement_depth_ > kMaxStatementDepth || stack_.exceeded())
      error("blocks nested too deeply");
    StmtPtr s = parse_statement_body();
    --statement_depth_;
    return s;
  }

  StmtPtr parse_statement_body() {
    const std::string& tag = cur().value;
    int line = cur().line;
    if (tag == "for") return parse_for();
    if (tag == "if") return parse_if();
    if (tag == "set") return parse_set();
    if (tag == "macro") return parse_macro();
    if (tag == "filter") return parse_filter_block();
    if (tag == "with") return parse_with();
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) error("'" + tag + "' outside of a loop");
      advance();
      return std::make_unique<LoopControlStmt>(tag == "break" ? Stmt::Kind::break_ : Stmt::Kind::continue_, line);
    }
    if (tag == "generation") {  // transformers' assistant-mask extension: renders its body
      advance();
      auto s = std::make_unique<ScopeStmt>(line);
      s->body = parse_statements({"endgeneration"}, true);
      return s;
    }
    if (tag == "call") return parse_call_block();
    for (std::string_view unsupported : {"block", "extends", "include", "import", "from", "autoescape", "raw"})
      if (tag == unsupported) error("'" + tag + "' tags are not supported in chat templates");
    error("Encountered unknown tag '" + tag + "'.");
  }

  StmtPtr parse_for() {
    auto s = std::make_unique<ForStmt>(cur().line);
    advance();
    s->target = parse_assign_target(false, {"in"});
    if (!skip_name("in")) error("expected 'in', got '" + describe(cur()) + "'");
    s->iterable = parse_tuple(false, {"recursive"}, false);
    if (skip_name("if")) s->filter = parse_expression(true);
    if (is_name("recursive")) error("recursive for loops are not supported in chat templates");
    ++loop_depth_;
    s->body = parse_statements({"endfor", "else"}, false);
    --loop_depth_;
    bool has_else = cur().value == "else";
    advance();
    if (has_else) s->otherwise = parse_statements({"endfor"}, true);
    return s;
  }

  StmtPtr parse_if() {
    auto s = std::make_unique<IfStmt>(cur().line);
    advance();
    while (true) {
      ExprPtr test = parse_tuple(false, {}, false);
      Body body = parse_statements({"elif", "else", "endif"}, false);
      s->branches.emplace_back(std::move(test), std::move(body));
      std::string tag = cur().value;
      advance();
      if (tag == "elif") continue;
      if (tag == "else") s->otherwise = parse_statements({"endif"}, true);
      break;
    }
    return s;
  }

  StmtPtr parse_set() {
    int line = cur().line;
    advance();
    Target target = parse_assign_target(true, {});
    if (skip_op("=")) {
      auto s = std::make_unique<SetStmt>(line);
      s->target = std::move(target);
      s->value = parse_tuple(true, {}, false);
      return s;
    }
    auto s = std::make_unique<SetBlockStmt>(line);
    s->target = std::move(target);
    if (is_op("|")) s->filter = parse_filter(nullptr, false);
    s->body = parse_statements({"endset"}, true);
    return s;
  }

  StmtPtr parse_macro() {
    auto s = std::make_unique<MacroStmt>(cur().line);
    advance();
    s->name = expect_name();
    parse_signature(*s);
    s->body = parse_macro_body("endmacro");
    return s;
  }

  StmtPtr parse_call_block() {
    auto s = std::make_unique<CallBlockStmt>(cur().line);
    advance();
    s->caller.name = "caller";
    if (is_op("(")) parse_signature(s->caller);
    s->call = parse_expression(true);
    if (s->call->kind != Expr::Kind::call) error("expected call");
    s->caller.body = parse_macro_body("endcall");
    return s;
  }

  // `(a, b=default, ...)`
  void parse_signature(MacroStmt& macro) {
    expect_op("(");
    while (!is_op(")")) {
      if (!macro.params.empty()) expect_op(",");
      std::string name = expect_name();
      ExprPtr default_value;
      if (skip_op("=")) default_value = parse_expression(true);
      else if (!macro.params.empty() && macro.params.back().second) error("non-default argument follows default argument");
      macro.params.emplace_back(std::move(name), std::move(default_value));
    }
    expect_op(")");
  }

  Body parse_macro_body(std::string_view end_tag) {
    int saved_loops = std::exchange(loop_depth_, 0);  // break cannot leave a macro
    Body body = parse_statements({end_tag}, true);
    loop_depth_ = saved_loops;
    return body;
  }

  StmtPtr parse_filter_block() {
    auto s = std::make_unique<FilterBlockStmt>(cur().line);
    advance();
    s->filter = parse_filter(nullptr, true);
    s->body = parse_statements({"endfilter"}, true);
    return s;
  }

  StmtPtr parse_with() {
    auto s = std::make_unique<WithStmt>(cur().line);
    advance();
    while (cur().kind != TokenKind::block_end) {
      if (!s->assignments.empty()) expect_op(",");
      Target target = parse_assign_target(false, {});
      expect_op("=");
      s->assignments.emplace_back(std::move(target), parse_expression(true));
    }
    s->body = parse_statements({"endwith"}, true);
    return s;
  }

  // `x`, `a, b` or (with_namespace) `ns.attr`.
  Target parse_assign_target(bool with_namespace, EndTags extra_end) {
    Target target;
    while (true) {
      if (!target.names.empty()) {
        if (!skip_op(",")) break;
        target.unpack = true;
        if (is_tuple_end(extra_end)) break;
      }
      if (cur().kind != TokenKind::name) error("can't assign to '" + describe(cur()) + "'");
      const std::string& name = cur().value;
      if (name == "true" || name == "false" || name == "none" || name == "True" || name == "False" || name == "None")
        error("can't assign to 'const'");
      target.names.push_back(name);
      advance();
      if (with_namespace && is_op(".")) {
        advance();
        target.namespace_attr = expect_name();
        if (is_op(",")) error("can't assign to a tuple containing a namespace attribute");
        break;
      }
      if (!is_op(",")) break;
    }
    if (target.unpack && !target.namespace_attr.empty()) error("can't assign to a tuple containing a namespace attribute");
    return target;
  }

  // ---- expressions ----

  bool is_tuple_end(EndTags extra_end) const {
    TokenKind k = cur().kind;
    if (k == TokenKind::print_end || k == TokenKind::block_end || (k == TokenKind::op && cur().value == ")")) return true;
    return k == TokenKind::name && std::find(extra_end.begin(), extra_end.end(), cur().value) != extra_end.end();
  }

  ExprPtr parse_tuple(bool with_condexpr, EndTags extra_end, bool explicit_parentheses) {
    int line = cur().line;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) expect_op(",");
      if (is_tuple_end(extra_end)) break;
      items.push_back(parse_expression(with_condexpr));
      if (is_op(",")) is_tuple = true;
      else break;
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parentheses) error("Expected an expression, got '" + describe(cur()) + "'");
    }
    auto t = std::make_unique<ListExpr>(true, line);
    t->items = std::move(items);
    return seal(std::move(t));
  }

  ExprPtr parse_expression(bool with_condexpr) { return with_condexpr ? parse_condexpr() : parse_or(); }

  ExprPtr parse_condexpr() {
    int line = cur().line;
    ExprPtr expr = parse_or();
    while (skip_name("if")) {
      ExprPtr condition = parse_or();
      ExprPtr otherwise;
      if (skip_name("else")) otherwise = parse_condexpr();
      expr = seal(std::make_unique<CondExpr>(std::move(condition), std::move(expr), std::move(otherwise), line));
    }
    return expr;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      int line = cur().line;
      advance();
      left = seal(std::make_unique<BinaryExpr>(BinaryExpr::Op::logical_or, std::move(left), parse_and(), line));
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      int line = cur().line;
      advance();
      left = seal(std::make_unique<BinaryExpr>(BinaryExpr::Op::logical_and, std::move(left), parse_not(), line));
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      int line = cur().line;
      advance();
      enter();
      ExprPtr operand = parse_not();
      leave();
      return seal(std::make_unique<UnaryExpr>(UnaryExpr::Op::logical_not, std::move(operand), line));
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    int line = cur().line;
    ExprPtr first = parse_math1();
    std::unique_ptr<CompareExpr> cmp;
    while (true) {
      CompareOp op;
      if (is_op("==")) op = CompareOp::eq;
      else if (is_op("!=")) op = CompareOp::ne;
      else if (is_op("<")) op = CompareOp::lt;
      else if (is_op("<=")) op = CompareOp::le;
      else if (is_op(">")) op = CompareOp::gt;
      else if (is_op(">=")) op = CompareOp::ge;
      else if (is_name("in")) op = CompareOp::in;
      else if (is_name("not") && look().kind == TokenKind::name && look().value == "in") {
        op = CompareOp::not_in;
        advance();
      } else {
        break;
      }
      advance();
      if (!cmp) cmp = std::make_unique<CompareExpr>(std::move(first), line);
      cmp->rest.emplace_back(op, parse_math1());
    }
    if (!cmp) return first;
    return seal(std::move(cmp));
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      auto op = is_op("+") ? BinaryExpr::Op::add : BinaryExpr::Op::sub;
      int line = cur().line;
      advance();
      left = seal(std::make_unique<BinaryExpr>(op, std::move(left), parse_concat(), line));
    }
    return left;
  }

  ExprPtr parse_concat() {
    int line = cur().line;
    ExprPtr first = parse_math2();
    if (!is_op("~")) return first;
    auto concat = std::make_unique<ConcatExpr>(line);
    concat->parts.push_back(std::move(first));
    while (skip_op("~")) concat->parts.push_back(parse_math2());
    return seal(std::move(concat));
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (true) {
      BinaryExpr::Op op;
      if (is_op("*")) op = BinaryExpr::Op::mul;
      else if (is_op("/")) op = BinaryExpr::Op::div;
      else if (is_op("//")) op = BinaryExpr::Op::floordiv;
      else if (is_op("%")) op = BinaryExpr::Op::mod;
      else break;
      int line = cur().line;
      advance();
      left = seal(std::make_unique<BinaryExpr>(op, std::move(left), parse_pow(), line));
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      int line = cur().line;
      advance();
      left = seal(std::make_unique<BinaryExpr>(BinaryExpr::Op::pow, std::move(left), parse_unary(true), line));
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    enter();
    int line = cur().line;
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      auto op = is_op("-") ? UnaryExpr::Op::negate : UnaryExpr::Op::plus;
      advance();
      node = seal(std::make_unique<UnaryExpr>(op, parse_unary(false), line));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    leave();
    return node;
  }

  void enter() {
    if (++expression_depth_ > kMaxExpressionDepth || stack_.exceeded())
      error("expression nested too deeply");
  }
  void leave() { --expression_depth_; }

  ExprPtr parse_primary() {
    const Token& t = cur();
    int line = t.line;
    switch (t.kind) {
      case TokenKind::name: {
        std::string name = t.value;
        advance();
        if (name == "true" || name == "True") return std::make_unique<LiteralExpr>(Value(true), line);
        if (name == "false" || name == "False") return std::make_unique<LiteralExpr>(Value(false), line);
        if (name == "none" || name == "None") return std::make_unique<LiteralExpr>(Value(None{}), line);
        return std::make_unique<NameExpr>(std::move(name), line);
      }
      case TokenKind::string: {
        std::string value;
        while (cur().kind == TokenKind::string) {  // adjacent literals join, like Python
          value += cur().value;
          advance();
        }
        return std::make_unique<LiteralExpr>(Value(std::move(value)), line);
      }
      case TokenKind::integer: {
        int64_t v = t.int_value;
        advance();
        return std::make_unique<LiteralExpr>(Value(v), line);
      }
      case TokenKind::floating: {
        double v = t.float_value;
        advance();
        return std::make_unique<LiteralExpr>(Value(v), line);
      }
      case TokenKind::op:
        if (t.value == "(") {
          advance();
          ExprPtr e = parse_tuple(true, {}, true);
          expect_op(")");
          return e;
        }
        if (t.value == "[") return parse_list();
        if (t.value == "{") return parse_dict();
        break;
      default: break;
    }
    error("unexpected '" + describe(t) + "'");
  }

  ExprPtr parse_list() {
    auto list = std::make_unique<ListExpr>(false, cur().line);
    expect_op("[");
    while (!is_op("]")) {
      if (!list->items.empty()) expect_op(",");
      if (is_op("]")) break;
      list->items.push_back(parse_expression(true));
    }
    expect_op("]");
    return seal(std::move(list));
  }

  ExprPtr parse_dict() {
    auto dict = std::make_unique<DictExpr>(cur().line);
    expect_op("{");
    while (!is_op("}")) {
      if (!dict->items.empty()) expect_op(",");
      if (is_op("}")) break;
      ExprPtr key = parse_expression(true);
      expect_op(":");
      dict->items.emplace_back(std::move(key), parse_expression(true));
    }
    expect_op("}");
    return seal(std::move(dict));
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(".") || is_op("[")) node = parse_subscript(std::move(node));
      else if (is_op("(")) node = parse_call(std::move(node));
      else return node;
    }
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) node = parse_filter(std::move(node), false);
      else if (is_name("is")) node = parse_test(std::move(node));
      else if (is_op("(")) node = parse_call(std::move(node));
      else return node;
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    int line = cur().line;
    if (skip_op(".")) {
      if (cur().kind == TokenKind::name) {
        std::string name = cur().value;
        advance();
        return seal(std::make_unique<GetAttrExpr>(std::move(node), std::move(name), line));
      }
      if (cur().kind != TokenKind::integer) error("expected name or number");
      auto index = std::make_unique<LiteralExpr>(Value(cur().int_value), line);
      advance();
      return seal(std::make_unique<GetItemExpr>(std::move(node), std::move(index), line));
    }
    expect_op("[");
    std::vector<ExprPtr> args;
    std::unique_ptr<SliceExpr> slice;
    while (!is_op("]")) {
      if (!args.empty() || slice) expect_op(",");
      ExprPtr start;
      if (!is_op(":")) {
        start = parse_expression(true);
        if (!is_op(":")) {
          args.push_back(std::move(start));
          continue;
        }
      }
      if (slice || !args.empty()) error("multi-dimensional slices are not supported");
      advance();  // the ':'
      slice = std::make_unique<SliceExpr>(line);
      slice->start = std::move(start);
      if (!is_op("]") && !is_op(",") && !is_op(":")) slice->stop = parse_expression(true);
      if (skip_op(":") && !is_op("]") && !is_op(",")) slice->step = parse_expression(true);
    }
    expect_op("]");
    if (slice) {
      if (!args.empty()) error("multi-dimensional slices are not supported");
      slice->object = std::move(node);
      return seal(std::move(slice));
    }
    if (args.empty()) error("expected subscript expression");
    ExprPtr index;
    if (args.size() == 1) {
      index = std::move(args[0]);
    } else {
      auto tuple = std::make_unique<ListExpr>(true, line);
      tuple->items = std::move(args);
      index = seal(std::move(tuple));
    }
    return seal(std::make_unique<GetItemExpr>(std::move(node), std::move(index), line));
  }

  CallArgs parse_call_args() {
    CallArgs args;
    expect_op("(");
    bool require_comma = false;
    while (!is_op(")")) {
      if (require_comma) {
        expect_op(",");
        if (is_op(")")) break;
      }
      auto ensure = [&](bool ok) {
        if (!ok) error("invalid syntax for function call expression");
      };
      if (skip_op("*")) {
        ensure(!args.star_args && !args.star_kwargs);
        args.star_args = parse_expression(true);
      } else if (skip_op("**")) {
        ensure(!args.star_kwargs);
        args.star_kwargs = parse_expression(true);
      } else if (cur().kind == TokenKind::name && look().kind == TokenKind::op && look().value == "=") {
        ensure(!args.star_kwargs);
        std::string key = cur().value;
        advance();
        advance();
        args.keyword.emplace_back(std::move(key), parse_expression(true));
      } else {
        ensure(!args.star_args && !args.star_kwargs && args.keyword.empty());
        args.positional.push_back(parse_expression(true));
      }
      require_comma = true;
    }
    expect_op(")");
    return args;
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto call = std::make_unique<CallExpr>(std::move(callee), cur().line);
    call->args = parse_call_args();
    return seal(std::move(call));
  }

  std::string dotted_name() {
    std::string name = expect_name();
    while (skip_op(".")) name += "." + expect_name();
    return name;
  }

  // `|f1(args)|f2`; with start_inline the first filter has no leading pipe ({% filter upper %}).
  ExprPtr parse_filter(ExprPtr node, bool start_inline) {
    while (is_op("|") || start_inline) {
      if (!start_inline) advance();
      start_inline = false;
      int line = cur().line;
      std::string name = dotted_name();
      FilterFn fn = find_filter(name);  // null: unknown, checked by check_names()
      auto filter = std::make_unique<FilterExpr>(std::move(node), std::move(name), fn, line);
      if (is_op("(")) filter->args = parse_call_args();
      node = seal(std::move(filter));
    }
    return node;
  }

  ExprPtr parse_test(ExprPtr node) {
    int line = cur().line;
    advance();  // `is`
    bool negated = skip_name("not");
    std::string name = dotted_name();
    TestFn fn = find_test(name);  // null: unknown, checked by check_names()
    auto test = std::make_unique<TestExpr>(std::move(node), std::move(name), fn, negated, line);
    const Token& t = cur();
    bool starts_argument = t.kind == TokenKind::name || t.kind == TokenKind::string || t.kind == TokenKind::integer ||
                           t.kind == TokenKind::floating || (t.kind == TokenKind::op && (t.value == "[" || t.value == "{"));
    if (is_op("(")) {
      test->args = parse_call_args();
    } else if (starts_argument && !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) error("You cannot chain multiple tests with is");
      test->args.positional.push_back(parse_postfix(parse_primary()));
    }
    return seal(std::move(test));
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
  int expression_depth_ = 0;
  int statement_depth_ = 0;
  int loop_depth_ = 0;
  StackBudget stack_;
};

}  // namespace

Body parse(std::string_view source) {
  Body body = Parser(tokenize(source)).parse_template();
  check_names(body);
  return body;
}

}  // namespace salut::jinja
