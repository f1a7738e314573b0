#include "gemrt/text/jinja_ops.h"

#include <cmath>

#include "gemrt/text/jinja_methods.h"
#include "gemrt/text/jinja_unicode.h"

namespace gemrt::jinja {

namespace {

[[noreturn]] void unsupported(const std::string& op, const Value& a, const Value& b) {
  throw RenderError("unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" + type_name(b) + "'");
}

Value repeat(const Value& seq, int64_t n) {
  if (seq.is_string()) {
    std::string out;
    for (int64_t i = 0; i < n; ++i) out += seq.str();
    return Value(out);
  }
  std::vector<Value> out;
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), seq.items().begin(), seq.items().end());
  return Value::list(std::move(out), seq.is_tuple());
}

// CPython's float divmod.
void float_divmod(double a, double b, double* div_out, double* mod_out) {
  if (b == 0.0) throw RenderError("float division by zero");
  double mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0.0) {
    if ((b < 0) != (mod < 0)) {
      mod += b;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, b);
  }
  double floordiv;
  if (div != 0.0) {
    floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
  } else {
    floordiv = std::copysign(0.0, a / b);
  }
  *div_out = floordiv;
  *mod_out = mod;
}

Value int_pow(int64_t base, int64_t exp) {
  int64_t result = 1;
  int64_t b = base;
  int64_t e = exp;
  bool overflow = false;
  while (e > 0 && !overflow) {
    if (e & 1) overflow = __builtin_mul_overflow(result, b, &result);
    e >>= 1;
    if (e > 0 && !overflow) overflow = __builtin_mul_overflow(b, b, &b);
  }
  if (overflow) return Value::number(std::pow(static_cast<double>(base), static_cast<double>(exp)));
  return Value::integer(result);
}

Value arith(const std::string& op, const Value& a, const Value& b) {
  const bool ints = a.is_integral() && b.is_integral();
  if (ints) {
    const int64_t x = a.as_int(), y = b.as_int();
    int64_t r = 0;
    if (op == "+" && !__builtin_add_overflow(x, y, &r)) return Value::integer(r);
    if (op == "-" && !__builtin_sub_overflow(x, y, &r)) return Value::integer(r);
    if (op == "*" && !__builtin_mul_overflow(x, y, &r)) return Value::integer(r);
    if ((op == "//" || op == "%") && !(x == INT64_MIN && y == -1)) {
      if (y == 0) throw RenderError("integer division or modulo by zero");
      int64_t q = x / y, m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) {
        q -= 1;
        m += y;
      }
      return Value::integer(op == "//" ? q : m);
    }
    if (op == "**") {
      if (y >= 0) return int_pow(x, y);
      if (x == 0) throw RenderError("0.0 cannot be raised to a negative power");
      return Value::number(std::pow(static_cast<double>(x), static_cast<double>(y)));
    }
  }
  const double x = a.as_float(), y = b.as_float();
  if (op == "+") return Value::number(x + y);
  if (op == "-") return Value::number(x - y);
  if (op == "*") return Value::number(x * y);
  if (op == "/") {
    if (y == 0.0) throw RenderError("division by zero");
    return Value::number(x / y);
  }
  if (op == "//" || op == "%") {
    double d, m;
    float_divmod(x, y, &d, &m);
    return Value::number(op == "//" ? d : m);
  }
  if (op == "**") {
    if (x == 0.0 && y < 0) throw RenderError("0.0 cannot be raised to a negative power");
    return Value::number(std::pow(x, y));
  }
  unsupported(op, a, b);
}

// Python's slice.indices() for a sequence of length len.
void slice_indices(const Value& start_v, const Value& stop_v, const Value& step_v, int64_t len, int64_t* start,
                   int64_t* stop, int64_t* step) {
  auto idx = [](const Value& v) -> int64_t {
    if (!v.is_integral())
      throw RenderError("slice indices must be integers or None or have an __index__ method");
    return v.as_int();
  };
  *step = step_v.is_none() ? 1 : idx(step_v);
  if (*step == 0) throw RenderError("slice step cannot be zero");
  auto adjust = [&](const Value& v, int64_t dflt) -> int64_t {
    if (v.is_none()) return dflt;
    int64_t x = idx(v);
    if (x < 0) {
      x += len;
      if (x < 0) x = *step < 0 ? -1 : 0;
    } else if (x >= len) {
      x = *step < 0 ? len - 1 : len;
    }
    return x;
  };
  *start = adjust(start_v, *step < 0 ? len - 1 : 0);
  *stop = adjust(stop_v, *step < 0 ? -1 : len);
}

Value no_attribute(const Value& obj, const std::string& name) {
  return Value::undefined("'" + object_type_repr(obj) + "' has no attribute '" + name + "'");
}

Value no_element(const Value& obj, const Value& key) {
  return Value::undefined(object_type_repr(obj) + " has no element " + repr(key));
}

// Attribute lookup proper (Python getattr): methods, namespace / loop attributes.
bool python_getattr(const Value& obj, const std::string& name, Value* out) {
  if (obj.is_namespace()) {
    if (const Value* v = obj.namespace_ptr()->find(name)) {
      *out = *v;
      return true;
    }
    return false;
  }
  if (has_method(obj, name)) {
    *out = bound_method(obj, name);
    return true;
  }
  if (is_unsafe_method(obj, name)) {
    *out = Value::undefined("access to attribute '" + name + "' of '" + type_name(obj) + "' object is unsafe.");
    return true;
  }
  return false;
}

}  // namespace

