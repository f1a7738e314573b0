// Python semantics of the operators and lookups in template expressions: arithmetic,
// `~`, `in`, len(), iteration, and jinja2's sandboxed getattr / getitem (attribute first for
// `a.b`, item first for `a[b]`, Undefined instead of an exception when neither exists).
#pragma once

#include <string>
#include <vector>

#include "gemrt/text/jinja_value.h"

namespace gemrt::jinja {

// op: + - * / // % ** ~
Value binary_op(const std::string& op, const Value& a, const Value& b);
Value unary_minus(const Value& v);
Value unary_plus(const Value& v);
// Python `item in container`.
bool contains(const Value& container, const Value& item);
// Python len(); throws for values without a length.
int64_t length(const Value& v);
// Python iter(): list items, dict keys, string characters; Undefined is empty.
std::vector<Value> iterate(const Value& v);

Value get_attr(const Value& obj, const std::string& name);
Value get_item(const Value& obj, const Value& key);
// obj[start:stop:step]; null parts are None.
Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step);

}  // namespace gemrt::jinja
