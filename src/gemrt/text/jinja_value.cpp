#include "gemrt/text/jinja_value.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "gemrt/text/jinja_unicode.h"

namespace gemrt::jinja {

const Value* Namespace::find(const std::string& name) const {
  for (const auto& [k, v] : attrs)
    if (k == name) return &v;
  return nullptr;
}

void Namespace::set(const std::string& name, Value v) {
  for (auto& [k, old] : attrs)
    if (k == name) {
      old = std::move(v);
      return;
    }
  attrs.emplace_back(name, std::move(v));
}

Value Value::list(std::vector<Value> items, bool tuple) {
  auto d = std::make_shared<ListData>();
  d->items = std::move(items);
  d->tuple = tuple;
  return Value(std::shared_ptr<const ListData>(std::move(d)));
}

Value Value::dict(std::vector<std::pair<Value, Value>> items) {
  auto d = std::make_shared<DictData>();
  d->items = std::move(items);
  return Value(std::shared_ptr<const DictData>(std::move(d)));
}

const void* Value::identity() const {
  switch (kind()) {
    case Kind::List: return std::get<std::shared_ptr<const ListData>>(v_).get();
    case Kind::Dict: return std::get<std::shared_ptr<const DictData>>(v_).get();
    case Kind::Namespace: return namespace_ptr().get();
    case Kind::Callable: return std::get<std::shared_ptr<const Callable>>(v_).get();
    default: return nullptr;
  }
}

const Value* Value::find(const std::string& key) const {
  for (const auto& [k, v] : dict_data().items)
    if (k.is_string() && k.str() == key) return &v;
  return nullptr;
}

const Value* Value::find(const Value& key) const {
  if (key.is_string()) return find(key.str());
  for (const auto& [k, v] : dict_data().items)
    if (equals(k, key)) return &v;
  return nullptr;
}

const Value* CallArgs::get(size_t index, const std::string& name) const {
  if (index < pos.size()) return &pos[index];
  for (const auto& [k, v] : kw)
    if (k == name) return &v;
  return nullptr;
}

Value CallArgs::get_or(size_t index, const std::string& name, Value fallback) const {
  const Value* v = get(index, name);
  return v ? *v : std::move(fallback);
}

void CallArgs::expect(const std::string& fn, std::initializer_list<const char*> names) const {
  if (pos.size() > names.size())
    throw RenderError(fn + "() takes at most " + std::to_string(names.size()) + " argument(s) (" +
                      std::to_string(pos.size()) + " given)");
  for (const auto& [k, v] : kw) {
    size_t i = 0;
    bool known = false;
    for (const char* n : names) {
      if (k == n) {
        known = true;
        if (i < pos.size()) throw RenderError(fn + "() got multiple values for argument '" + k + "'");
      }
      ++i;
    }
    if (!known) throw RenderError(fn + "() got an unexpected keyword argument '" + k + "'");
  }
}

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None: return false;
    case Value::Kind::Bool: return v.as_bool();
    case Value::Kind::Int: return v.as_int() != 0;
    case Value::Kind::Float: return v.as_float() != 0.0;
    case Value::Kind::String: return !v.str().empty();
    case Value::Kind::List: return !v.items().empty();
    case Value::Kind::Dict: return !v.dict_data().items.empty();
    case Value::Kind::Namespace:
    case Value::Kind::Callable: return true;
  }
  return false;
}

std::string format_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0.0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  const std::string sci(buf, res.ptr);
  // sci looks like "-1.2345e+02": split sign, digits, exponent.
  size_t p = 0;
  std::string out;
  if (sci[p] == '-') {
    out.push_back('-');
    ++p;
  }
  const size_t epos = sci.find('e');
  std::string digits;
  for (size_t i = p; i < epos; ++i)
    if (sci[i] != '.') digits.push_back(sci[i]);
  const int exp10 = std::stoi(sci.substr(epos + 1));
  const int ndigits = static_cast<int>(digits.size());
  if (exp10 < -4 || exp10 >= 16) {
    out.push_back(digits[0]);
    if (ndigits > 1) {
      out.push_back('.');
      out.append(digits, 1, std::string::npos);
    }
    out.push_back('e');
    out.push_back(exp10 < 0 ? '-' : '+');
    const int ae = exp10 < 0 ? -exp10 : exp10;
    if (ae < 10) out.push_back('0');
    out += std::to_string(ae);
    return out;
  }
  const int decpt = exp10 + 1;  // digits before the point
  if (decpt <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-decpt), '0');
    out += digits;
  } else if (decpt >= ndigits) {
    out += digits;
    out.append(static_cast<size_t>(decpt - ndigits), '0');
    out += ".0";
  } else {
    out.append(digits, 0, static_cast<size_t>(decpt));
    out.push_back('.');
    out.append(digits, static_cast<size_t>(decpt), std::string::npos);
  }
  return out;
}

