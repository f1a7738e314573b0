#include "gemrt/text/jinja_parser.h"

#include <charconv>
#include <cmath>

#include "gemrt/text/jinja_filters.h"
#include "gemrt/text/jinja_lexer.h"

namespace gemrt::jinja {

namespace {

using T = Token::Type;

ExprPtr make_expr(Expr::Kind k, int line) {
  auto e = std::make_unique<Expr>();
  e->kind = k;
  e->line = line;
  return e;
}

StmtPtr make_stmt(Stmt::Kind k, int line) {
  auto s = std::make_unique<Stmt>();
  s->kind = k;
  s->line = line;
  return s;
}

ExprPtr binary(const std::string& op, ExprPtr l, ExprPtr r, int line) {
  auto e = make_expr(Expr::Kind::Binary, line);
  e->name = op;
  e->a = std::move(l);
  e->b = std::move(r);
  return e;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> toks) : toks_(std::move(toks)) {}

  std::unique_ptr<TemplateAst> parse() {
    auto ast = std::make_unique<TemplateAst>();
    ast->body = subparse({});
    if (cur().type != T::Eof) fail(cur().line, "unexpected " + describe(cur()));
    return ast;
  }

 private:
  using Names = std::vector<std::string>;

  const Token& cur() const { return toks_[i_]; }
  const Token& look() const { return toks_[i_ + 1 < toks_.size() ? i_ + 1 : i_]; }
  const Token& next() {
    const Token& t = toks_[i_];
    if (i_ + 1 < toks_.size()) ++i_;
    return t;
  }
  bool is_name(const char* v) const { return cur().type == T::Name && cur().value == v; }
  bool is_op(const char* v) const { return cur().type == T::Op && cur().value == v; }
  bool skip_name(const char* v) {
    if (!is_name(v)) return false;
    next();
    return true;
  }
  bool skip_op(const char* v) {
    if (!is_op(v)) return false;
    next();
    return true;
  }
  [[noreturn]] void fail(int line, const std::string& what) const { throw SyntaxError(line, what); }
  [[noreturn]] void unexpected(const std::string& wanted) const {
    fail(cur().line, "expected " + wanted + ", got " + describe(cur()));
  }
  const Token& expect_op(const char* v) {
    if (!is_op(v)) unexpected(std::string("'") + v + "'");
    return next();
  }
  const Token& expect_name() {
    if (cur().type != T::Name) unexpected("a name");
    return next();
  }
  void expect_name(const char* v) {
    if (!is_name(v)) unexpected(std::string("'") + v + "'");
    next();
  }
  void expect(T type, const char* what) {
    if (cur().type != type) unexpected(what);
    next();
  }

  static std::string join_tags(const Names& names) {
    std::string out;
    for (size_t i = 0; i < names.size(); ++i) {
      if (i) out += i + 1 == names.size() ? " or " : ", ";
      out += "'" + names[i] + "'";
    }
    return out;
  }

  [[noreturn]] void fail_eof(const Names& end_tokens) const {
    std::string msg = "unexpected end of template";
    if (!end_tokens.empty()) msg += "; expected " + join_tags(end_tokens);
    if (!blocks_.empty())
      msg += " to close the '" + blocks_.back().first + "' opened on line " + std::to_string(blocks_.back().second);
    fail(cur().line, msg);
  }

  // ---- statements ---------------------------------------------------------------------------

  Body subparse(const Names& end_tokens) {
    Body body;
    for (;;) {
      const Token& t = cur();
      if (t.type == T::Data) {
        auto s = make_stmt(Stmt::Kind::Data, t.line);
        s->text = t.value;
        body.push_back(std::move(s));
        next();
      } else if (t.type == T::VarBegin) {
        next();
        auto s = make_stmt(Stmt::Kind::Print, t.line);
        s->expr = parse_tuple(true, {}, false);
        expect(T::VarEnd, "end of print statement");
        body.push_back(std::move(s));
      } else if (t.type == T::BlockBegin) {
        next();
        if (cur().type == T::Name)
          for (const std::string& e : end_tokens)
            if (cur().value == e) return body;
        body.push_back(parse_statement(end_tokens));
        expect(T::BlockEnd, "end of statement block");
      } else if (t.type == T::Eof) {
        return body;
      } else {
        fail(t.line, "unexpected " + describe(t));
      }
    }
  }

  Body parse_statements(const Names& end_tokens, bool drop_needle) {
    skip_op(":");
    expect(T::BlockEnd, "end of statement block");
    Body body = subparse(end_tokens);
    if (cur().type == T::Eof) fail_eof(end_tokens);
    if (drop_needle) next();
    return body;
  }