Value binary_op(const std::string& op, const Value& a, const Value& b) {
  if (op == "~") return Value(to_str(a) + to_str(b));
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (a.is_number() && b.is_number()) return arith(op, a, b);
  if (op == "+") {
    if (a.is_string() && b.is_string()) return Value(a.str() + b.str());
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
      std::vector<Value> out = a.items();
      out.insert(out.end(), b.items().begin(), b.items().end());
      return Value::list(std::move(out), a.is_tuple());
    }
    if (a.is_string()) throw RenderError("can only concatenate str (not \"" + type_name(b) + "\") to str");
    if (a.is_list() && !a.is_tuple())
      throw RenderError("can only concatenate list (not \"" + type_name(b) + "\") to list");
  }
  if (op == "*") {
    if ((a.is_string() || a.is_list()) && b.is_integral()) return repeat(a, b.as_int());
    if ((b.is_string() || b.is_list()) && a.is_integral()) return repeat(b, a.as_int());
  }
  if (op == "%" && a.is_string()) return Value(percent_format(a.str(), b));
  unsupported(op, a, b);
}

Value unary_minus(const Value& v) {
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_integral()) {
    if (v.as_int() == INT64_MIN) return Value::number(-static_cast<double>(v.as_int()));
    return Value::integer(-v.as_int());
  }
  if (v.is_float()) return Value::number(-v.as_float());
  throw RenderError("bad operand type for unary -: '" + type_name(v) + "'");
}

Value unary_plus(const Value& v) {
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_integral()) return Value::integer(v.as_int());
  if (v.is_float()) return v;
  throw RenderError("bad operand type for unary +: '" + type_name(v) + "'");
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::Undefined: return false;
    case Value::Kind::String:
      if (!item.is_string())
        throw RenderError("'in <string>' requires string as left operand, not " + type_name(item));
      return container.str().find(item.str()) != std::string::npos;
    case Value::Kind::List:
      for (const Value& x : container.items())
        if (equals(x, item)) return true;
      return false;
    case Value::Kind::Dict: return container.find(item) != nullptr;
    default: throw RenderError("argument of type '" + type_name(container) + "' is not iterable");
  }
}

int64_t length(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return 0;
    case Value::Kind::String: return static_cast<int64_t>(utf8_length(v.str()));
    case Value::Kind::List: return static_cast<int64_t>(v.items().size());
    case Value::Kind::Dict: return static_cast<int64_t>(v.dict_data().items.size());
    default: throw RenderError("object of type '" + type_name(v) + "' has no len()");
  }
}

std::vector<Value> iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return {};
    case Value::Kind::List: return v.items();
    case Value::Kind::Dict: {
      std::vector<Value> keys;
      for (const auto& kv : v.dict_data().items) keys.push_back(kv.first);
      return keys;
    }
    case Value::Kind::String: {
      std::vector<Value> out;
      for (char32_t c : utf8_decode(v.str())) {
        std::string s;
        append_utf8(s, c);
        out.emplace_back(std::move(s));
      }
      return out;
    }
    default: throw RenderError("'" + type_name(v) + "' object is not iterable");
  }
}

Value get_attr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) fail_undefined(obj);
  Value out;
  if (python_getattr(obj, name, &out)) return out;
  if (obj.is_dict()) {
    if (const Value* v = obj.find(name)) return *v;
  }
  return no_attribute(obj, name);
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) fail_undefined(obj);
  if (obj.is_dict()) {
    if (const Value* v = obj.find(key)) return *v;
  } else if ((obj.is_list() || obj.is_string()) && key.is_integral()) {
    const int64_t len = obj.is_list() ? static_cast<int64_t>(obj.items().size()) : length(obj);
    int64_t i = key.as_int();
    if (i < 0) i += len;
    if (i >= 0 && i < len) {
      if (obj.is_list()) return obj.items()[static_cast<size_t>(i)];
      const std::u32string cps = utf8_decode(obj.str());
      std::string s;
      append_utf8(s, cps[static_cast<size_t>(i)]);
      return Value(s);
    }
    return no_element(obj, key);
  }
  if (key.is_string()) {
    Value out;
    if (python_getattr(obj, key.str(), &out)) return out;
    return no_attribute(obj, key.str());
  }
  return no_element(obj, key);
}

Value get_slice(const Value& obj, const Value& start_v, const Value& stop_v, const Value& step_v) {
  if (obj.is_undefined()) fail_undefined(obj);
  if (!obj.is_list() && !obj.is_string()) return Value::undefined("'" + object_type_repr(obj) + "' is not subscriptable");
  std::u32string cps;
  if (obj.is_string()) cps = utf8_decode(obj.str());
  const int64_t len = obj.is_list() ? static_cast<int64_t>(obj.items().size()) : static_cast<int64_t>(cps.size());
  int64_t start = 0, stop = 0, step = 1;
  slice_indices(start_v, stop_v, step_v, len, &start, &stop, &step);
  std::vector<size_t> picks;
  if (step > 0)
    for (int64_t i = start; i < stop; i += step) picks.push_back(static_cast<size_t>(i));
  else
    for (int64_t i = start; i > stop; i += step) picks.push_back(static_cast<size_t>(i));
  if (obj.is_list()) {
    std::vector<Value> out;
    out.reserve(picks.size());
    for (size_t i : picks) out.push_back(obj.items()[i]);
    return Value::list(std::move(out), obj.is_tuple());
  }
  std::u32string out;
  for (size_t i : picks) out.push_back(cps[i]);
  return Value(utf8_encode(out));
}

}  // namespace gemrt::jinja
