// Jinja parser: tokens -> TemplateAst, following jinja2's grammar and operator precedence
// (filters and `is` tests bind tighter than arithmetic; `not` looser than comparisons).
// Unknown filters and tests are errors at parse time, as in jinja2.
#pragma once

#include <memory>
#include <string_view>

#include "gemrt/text/jinja_ast.h"

namespace gemrt::jinja {

// Throws SyntaxError (with the line) on malformed templates.
std::unique_ptr<TemplateAst> parse_template(std::string_view source);

}  // namespace gemrt::jinja