  StmtPtr parse_statement(const Names& end_tokens) {
    const Token& t = cur();
    if (t.type != T::Name) fail(t.line, "tag name expected, got " + describe(t));
    const std::string tag = t.value;
    const int line = t.line;
    if (tag == "break" || tag == "continue") {
      next();
      return make_stmt(tag == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue, line);
    }
    if (tag == "print") {
      next();
      auto s = make_stmt(Stmt::Kind::Print, line);
      s->expr = parse_tuple(true, {}, false);
      return s;
    }
    if (tag == "set") return parse_set();
    if (blocks_.size() >= static_cast<size_t>(kMaxNesting)) fail(line, "blocks nested too deeply");
    blocks_.emplace_back(tag, line);
    StmtPtr s;
    if (tag == "for")
      s = parse_for();
    else if (tag == "if")
      s = parse_if();
    else if (tag == "macro")
      s = parse_macro();
    else if (tag == "filter")
      s = parse_filter_block();
    else if (tag == "with")
      s = parse_with();
    else if (tag == "generation") {
      next();
      s = make_stmt(Stmt::Kind::Generation, line);
      s->body = parse_statements({"endgeneration"}, true);
    } else {
      blocks_.pop_back();
      static const Names kUnsupported = {"call", "block", "extends", "include", "import", "from", "autoescape", "do"};
      for (const std::string& u : kUnsupported)
        if (tag == u) fail(line, "the '" + tag + "' tag is not supported by this Jinja interpreter");
      std::string msg = "Encountered unknown tag '" + tag + "'.";
      if (!end_tokens.empty()) msg += " Jinja was looking for " + join_tags(end_tokens) + ".";
      fail(line, msg);
    }
    blocks_.pop_back();
    return s;
  }

  StmtPtr parse_for() {
    auto s = make_stmt(Stmt::Kind::For, next().line);
    s->target = parse_assign_target(false, {"in"});
    expect_name("in");
    s->expr = parse_tuple(false, {"recursive"}, false);
    if (skip_name("if")) s->cond = parse_expression(true);
    if (is_name("recursive")) fail(cur().line, "recursive for loops are not supported");
    s->body = parse_statements({"endfor", "else"}, false);
    if (next().value == "else") s->else_body = parse_statements({"endfor"}, true);
    return s;
  }

  StmtPtr parse_if() {
    auto s = make_stmt(Stmt::Kind::If, next().line);
    for (;;) {
      ExprPtr cond = parse_tuple(false, {}, false);
      Body body = parse_statements({"elif", "else", "endif"}, false);
      s->branches.emplace_back(std::move(cond), std::move(body));
      const Token& t = next();
      if (t.value == "elif") continue;
      if (t.value == "else") s->else_body = parse_statements({"endif"}, true);
      break;
    }
    return s;
  }

  StmtPtr parse_set() {
    const int line = next().line;
    Target target = parse_assign_target(true, {});
    if (skip_op("=")) {
      auto s = make_stmt(Stmt::Kind::Set, line);
      s->target = std::move(target);
      s->expr = parse_tuple(true, {}, false);
      return s;
    }
    auto s = make_stmt(Stmt::Kind::SetBlock, line);
    s->target = std::move(target);
    if (is_op("|")) s->expr = parse_filter(nullptr, false);
    blocks_.emplace_back("set", line);
    s->body = parse_statements({"endset"}, true);
    blocks_.pop_back();
    return s;
  }

  StmtPtr parse_macro() {
    auto s = make_stmt(Stmt::Kind::Macro, next().line);
    s->name = expect_name().value;
    expect_op("(");
    while (!is_op(")")) {
      if (!s->params.empty()) expect_op(",");
      s->params.push_back(expect_name().value);
      if (skip_op("=")) {
        s->defaults.push_back(parse_expression(true));
      } else {
        for (const ExprPtr& d : s->defaults)
          if (d) fail(cur().line, "non-default argument follows default argument");
        s->defaults.push_back(nullptr);
      }
    }
    expect_op(")");
    s->body = parse_statements({"endmacro"}, true);
    return s;
  }

  StmtPtr parse_filter_block() {
    auto s = make_stmt(Stmt::Kind::FilterBlock, next().line);
    s->expr = parse_filter(nullptr, true);
    s->body = parse_statements({"endfilter"}, true);
    return s;
  }