namespace {

std::string repr_string(const std::string& s) {
  const bool has_single = s.find('\'') != std::string::npos;
  const bool has_double = s.find('"') != std::string::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  for (char32_t c : utf8_decode(s)) {
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c >= 0xDC80 && c <= 0xDCFF) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\udc%02x", static_cast<unsigned>(c - 0xDC00));
      out += buf;
    } else if (!is_printable(c)) {
      char buf[16];
      if (c < 0x100)
        std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
      else if (c < 0x10000)
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      else
        std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(c));
      out += buf;
    } else {
      append_utf8(out, c);
    }
  }
  out.push_back(quote);
  return out;
}

}  // namespace

std::string repr(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return "Undefined";
    case Value::Kind::String: return repr_string(v.str());
    case Value::Kind::List: {
      const ListData& l = v.list_data();
      std::string out(1, l.tuple ? '(' : '[');
      for (size_t i = 0; i < l.items.size(); ++i) {
        if (i) out += ", ";
        out += repr(l.items[i]);
      }
      if (l.tuple && l.items.size() == 1) out += ",";
      out.push_back(l.tuple ? ')' : ']');
      return out;
    }
    case Value::Kind::Dict: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, val] : v.dict_data().items) {
        if (!first) out += ", ";
        first = false;
        out += repr(k) + ": " + repr(val);
      }
      return out + "}";
    }
    default: return to_str(v);
  }
}

std::string to_str(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return "";
    case Value::Kind::None: return "None";
    case Value::Kind::Bool: return v.as_bool() ? "True" : "False";
    case Value::Kind::Int: return std::to_string(v.as_int());
    case Value::Kind::Float: return format_float(v.as_float());
    case Value::Kind::String: return v.str();
    case Value::Kind::List:
    case Value::Kind::Dict: return repr(v);
    case Value::Kind::Namespace: {
      const Namespace& ns = *v.namespace_ptr();
      if (ns.loop) {
        const Value* index = ns.find("index");
        const Value* length = ns.find("length");
        return "<LoopContext " + (index ? to_str(*index) : "?") + "/" + (length ? to_str(*length) : "?") + ">";
      }
      std::string out = "<Namespace {";
      for (size_t i = 0; i < ns.attrs.size(); ++i) {
        if (i) out += ", ";
        out += repr(Value(ns.attrs[i].first)) + ": " + repr(ns.attrs[i].second);
      }
      return out + "}>";
    }
    case Value::Kind::Callable: return "<function " + v.fn().name() + ">";
  }
  return "";
}

std::string type_name(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined: return "Undefined";
    case Value::Kind::None: return "NoneType";
    case Value::Kind::Bool: return "bool";
    case Value::Kind::Int: return "int";
    case Value::Kind::Float: return "float";
    case Value::Kind::String: return "str";
    case Value::Kind::List: return v.is_tuple() ? "tuple" : "list";
    case Value::Kind::Dict: return "dict";
    case Value::Kind::Namespace: return v.namespace_ptr()->loop ? "LoopContext" : "Namespace";
    case Value::Kind::Callable: return "function";
  }
  return "object";
}

std::string object_type_repr(const Value& v) {
  if (v.is_none()) return "None";
  return type_name(v) + " object";
}

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return a.as_int() == b.as_int();
    return a.as_float() == b.as_float();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None: return true;
    case Value::Kind::String: return a.str() == b.str();
    case Value::Kind::List: {
      const ListData& x = a.list_data();
      const ListData& y = b.list_data();
      if (x.tuple != y.tuple || x.items.size() != y.items.size()) return false;
      for (size_t i = 0; i < x.items.size(); ++i)
        if (!equals(x.items[i], y.items[i])) return false;
      return true;
    }
    case Value::Kind::Dict: {
      const auto& x = a.dict_data().items;
      const auto& y = b.dict_data().items;
      if (x.size() != y.size()) return false;
      for (const auto& [k, v] : x) {
        const Value* other = b.find(k);
        if (!other || !equals(v, *other)) return false;
      }
      return true;
    }
    default: return a.identity() == b.identity();
  }
}

void fail_undefined(const Value& v) { throw RenderError(v.undefined_hint()); }

int compare(const Value& a, const Value& b) {
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return a.as_int() < b.as_int() ? -1 : (a.as_int() > b.as_int() ? 1 : 0);
    const double x = a.as_float(), y = b.as_float();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.str().compare(b.str());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
    const auto& x = a.items();
    const auto& y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i)
      if (!equals(x[i], y[i])) return compare(x[i], y[i]);
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  throw RenderError("'<' not supported between instances of '" + type_name(a) + "' and '" + type_name(b) + "'");
}

}  // namespace gemrt::jinja
