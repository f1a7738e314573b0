#include "gemrt/text/jinja_eval.h"

#include "gemrt/core/error.h"
#include "gemrt/text/jinja_filters.h"
#include "gemrt/text/jinja_lexer.h"
#include "gemrt/text/jinja_methods.h"
#include "gemrt/text/jinja_ops.h"
#include "gemrt/text/jinja_parser.h"

namespace gemrt::jinja {

namespace {

constexpr int kMaxMacroDepth = 256;

class MacroFn : public Callable {
 public:
  MacroFn(const Stmt* def, Scope* scope) : def_(def), scope_(scope) {}
  std::string name() const override { return def_->name; }
  Value call(Interpreter& interp, CallArgs& args) const override { return interp.call_macro(*def_, scope_, args); }

 private:
  const Stmt* def_;
  Scope* scope_;  // owned by the interpreter, which outlives every value of the render
};

Value make_loop(size_t i, const std::vector<Value>& items) {
  const auto n = static_cast<int64_t>(items.size());
  const auto idx = static_cast<int64_t>(i);
  auto loop = std::make_shared<Namespace>();
  loop->loop = true;
  loop->set("index0", Value::integer(idx));
  loop->set("index", Value::integer(idx + 1));
  loop->set("revindex0", Value::integer(n - idx - 1));
  loop->set("revindex", Value::integer(n - idx));
  loop->set("first", Value::boolean(idx == 0));
  loop->set("last", Value::boolean(idx == n - 1));
  loop->set("length", Value::integer(n));
  loop->set("depth", Value::integer(1));
  loop->set("depth0", Value::integer(0));
  loop->set("previtem", i > 0 ? items[i - 1] : Value::undefined("there is no previous item"));
  loop->set("nextitem", i + 1 < items.size() ? items[i + 1] : Value::undefined("there is no next item"));
  loop->set("cycle", Value::callable(std::make_shared<BuiltinFn>("loop.cycle", [idx](Interpreter&, CallArgs& args) {
              if (args.pos.empty()) throw RenderError("no items for cycling given");
              return args.pos[static_cast<size_t>(idx) % args.pos.size()];
            })));
  return Value::ns(std::move(loop));
}

bool compare_op(const std::string& op, const Value& l, const Value& r) {
  if (op == "==") return equals(l, r);
  if (op == "!=") return !equals(l, r);
  if (op == "in") return contains(r, l);
  if (op == "notin") return !contains(r, l);
  const int c = compare(l, r);
  if (op == "<") return c < 0;
  if (op == "<=") return c <= 0;
  if (op == ">") return c > 0;
  return c >= 0;
}

}  // namespace

Scope* Interpreter::new_scope(Scope* parent) {
  scopes_.emplace_back();
  scopes_.back().parent = parent;
  return &scopes_.back();
}

std::string Interpreter::render(const TemplateAst& ast, const Value& context) {
  scopes_.clear();
  line_ = 0;
  depth_ = 0;
  Scope* root = new_scope(nullptr);
  for (const auto& [k, v] : context.dict_data().items) root->vars[to_str(k)] = v;
  std::string out;
  exec(ast.body, root, out);
  return out;
}

Value Interpreter::lookup(const std::string& name, Scope* scope) const {
  for (Scope* s = scope; s; s = s->parent) {
    const auto it = s->vars.find(name);
    if (it != s->vars.end()) return it->second;
  }
  return lookup_global(name);
}

Interpreter::Flow Interpreter::exec(const Body& body, Scope* scope, std::string& out) {
  for (const StmtPtr& s : body) {
    const Flow f = exec(*s, scope, out);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Interpreter::Flow Interpreter::exec(const Stmt& s, Scope* scope, std::string& out) {
  line_ = s.line;
  switch (s.kind) {
    case Stmt::Kind::Data: out += s.text; return Flow::Normal;
    case Stmt::Kind::Print: out += to_str(eval(*s.expr, scope)); return Flow::Normal;
    case Stmt::Kind::If:
      for (const auto& [cond, body] : s.branches)
        if (truthy(eval(*cond, scope))) return exec(body, scope, out);
      return exec(s.else_body, scope, out);
    case Stmt::Kind::For: exec_for(s, scope, out); return Flow::Normal;
    case Stmt::Kind::Set: assign(s.target, eval(*s.expr, scope), scope); return Flow::Normal;
    case Stmt::Kind::SetBlock: {
      std::string buf;
      exec(s.body, new_scope(scope), buf);
      Value v(std::move(buf));
      if (s.expr) v = apply_filter_chain(*s.expr, scope, &v);
      line_ = s.line;
      assign(s.target, v, scope);
      return Flow::Normal;
    }
    case Stmt::Kind::Macro:
      scope->vars[s.name] = Value::callable(std::make_shared<MacroFn>(&s, scope));
      return Flow::Normal;
    case Stmt::Kind::Break: return Flow::Break;
    case Stmt::Kind::Continue: return Flow::Continue;
    case Stmt::Kind::FilterBlock: {
      std::string buf;
      exec(s.body, new_scope(scope), buf);
      const Value body(std::move(buf));
      out += to_str(apply_filter_chain(*s.expr, scope, &body));
      return Flow::Normal;
    }
    case Stmt::Kind::With: {
      Scope* inner = new_scope(scope);
      for (const auto& [target, expr] : s.assigns) assign(target, eval(*expr, scope), inner);
      return exec(s.body, inner, out);
    }
    case Stmt::Kind::Generation: return exec(s.body, scope, out);
  }
  return Flow::Normal;
}

void Interpreter::exec_for(const Stmt& s, Scope* scope, std::string& out) {
  std::vector<Value> items = iterate(eval(*s.expr, scope));
  if (s.cond) {
    std::vector<Value> kept;
    for (Value& item : items) {
      Scope* fs = new_scope(scope);
      assign(s.target, item, fs);
      if (truthy(eval(*s.cond, fs))) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    exec(s.else_body, new_scope(scope), out);
    return;
  }
  for (size_t i = 0; i < items.size(); ++i) {
    Scope* it = new_scope(scope);
    line_ = s.line;
    assign(s.target, items[i], it);
    it->vars["loop"] = make_loop(i, items);
    if (exec(s.body, it, out) == Flow::Break) break;
  }
}

void Interpreter::assign(const Target& t, const Value& v, Scope* scope) {
  if (!t.attr.empty()) {
    const Value ns = lookup(t.names[0], scope);
    if (!ns.is_namespace() || ns.namespace_ptr()->loop)
      throw RenderError("cannot assign attribute on non-namespace object");
    ns.namespace_ptr()->set(t.attr, v);
    return;
  }
  if (!t.unpack) {
    scope->vars[t.names[0]] = v;
    return;
  }
  const std::vector<Value> vals = iterate(v);
  if (vals.size() > t.names.size())
    throw RenderError("too many values to unpack (expected " + std::to_string(t.names.size()) + ")");
  if (vals.size() < t.names.size())
    throw RenderError("not enough values to unpack (expected " + std::to_string(t.names.size()) + ", got " +
                      std::to_string(vals.size()) + ")");
  for (size_t i = 0; i < vals.size(); ++i) scope->vars[t.names[i]] = vals[i];
}

Value Interpreter::call(const Value& fn, CallArgs& args) {
  if (fn.is_undefined()) fail_undefined(fn);
  if (!fn.is_callable()) throw RenderError("'" + type_name(fn) + "' object is not callable");
  return fn.fn().call(*this, args);
}

Value Interpreter::call_macro(const Stmt& def, Scope* scope, CallArgs& args) {
  if (depth_ >= kMaxMacroDepth) throw RenderError("maximum macro recursion depth exceeded in '" + def.name + "'");
  const size_t n = def.params.size();
  if (args.pos.size() > n)
    throw RenderError("macro '" + def.name + "' takes not more than " + std::to_string(n) + " argument(s)");
  Scope* ms = new_scope(scope);
  for (const auto& [k, v] : args.kw) {
    size_t i = 0;
    while (i < n && def.params[i] != k) ++i;
    if (i == n) throw RenderError("macro '" + def.name + "' takes no keyword argument '" + k + "'");
    if (i < args.pos.size()) throw RenderError("macro '" + def.name + "' got multiple values for argument '" + k + "'");
  }
  for (size_t i = 0; i < n; ++i) {
    const std::string& p = def.params[i];
    Value v;
    bool given = false;
    if (i < args.pos.size()) {
      v = args.pos[i];
      given = true;
    } else {
      for (const auto& [k, x] : args.kw)
        if (k == p) {
          v = x;
          given = true;
        }
    }
    if (!given) v = def.defaults[i] ? eval(*def.defaults[i], ms) : Value::undefined("parameter '" + p + "' was not provided");
    ms->vars[p] = std::move(v);
  }
  ++depth_;
  std::string out;
  exec(def.body, ms, out);
  --depth_;
  return Value(std::move(out));
}

Value Interpreter::apply_filter_chain(const Expr& e, Scope* scope, const Value* input) {
  Value base;
  if (!e.a)
    base = *input;
  else if (e.a->kind == Expr::Kind::Filter)
    base = apply_filter_chain(*e.a, scope, input);
  else
    base = eval(*e.a, scope);
  CallArgs args;
  for (const ExprPtr& a : e.args) args.pos.push_back(eval(*a, scope));
  for (const auto& [k, a] : e.kwargs) args.kw.emplace_back(k, eval(*a, scope));
  line_ = e.line;
  return apply_filter(*this, e.name, base, args);
}

Value Interpreter::eval(const Expr& e, Scope* scope) {
  line_ = e.line;
  switch (e.kind) {
    case Expr::Kind::Literal: return e.value;
    case Expr::Kind::Name: return lookup(e.name, scope);
    case Expr::Kind::GetAttr: {
      const Value obj = eval(*e.a, scope);
      line_ = e.line;
      return get_attr(obj, e.name);
    }
    case Expr::Kind::GetItem: {
      const Value obj = eval(*e.a, scope);
      const Value key = eval(*e.b, scope);
      line_ = e.line;
      return get_item(obj, key);
    }
    case Expr::Kind::Slice: {
      const Value obj = eval(*e.a, scope);
      Value parts[3] = {Value::none(), Value::none(), Value::none()};
      for (size_t i = 0; i < 3; ++i)
        if (e.args[i]) parts[i] = eval(*e.args[i], scope);
      line_ = e.line;
      return get_slice(obj, parts[0], parts[1], parts[2]);
    }
    case Expr::Kind::Call: {
      const Value fn = eval(*e.a, scope);
      CallArgs args;
      for (const ExprPtr& a : e.args) args.pos.push_back(eval(*a, scope));
      for (const auto& [k, a] : e.kwargs) args.kw.emplace_back(k, eval(*a, scope));
      line_ = e.line;
      return call(fn, args);
    }
    case Expr::Kind::Filter: return apply_filter_chain(e, scope, nullptr);
    case Expr::Kind::Test: {
      const Value v = eval(*e.a, scope);
      CallArgs args;
      for (const ExprPtr& a : e.args) args.pos.push_back(eval(*a, scope));
      for (const auto& [k, a] : e.kwargs) args.kw.emplace_back(k, eval(*a, scope));
      line_ = e.line;
      return Value::boolean(apply_test(*this, e.name, v, args) != e.negated);
    }
    case Expr::Kind::Not: return Value::boolean(!truthy(eval(*e.a, scope)));
    case Expr::Kind::Neg: return unary_minus(eval(*e.a, scope));
    case Expr::Kind::Pos: return unary_plus(eval(*e.a, scope));
    case Expr::Kind::Binary: {
      const Value l = eval(*e.a, scope);
      const Value r = eval(*e.b, scope);
      line_ = e.line;
      return binary_op(e.name, l, r);
    }
    case Expr::Kind::Compare: {
      Value left = eval(*e.a, scope);
      for (size_t i = 0; i < e.ops.size(); ++i) {
        Value right = eval(*e.args[i], scope);
        line_ = e.line;
        if (!compare_op(e.ops[i], left, right)) return Value::boolean(false);
        left = std::move(right);
      }
      return Value::boolean(true);
    }
    case Expr::Kind::And: {
      Value l = eval(*e.a, scope);
      return truthy(l) ? eval(*e.b, scope) : l;
    }
    case Expr::Kind::Or: {
      Value l = eval(*e.a, scope);
      return truthy(l) ? l : eval(*e.b, scope);
    }
    case Expr::Kind::CondExpr:
      if (truthy(eval(*e.b, scope))) return eval(*e.a, scope);
      if (e.c) return eval(*e.c, scope);
      return Value::undefined("the inline if-expression on line " + std::to_string(e.line) +
                              " evaluated to false and no else section was defined.");
    case Expr::Kind::List:
    case Expr::Kind::Tuple: {
      std::vector<Value> items;
      for (const ExprPtr& a : e.args) items.push_back(eval(*a, scope));
      return Value::list(std::move(items), e.kind == Expr::Kind::Tuple);
    }
    case Expr::Kind::Dict: {
      std::vector<std::pair<Value, Value>> items;
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        Value k = eval(*e.args[i], scope);
        Value v = eval(*e.args[i + 1], scope);
        bool replaced = false;
        for (auto& [ek, ev] : items)
          if (equals(ek, k)) {
            ev = v;
            replaced = true;
          }
        if (!replaced) items.emplace_back(std::move(k), std::move(v));
      }
      return Value::dict(std::move(items));
    }
  }
  return Value();
}

Template::Template(std::string_view source) {
  try {
    ast_ = parse_template(source);
  } catch (const SyntaxError& e) {
    fail("chat template line ", e.line(), ": syntax error: ", e.what());
  }
}

std::string Template::render(const Value& context) const {
  if (!context.is_dict()) fail("chat template: the render context must be a JSON object, got ", type_name(context));
  Interpreter interp;
  try {
    return interp.render(*ast_, context);
  } catch (const RaisedError& e) {
    fail("chat template raised an exception at line ", interp.line(), ": ", e.what());
  } catch (const RenderError& e) {
    fail("chat template line ", interp.line(), ": ", e.what());
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail("chat template line ", interp.line(), ": ", e.what());
  }
}

}  // namespace gemrt::jinja