  StmtPtr parse_with() {
    auto s = make_stmt(Stmt::Kind::With, next().line);
    while (cur().type != T::BlockEnd) {
      if (!s->assigns.empty()) expect_op(",");
      Target t = parse_assign_target(false, {});
      expect_op("=");
      s->assigns.emplace_back(std::move(t), parse_expression(true));
    }
    s->body = parse_statements({"endwith"}, true);
    return s;
  }

  bool is_tuple_end(const Names& extra) const {
    const Token& t = cur();
    if (t.type == T::VarEnd || t.type == T::BlockEnd || (t.type == T::Op && t.value == ")")) return true;
    if (t.type == T::Name)
      for (const std::string& e : extra)
        if (t.value == e) return true;
    return false;
  }

  std::string assign_name() {
    const Token& t = expect_name();
    static const Names kConst = {"true", "false", "none", "True", "False", "None"};
    for (const std::string& c : kConst)
      if (t.value == c) fail(t.line, "can't assign to '" + t.value + "'");
    return t.value;
  }

  Target parse_assign_target(bool with_namespace, const Names& extra_end) {
    Target target;
    if (skip_op("(")) {
      while (!is_op(")")) {
        if (!target.names.empty()) expect_op(",");
        if (is_op(")")) break;
        target.names.push_back(assign_name());
      }
      expect_op(")");
      target.unpack = true;
      return target;
    }
    target.names.push_back(assign_name());
    if (with_namespace && is_op(".") && look().type == T::Name) {
      next();
      target.attr = next().value;
      return target;
    }
    while (is_op(",")) {
      next();
      target.unpack = true;
      if (is_tuple_end(extra_end) || is_op("=")) break;
      target.names.push_back(assign_name());
    }
    return target;
  }

  // ---- expressions --------------------------------------------------------------------------

  ExprPtr parse_tuple(bool with_condexpr, const Names& extra_end, bool explicit_parens) {
    const int line = cur().line;
    std::vector<ExprPtr> args;
    bool is_tuple = false;
    for (;;) {
      if (!args.empty()) expect_op(",");
      if (is_tuple_end(extra_end)) break;
      args.push_back(parse_expression(with_condexpr));
      if (is_op(","))
        is_tuple = true;
      else
        break;
    }
    if (!is_tuple) {
      if (!args.empty()) return std::move(args[0]);
      if (!explicit_parens) fail(cur().line, "Expected an expression, got " + describe(cur()));
    }
    auto e = make_expr(Expr::Kind::Tuple, line);
    e->args = std::move(args);
    return e;
  }

  ExprPtr parse_expression(bool with_condexpr) {
    // Bounded nesting keeps a hostile template from exhausting the stack.
    if (++nesting_ > kMaxNesting) fail(cur().line, "expression nested too deeply");
    ExprPtr e = with_condexpr ? parse_condexpr() : parse_or();
    --nesting_;
    return e;
  }

