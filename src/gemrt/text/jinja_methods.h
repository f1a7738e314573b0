// Python methods that templates call on values (str.strip(), dict.get(), ...), the global
// functions a transformers chat template sees (range, namespace, dict, raise_exception,
// strftime_now), and Python's printf-style `%` formatting.
//
// As in jinja2's ImmutableSandboxedEnvironment, methods that would mutate a list or a dict
// (append, update, pop, ...) are looked up as unsafe: calling them fails.
#pragma once

#include <functional>
#include <string>

#include "gemrt/text/jinja_value.h"

namespace gemrt::jinja {

// Raised by the template's raise_exception(msg); what() is the message.
class RaisedError : public RenderError {
 public:
  explicit RaisedError(const std::string& what) : RenderError(what) {}
};

// A native function.
class BuiltinFn : public Callable {
 public:
  using Fn = std::function<Value(Interpreter&, CallArgs&)>;
  BuiltinFn(std::string name, Fn fn) : name_(std::move(name)), fn_(std::move(fn)) {}
  std::string name() const override { return name_; }
  Value call(Interpreter& interp, CallArgs& args) const override { return fn_(interp, args); }

 private:
  std::string name_;
  Fn fn_;
};

// True when `self` has a (safe) method `name`.
bool has_method(const Value& self, const std::string& name);
// True for list / dict methods the immutable sandbox refuses (append, update, ...).
bool is_unsafe_method(const Value& self, const std::string& name);
// `self.name` as a callable value bound to self.
Value bound_method(const Value& self, const std::string& name);
Value call_method(const Value& self, const std::string& name, CallArgs& args);

// The global named `name` (range, namespace, dict, raise_exception, strftime_now), or Undefined.
Value lookup_global(const std::string& name);

// Python `fmt % args`.
std::string percent_format(const std::string& fmt, const Value& args);

// Python str.split / str.rsplit (sep null: split on runs of whitespace).
std::vector<Value> py_split(const std::string& s, const std::string* sep, int64_t maxsplit, bool from_right);

}  // namespace gemrt::jinja
