// The parsed template: expression and statement nodes (one struct each, fields by kind).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gemrt/text/jinja_value.h"

namespace gemrt::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Expr {
  enum class Kind {
    Literal,   // value
    Name,      // name
    GetAttr,   // a.name
    GetItem,   // a[b]
    Slice,     // a[args[0]:args[1]:args[2]] (null parts allowed)
    Call,      // a(args, kwargs)
    Filter,    // a | name(args, kwargs); a null = the body of a filter block
    Test,      // a is [not] name(args, kwargs)
    Not,       // not a
    Neg,       // -a
    Pos,       // +a
    Binary,    // a op b, op in + - * / // % ** ~
    Compare,   // a ops[0] args[0] ops[1] args[1] ...
    And,       // a and b
    Or,        // a or b
    CondExpr,  // a if b else c (c may be null)
    List,      // [args]
    Tuple,     // (args)
    Dict,      // {args[0]: args[1], ...}
  };
  Kind kind;
  int line = 0;
  Value value;
  std::string name;
  ExprPtr a, b, c;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;
  bool negated = false;
};

// Where a set / for / with stores: one name, several names (tuple unpacking), or ns.attr.
struct Target {
  std::vector<std::string> names;
  bool unpack = false;
  std::string attr;  // non-empty: names[0].attr
};

struct Stmt {
  enum class Kind {
    Data,         // text
    Print,        // {{ expr }}
    If,           // branches; else_body
    For,          // for target in expr [if cond]: body; else_body
    Set,          // {% set target = expr %}
    SetBlock,     // {% set target [| filter] %}body{% endset %}
    Macro,        // name(params = defaults): body
    Break,
    Continue,
    FilterBlock,  // {% filter expr %}body{% endfilter %}
    With,         // {% with targets = values %}body{% endwith %}
    Generation,   // transformers' {% generation %}body{% endgeneration %}
  };
  Kind kind;
  int line = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr cond;
  Target target;
  Body body, else_body;
  std::vector<std::pair<ExprPtr, Body>> branches;
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // one per param, null when none
  std::vector<std::pair<Target, ExprPtr>> assigns;
};

struct TemplateAst {
  Body body;
};

}  // namespace gemrt::jinja
