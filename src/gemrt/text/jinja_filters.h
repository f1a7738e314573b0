// jinja2's built-in filters and tests (the ones chat templates use, and their usual
// neighbours), with transformers' tojson. Arguments bind like the Python signatures.
#pragma once

#include <string>

#include "gemrt/text/jinja_value.h"

namespace gemrt::jinja {

bool has_filter(const std::string& name);
bool has_test(const std::string& name);

Value apply_filter(Interpreter& interp, const std::string& name, const Value& v, CallArgs& args);
bool apply_test(Interpreter& interp, const std::string& name, const Value& v, CallArgs& args);

}  // namespace gemrt::jinja
