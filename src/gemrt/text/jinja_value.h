// The values a Jinja template computes with, modelled on the Python objects jinja2 sees when
// transformers renders a chat template: Undefined, None, bool, int, float, str, list / tuple,
// dict (insertion-ordered), jinja2's Namespace (and the for-loop's `loop`), and callables.
//
// Lists and dicts are immutable and shared (the sandbox forbids mutating them); a namespace is
// shared and mutable, as in Python. Strings are UTF-8.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace gemrt::jinja {

class Value;
class Interpreter;
struct CallArgs;

// An error while rendering; the interpreter adds the template line.
class RenderError : public std::runtime_error {
 public:
  explicit RenderError(const std::string& what) : std::runtime_error(what) {}
};

struct ListData {
  std::vector<Value> items;
  bool tuple = false;
};

struct DictData {
  std::vector<std::pair<Value, Value>> items;
};

// jinja2.utils.Namespace, or the read-only `loop` object of a for loop.
struct Namespace {
  std::vector<std::pair<std::string, Value>> attrs;
  bool loop = false;
  const Value* find(const std::string& name) const;
  void set(const std::string& name, Value v);
};

class Callable {
 public:
  virtual ~Callable() = default;
  virtual std::string name() const = 0;
  virtual Value call(Interpreter& interp, CallArgs& args) const = 0;
};

class Value {
 public:
  enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Callable };

  Value() : v_(Undef{}) {}
  Value(std::string s) : v_(std::move(s)) {}  // NOLINT: implicit on purpose
  Value(const char* s) : v_(std::string(s)) {}  // NOLINT

  static Value undefined(std::string hint) { return Value(Undef{std::move(hint)}); }
  static Value none() { return Value(nullptr); }
  static Value boolean(bool b) { return Value(b); }
  static Value integer(int64_t i) { return Value(i); }
  static Value number(double d) { return Value(d); }
  static Value list(std::vector<Value> items, bool tuple = false);
  static Value dict(std::vector<std::pair<Value, Value>> items);
  static Value ns(std::shared_ptr<Namespace> n) { return Value(std::move(n)); }
  static Value callable(std::shared_ptr<const Callable> c) { return Value(std::move(c)); }

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_undefined() const { return kind() == Kind::Undefined; }
  bool is_none() const { return kind() == Kind::None; }
  bool is_bool() const { return kind() == Kind::Bool; }
  bool is_int() const { return kind() == Kind::Int; }
  bool is_float() const { return kind() == Kind::Float; }
  bool is_string() const { return kind() == Kind::String; }
  bool is_list() const { return kind() == Kind::List; }  // list or tuple
  bool is_tuple() const { return is_list() && list_data().tuple; }
  bool is_dict() const { return kind() == Kind::Dict; }
  bool is_namespace() const { return kind() == Kind::Namespace; }
  bool is_callable() const { return kind() == Kind::Callable; }
  // Python int or bool (bool is a subclass of int).
  bool is_integral() const { return is_int() || is_bool(); }
  bool is_number() const { return is_int() || is_bool() || is_float(); }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return is_bool() ? (as_bool() ? 1 : 0) : std::get<int64_t>(v_); }
  double as_float() const { return is_float() ? std::get<double>(v_) : static_cast<double>(as_int()); }
  const std::string& str() const { return std::get<std::string>(v_); }
  const ListData& list_data() const { return *std::get<std::shared_ptr<const ListData>>(v_); }
  const std::vector<Value>& items() const { return list_data().items; }
  const DictData& dict_data() const { return *std::get<std::shared_ptr<const DictData>>(v_); }
  const std::shared_ptr<Namespace>& namespace_ptr() const { return std::get<std::shared_ptr<Namespace>>(v_); }
  const Callable& fn() const { return *std::get<std::shared_ptr<const Callable>>(v_); }
  const void* identity() const;  // the shared object, for `is sameas`
  const std::string& undefined_hint() const { return std::get<Undef>(v_).hint; }

  // Dict lookup by key (Python equality); null when absent.
  const Value* find(const Value& key) const;
  const Value* find(const std::string& key) const;

 private:
  struct Undef {
    std::string hint;
  };
  explicit Value(Undef u) : v_(std::move(u)) {}
  explicit Value(std::nullptr_t) : v_(nullptr) {}
  explicit Value(bool b) : v_(b) {}
  explicit Value(int64_t i) : v_(i) {}
  explicit Value(double d) : v_(d) {}
  explicit Value(std::shared_ptr<const ListData> l) : v_(std::move(l)) {}
  explicit Value(std::shared_ptr<const DictData> d) : v_(std::move(d)) {}
  explicit Value(std::shared_ptr<Namespace> n) : v_(std::move(n)) {}
  explicit Value(std::shared_ptr<const Callable> c) : v_(std::move(c)) {}

  std::variant<Undef, std::nullptr_t, bool, int64_t, double, std::string, std::shared_ptr<const ListData>,
               std::shared_ptr<const DictData>, std::shared_ptr<Namespace>, std::shared_ptr<const Callable>>
      v_;
};

// Arguments of a call, filter or test. Parameters bind Python-style: position `index`, else the
// keyword `name`.
struct CallArgs {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;

  const Value* get(size_t index, const std::string& name) const;
  Value get_or(size_t index, const std::string& name, Value fallback) const;
  // Throws when there are more positional arguments than `names`, or a keyword not among them.
  void expect(const std::string& fn, std::initializer_list<const char*> names) const;
};

// Python bool(v).
bool truthy(const Value& v);
// Python str(v) (Undefined prints as "").
std::string to_str(const Value& v);
// Python repr(v).
std::string repr(const Value& v);
// Python's name for the type ("str", "int", "NoneType", ...), for error messages.
std::string type_name(const Value& v);
// jinja2's object_type_repr ("dict object", "None", ...), for Undefined hints.
std::string object_type_repr(const Value& v);
// repr(float): shortest round-trip digits, Python's layout ("1.0", "1e-07", "1e+16").
std::string format_float(double d);
// Python ==.
bool equals(const Value& a, const Value& b);
// Python <, as -1 / 0 / 1; throws RenderError when the types cannot be ordered.
int compare(const Value& a, const Value& b);
// Throws the error an Undefined raises when used (its hint).
[[noreturn]] void fail_undefined(const Value& v);

}  // namespace gemrt::jinja