  ExprPtr parse_condexpr() {
    int line = cur().line;
    ExprPtr e1 = parse_or();
    while (skip_name("if")) {
      auto e = make_expr(Expr::Kind::CondExpr, line);
      e->b = parse_or();
      if (skip_name("else")) e->c = parse_condexpr();
      e->a = std::move(e1);
      e1 = std::move(e);
      line = cur().line;
    }
    return e1;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      auto e = make_expr(Expr::Kind::Or, next().line);
      e->a = std::move(left);
      e->b = parse_and();
      left = std::move(e);
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      auto e = make_expr(Expr::Kind::And, next().line);
      e->a = std::move(left);
      e->b = parse_not();
      left = std::move(e);
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      if (++nesting_ > kMaxNesting) fail(cur().line, "expression nested too deeply");
      auto e = make_expr(Expr::Kind::Not, next().line);
      e->a = parse_not();
      --nesting_;
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const int line = cur().line;
    ExprPtr first = parse_math1();
    std::vector<std::string> ops;
    std::vector<ExprPtr> operands;
    for (;;) {
      if (cur().type == T::Op && (is_op("==") || is_op("!=") || is_op("<") || is_op(">") || is_op("<=") || is_op(">="))) {
        ops.push_back(next().value);
      } else if (skip_name("in")) {
        ops.push_back("in");
      } else if (is_name("not") && look().type == T::Name && look().value == "in") {
        next();
        next();
        ops.push_back("notin");
      } else {
        break;
      }
      operands.push_back(parse_math1());
    }
    if (ops.empty()) return first;
    auto e = make_expr(Expr::Kind::Compare, line);
    e->a = std::move(first);
    e->ops = std::move(ops);
    e->args = std::move(operands);
    return e;
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& t = next();
      left = binary(t.value, std::move(left), parse_concat(), t.line);
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (is_op("~")) {
      const int line = next().line;
      left = binary("~", std::move(left), parse_math2(), line);
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& t = next();
      left = binary(t.value, std::move(left), parse_pow(), t.line);
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      const int line = next().line;
      left = binary("**", std::move(left), parse_unary(true), line);
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    const int line = cur().line;
    if (++nesting_ > kMaxNesting) fail(line, "expression nested too deeply");
    ExprPtr node;
    if (skip_op("-")) {
      node = make_expr(Expr::Kind::Neg, line);
      node->a = parse_unary(false);
    } else if (skip_op("+")) {
      node = make_expr(Expr::Kind::Pos, line);
      node->a = parse_unary(false);
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    --nesting_;
    return node;
  }

  ExprPtr literal(Value v, int line) {
    auto e = make_expr(Expr::Kind::Literal, line);
    e->value = std::move(v);
    return e;
  }

  Value number_value(const Token& t) {
    const std::string& s = t.value;
    if (t.type == T::Float) {
      double d = 0;
      const auto r = std::from_chars(s.data(), s.data() + s.size(), d);
      if (r.ec != std::errc()) d = std::strtod(s.c_str(), nullptr);
      return Value::number(d);
    }
    int base = 10;
    size_t skip = 0;
    if (s.size() > 1 && s[0] == '0') {
      const char p = static_cast<char>(s[1] | 0x20);
      if (p == 'x') base = 16;
      if (p == 'o') base = 8;
      if (p == 'b') base = 2;
      if (base != 10) skip = 2;
    }
    int64_t v = 0;
    const auto r = std::from_chars(s.data() + skip, s.data() + s.size(), v, base);
    if (r.ec == std::errc::result_out_of_range) return Value::number(std::strtod(s.c_str(), nullptr));
    if (r.ec != std::errc() || r.ptr != s.data() + s.size()) fail(t.line, "invalid integer literal '" + s + "'");
    return Value::integer(v);
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    const int line = t.line;
    if (t.type == T::Name) {
      next();
      if (t.value == "true" || t.value == "True") return literal(Value::boolean(true), line);
      if (t.value == "false" || t.value == "False") return literal(Value::boolean(false), line);
      if (t.value == "none" || t.value == "None") return literal(Value::none(), line);
      auto e = make_expr(Expr::Kind::Name, line);
      e->name = t.value;
      return e;
    }
    if (t.type == T::String) {
      std::string s;
      while (cur().type == T::String) s += next().value;
      return literal(Value(std::move(s)), line);
    }
    if (t.type == T::Integer || t.type == T::Float) {
      next();
      return literal(number_value(t), line);
    }
    if (skip_op("(")) {
      ExprPtr e = parse_tuple(true, {}, true);
      expect_op(")");
      return e;
    }
    if (is_op("[")) {
      next();
      auto e = make_expr(Expr::Kind::List, line);
      while (!is_op("]")) {
        if (!e->args.empty()) expect_op(",");
        if (is_op("]")) break;
        e->args.push_back(parse_expression(true));
      }
      expect_op("]");
      return e;
    }
    if (is_op("{")) {
      next();
      auto e = make_expr(Expr::Kind::Dict, line);
      while (!is_op("}")) {
        if (!e->args.empty()) expect_op(",");
        if (is_op("}")) break;
        e->args.push_back(parse_expression(true));
        expect_op(":");
        e->args.push_back(parse_expression(true));
      }
      expect_op("}");
      return e;
    }
    fail(line, "unexpected " + describe(t));
  }

  ExprPtr parse_postfix(ExprPtr node) {
    for (;;) {
      if (is_op(".") || is_op("["))
        node = parse_subscript(std::move(node));
      else if (is_op("("))
        node = parse_call(std::move(node));
      else
        return node;
    }
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    for (;;) {
      if (is_op("|"))
        node = parse_filter(std::move(node), false);
      else if (is_name("is"))
        node = parse_test(std::move(node));
      else if (is_op("("))
        node = parse_call(std::move(node));
      else
        return node;
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    const Token& t = next();
    const int line = t.line;
    if (t.value == ".") {
      const Token& attr = next();
      if (attr.type == T::Name) {
        auto e = make_expr(Expr::Kind::GetAttr, line);
        e->a = std::move(node);
        e->name = attr.value;
        return e;
      }
      if (attr.type != T::Integer) fail(attr.line, "expected name or number");
      auto e = make_expr(Expr::Kind::GetItem, line);
      e->a = std::move(node);
      e->b = literal(number_value(attr), attr.line);
      return e;
    }
    std::vector<ExprPtr> args;
    while (!is_op("]")) {
      if (!args.empty()) expect_op(",");
      args.push_back(parse_subscribed());
    }
    expect_op("]");
    if (args.size() == 1 && args[0]->kind == Expr::Kind::Slice) {
      args[0]->a = std::move(node);
      return std::move(args[0]);
    }
    auto e = make_expr(Expr::Kind::GetItem, line);
    e->a = std::move(node);
    if (args.size() == 1) {
      e->b = std::move(args[0]);
    } else {
      for (const ExprPtr& x : args)
        if (x->kind == Expr::Kind::Slice) fail(line, "multi-dimensional slices are not supported");
      e->b = make_expr(Expr::Kind::Tuple, line);
      e->b->args = std::move(args);
    }
    return e;
  }

  ExprPtr parse_subscribed() {
    const int line = cur().line;
    auto slice = make_expr(Expr::Kind::Slice, line);
    if (skip_op(":")) {
      slice->args.push_back(nullptr);
    } else {
      ExprPtr node = parse_expression(true);
      if (!skip_op(":")) return node;
      slice->args.push_back(std::move(node));
    }
    if (is_op(":") || is_op("]") || is_op(","))
      slice->args.push_back(nullptr);
    else
      slice->args.push_back(parse_expression(true));
    if (skip_op(":") && !is_op("]") && !is_op(","))
      slice->args.push_back(parse_expression(true));
    else
      slice->args.push_back(nullptr);
    return slice;
  }

  void parse_call_args(Expr& e) {
    const int line = expect_op("(").line;
    bool require_comma = false;
    while (!is_op(")")) {
      if (require_comma) {
        expect_op(",");
        if (is_op(")")) break;
      }
      if (is_op("*") || is_op("**")) fail(line, "*args and **kwargs in calls are not supported");
      if (cur().type == T::Name && look().type == T::Op && look().value == "=") {
        std::string key = next().value;
        next();
        e.kwargs.emplace_back(std::move(key), parse_expression(true));
      } else {
        if (!e.kwargs.empty()) fail(line, "invalid syntax for function call expression");
        e.args.push_back(parse_expression(true));
      }
      require_comma = true;
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr node) {
    auto e = make_expr(Expr::Kind::Call, cur().line);
    e->a = std::move(node);
    parse_call_args(*e);
    return e;
  }

  std::string dotted_name() {
    std::string name = expect_name().value;
    while (is_op(".")) {
      next();
      name += "." + expect_name().value;
    }
    return name;
  }

  ExprPtr parse_filter(ExprPtr node, bool start_inline) {
    while (is_op("|") || start_inline) {
      if (!start_inline) next();
      start_inline = false;
      const int line = cur().line;
      auto e = make_expr(Expr::Kind::Filter, line);
      e->name = dotted_name();
      if (!has_filter(e->name)) fail(line, "No filter named '" + e->name + "'.");
      if (is_op("(")) parse_call_args(*e);
      e->a = std::move(node);
      node = std::move(e);
    }
    return node;
  }

  ExprPtr parse_test(ExprPtr node) {
    const int line = next().line;
    auto e = make_expr(Expr::Kind::Test, line);
    e->negated = skip_name("not");
    e->name = dotted_name();
    if (!has_test(e->name)) fail(line, "No test named '" + e->name + "'.");
    if (is_op("(")) {
      parse_call_args(*e);
    } else {
      const Token& t = cur();
      const bool arg_start = t.type == T::Name || t.type == T::String || t.type == T::Integer ||
                             t.type == T::Float || (t.type == T::Op && (t.value == "(" || t.value == "[" || t.value == "{"));
      if (arg_start && !is_name("else") && !is_name("or") && !is_name("and")) {
        if (is_name("is")) fail(t.line, "You cannot chain multiple tests with is");
        e->args.push_back(parse_postfix(parse_primary()));
      }
    }
    e->a = std::move(node);
    return e;
  }

  static constexpr int kMaxNesting = 200;
  std::vector<Token> toks_;
  size_t i_ = 0;
  int nesting_ = 0;
  std::vector<std::pair<std::string, int>> blocks_;  // open block tags, for error messages
};

}  // namespace

std::unique_ptr<TemplateAst> parse_template(std::string_view source) { return Parser(tokenize(source)).parse(); }

}  // namespace gemrt::jinja
