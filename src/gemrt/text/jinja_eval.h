// The Jinja interpreter: renders a parsed template against a context, with jinja2's scoping
// (for-loop bodies, macros, `with` and block sets get their own scope; `if` does not; a
// namespace() carries values out of a loop), Undefined semantics, macros and loop controls.
//
// jinja::Template is the entry point: it parses once and renders many times; every error is a
// gemrt::Error naming the template line ("chat template line 12: ...").
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "gemrt/text/jinja_ast.h"
#include "gemrt/text/jinja_value.h"

namespace gemrt::jinja {

struct Scope {
  std::unordered_map<std::string, Value> vars;
  Scope* parent = nullptr;
};

class Interpreter {
 public:
  Interpreter() = default;
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // Renders `ast` with the variables of `context` (a dict). Throws RenderError / RaisedError;
  // line() is then the template line being evaluated.
  std::string render(const TemplateAst& ast, const Value& context);
  int line() const { return line_; }

  Value call(const Value& fn, CallArgs& args);
  Value call_macro(const Stmt& def, Scope* scope, CallArgs& args);

 private:
  enum class Flow { Normal, Break, Continue };

  Scope* new_scope(Scope* parent);
  Flow exec(const Body& body, Scope* scope, std::string& out);
  Flow exec(const Stmt& s, Scope* scope, std::string& out);
  void exec_for(const Stmt& s, Scope* scope, std::string& out);
  void assign(const Target& t, const Value& v, Scope* scope);
  Value eval(const Expr& e, Scope* scope);
  Value apply_filter_chain(const Expr& e, Scope* scope, const Value* input);
  Value lookup(const std::string& name, Scope* scope) const;

  std::deque<Scope> scopes_;
  int line_ = 0;
  int depth_ = 0;
};

class Template {
 public:
  // Parses `source`; throws gemrt::Error naming the line on a syntax error.
  explicit Template(std::string_view source);
  // Renders with the variables of `context` (a dict value).
  std::string render(const Value& context) const;

 private:
  std::shared_ptr<const TemplateAst> ast_;
};

}  // namespace gemrt::jinja
