#include "gemrt/text/jinja_filters.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <unordered_map>

#include "gemrt/text/jinja_json.h"
#include "gemrt/text/jinja_methods.h"
#include "gemrt/text/jinja_ops.h"
#include "gemrt/text/jinja_unicode.h"

namespace gemrt::jinja {

namespace {

using FilterFn = Value (*)(Interpreter&, const Value&, CallArgs&);
using TestFn = bool (*)(Interpreter&, const Value&, CallArgs&);

// ---- helpers ----------------------------------------------------------------------------------

int64_t int_arg(const Value& v, const char* what) {
  if (!v.is_integral()) throw RenderError(std::string(what) + " must be an integer, not " + type_name(v));
  return v.as_int();
}

Value lower_if_str(const Value& v) { return v.is_string() ? Value(str_lower(v.str())) : v; }

// jinja2's make_attrgetter: "a.b.0" -> getitem per part, digits as integers.
Value attr_lookup(const Value& item, const Value& attribute, const Value* dflt) {
  Value cur = item;
  if (attribute.is_integral()) {
    cur = get_item(cur, attribute);
  } else {
    const std::string path = to_str(attribute);
    size_t start = 0;
    for (;;) {
      const size_t dot = path.find('.', start);
      const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      const bool digits = !part.empty() && part.find_first_not_of("0123456789") == std::string::npos;
      int64_t index = 0;
      const bool as_int = digits && std::from_chars(part.data(), part.data() + part.size(), index).ec == std::errc();
      cur = get_item(cur, as_int ? Value::integer(index) : Value(part));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
  }
  if (dflt && !dflt->is_none() && cur.is_undefined()) return *dflt;
  return cur;
}

bool str_to_int(const std::string& text, int base, int64_t* out) {
  std::string s = str_strip(text, nullptr);
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.erase(0, 1);
  }
  if (s.size() > 2 && s[0] == '0') {
    const char p = static_cast<char>(s[1] | 0x20);
    if ((p == 'x' && (base == 16 || base == 0)) || (p == 'o' && (base == 8 || base == 0)) ||
        (p == 'b' && (base == 2 || base == 0))) {
      base = p == 'x' ? 16 : (p == 'o' ? 8 : 2);
      s.erase(0, 2);
      if (!s.empty() && s[0] == '_') s.erase(0, 1);
    }
  }
  if (base == 0) base = 10;
  std::string clean;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 == s.size() || s[i + 1] == '_') return false;
      continue;
    }
    clean.push_back(s[i]);
  }
  if (clean.empty()) return false;
  int64_t v = 0;
  const auto r = std::from_chars(clean.data(), clean.data() + clean.size(), v, base);
  if (r.ec != std::errc() || r.ptr != clean.data() + clean.size()) return false;
  *out = neg ? -v : v;
  return true;
}

bool str_to_float(const std::string& text, double* out) {
  std::string s = str_strip(text, nullptr);
  std::string clean;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 == s.size() || !std::isdigit(static_cast<unsigned char>(s[i - 1])) ||
          !std::isdigit(static_cast<unsigned char>(s[i + 1])))
        return false;
      continue;
    }
    clean.push_back(s[i]);
  }
  const std::string low = str_lower(clean);
  std::string body = low;
  double sign = 1.0;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    sign = body[0] == '-' ? -1.0 : 1.0;
    body.erase(0, 1);
  }
  if (body == "inf" || body == "infinity") {
    *out = sign * HUGE_VAL;
    return true;
  }
  if (body == "nan") {
    *out = std::nan("");
    return true;
  }
  if (body.empty() || body[0] == '+' || body[0] == '-') return false;
  double v = 0;
  const auto r = std::from_chars(body.data(), body.data() + body.size(), v);
  if (r.ec == std::errc::result_out_of_range) {
    *out = sign * HUGE_VAL;
    return true;
  }
  if (r.ec != std::errc() || r.ptr != body.data() + body.size()) return false;
  *out = sign * v;
  return true;
}

// Python round(x, ndigits) for floats: correctly rounded, ties to even.
double round_float(double x, int64_t ndigits) {
  if (!std::isfinite(x)) return x;
  if (ndigits >= 0) {
    if (ndigits > 300) return x;
    char buf[512];
    const auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::fixed, static_cast<int>(ndigits));
    if (r.ec != std::errc()) return x;
    double v = 0;
    std::from_chars(buf, r.ptr, v);
    return v;
  }
  const double scale = std::pow(10.0, static_cast<double>(-ndigits));
  return std::nearbyint(x / scale) * scale;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// A filter's arguments after the ones it takes itself (map('upper', ...) -> ...).
CallArgs rest_args(const CallArgs& args, size_t from) {
  CallArgs out;
  for (size_t i = from; i < args.pos.size(); ++i) out.pos.push_back(args.pos[i]);
  out.kw = args.kw;
  return out;
}

// ---- filters ------------------------------------------------------------------------------------

Value f_abs(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("abs", {});
  if (v.is_integral()) {
    if (v.as_int() == INT64_MIN) return Value::number(-static_cast<double>(v.as_int()));
    return Value::integer(v.as_int() < 0 ? -v.as_int() : v.as_int());
  }
  if (v.is_float()) return Value::number(std::fabs(v.as_float()));
  if (v.is_undefined()) fail_undefined(v);
  throw RenderError("bad operand type for abs(): '" + type_name(v) + "'");
}

Value f_attr(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("attr", {"name"});
  const std::string name = to_str(args.get_or(0, "name", Value("")));
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_namespace()) {
    if (const Value* x = v.namespace_ptr()->find(name)) return *x;
  } else if (has_method(v, name)) {
    return bound_method(v, name);
  }
  return Value::undefined("'" + object_type_repr(v) + "' has no attribute '" + name + "'");
}

Value f_capitalize(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("capitalize", {});
  return Value(str_capitalize(to_str(v)));
}

Value f_center(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("center", {"width"});
  CallArgs m;
  m.pos.push_back(args.get_or(0, "width", Value::integer(80)));
  return call_method(Value(to_str(v)), "center", m);
}

Value f_default(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("default", {"default_value", "boolean"});
  const bool boolean = truthy(args.get_or(1, "boolean", Value::boolean(false)));
  if (v.is_undefined() || (boolean && !truthy(v))) return args.get_or(0, "default_value", Value(""));
  return v;
}

Value f_dictsort(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("dictsort", {"case_sensitive", "by", "reverse"});
  const bool case_sensitive = truthy(args.get_or(0, "case_sensitive", Value::boolean(false)));
  const std::string by = to_str(args.get_or(1, "by", Value("key")));
  const bool reverse = truthy(args.get_or(2, "reverse", Value::boolean(false)));
  if (by != "key" && by != "value") throw RenderError("You can only sort by either \"key\" or \"value\"");
  if (v.is_undefined()) fail_undefined(v);
  if (!v.is_dict()) throw RenderError("'" + type_name(v) + "' object has no attribute 'items'");
  std::vector<std::pair<Value, Value>> items = v.dict_data().items;
  const bool by_key = by == "key";
  auto key = [&](const std::pair<Value, Value>& kv) {
    const Value& x = by_key ? kv.first : kv.second;
    return case_sensitive ? x : lower_if_str(x);
  };
  std::stable_sort(items.begin(), items.end(), [&](const auto& a, const auto& b) {
    return reverse ? compare(key(b), key(a)) < 0 : compare(key(a), key(b)) < 0;
  });
  std::vector<Value> out;
  for (auto& [k, x] : items) out.push_back(Value::list({k, x}, true));
  return Value::list(std::move(out));
}

Value f_escape(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("escape", {});
  return Value(html_escape(to_str(v)));
}

Value f_first(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("first", {});
  const std::vector<Value> items = iterate(v);
  if (items.empty()) return Value::undefined("No first item, sequence was empty.");
  return items.front();
}

Value f_last(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("last", {});
  const std::vector<Value> items = iterate(v);
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

Value f_float(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("float", {"default"});
  const Value dflt = args.get_or(0, "default", Value::number(0.0));
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_number()) return Value::number(v.as_float());
  double d = 0;
  if (v.is_string() && str_to_float(v.str(), &d)) return Value::number(d);
  return dflt;
}

Value f_format(Interpreter&, const Value& v, CallArgs& args) {
  if (!args.pos.empty() && !args.kw.empty())
    throw RenderError("can't handle positional and keyword arguments at the same time");
  if (!args.kw.empty()) {
    std::vector<std::pair<Value, Value>> kw;
    for (const auto& [k, x] : args.kw) kw.emplace_back(Value(k), x);
    return Value(percent_format(to_str(v), Value::dict(std::move(kw))));
  }
  return Value(percent_format(to_str(v), Value::list(args.pos, true)));
}

Value f_indent(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("indent", {"width", "first", "blank"});
  const Value width = args.get_or(0, "width", Value::integer(4));
  const bool first = truthy(args.get_or(1, "first", Value::boolean(false)));
  const bool blank = truthy(args.get_or(2, "blank", Value::boolean(false)));
  std::string indention;
  if (width.is_string()) {
    indention = width.str();
  } else {
    if (!width.is_integral()) throw RenderError("can't multiply sequence by non-int of type '" + type_name(width) + "'");
    indention.assign(static_cast<size_t>(std::max<int64_t>(0, width.as_int())), ' ');
  }
  CallArgs none;
  const Value lines_v = call_method(Value(to_str(v) + "\n"), "splitlines", none);
  std::vector<Value> lines = lines_v.items();
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) rv += "\n" + indention;
      rv += lines[i].str();
    }
  } else {
    rv = lines.empty() ? "" : lines[0].str();
    for (size_t i = 1; i < lines.size(); ++i) {
      rv += "\n";
      if (!lines[i].str().empty()) rv += indention;
      rv += lines[i].str();
    }
  }
  if (first) rv = indention + rv;
  return Value(rv);
}

Value f_int(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("int", {"default", "base"});
  const Value dflt = args.get_or(0, "default", Value::integer(0));
  const Value base_v = args.get_or(1, "base", Value::integer(10));
  // int(value, base) with a bad base raises TypeError, which jinja2 swallows: only the float
  // fallback remains.
  const int64_t base = base_v.is_integral() ? base_v.as_int() : -1;
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_integral()) return Value::integer(v.as_int());
  if (v.is_float()) {
    if (!std::isfinite(v.as_float())) return dflt;
    return Value::integer(static_cast<int64_t>(std::trunc(v.as_float())));
  }
  if (v.is_string()) {
    int64_t i = 0;
    if ((base == 0 || (base >= 2 && base <= 36)) && str_to_int(v.str(), static_cast<int>(base), &i))
      return Value::integer(i);
    double d = 0;
    if (str_to_float(v.str(), &d) && std::isfinite(d)) return Value::integer(static_cast<int64_t>(std::trunc(d)));
  }
  return dflt;
}

Value f_items(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("items", {});
  if (v.is_undefined()) return Value::list({});
  if (!v.is_dict()) throw RenderError("Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& [k, x] : v.dict_data().items) out.push_back(Value::list({k, x}, true));
  return Value::list(std::move(out));
}

Value f_join(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("join", {"d", "attribute"});
  const std::string sep = to_str(args.get_or(0, "d", Value("")));
  const Value* attribute = args.get(1, "attribute");
  std::string out;
  bool first = true;
  for (const Value& x : iterate(v)) {
    if (!first) out += sep;
    first = false;
    out += to_str(attribute && !attribute->is_none() ? attr_lookup(x, *attribute, nullptr) : x);
  }
  return Value(out);
}

Value f_length(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("length", {});
  return Value::integer(length(v));
}

Value f_list(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("list", {});
  return Value::list(iterate(v));
}

Value f_lower(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("lower", {});
  return Value(str_lower(to_str(v)));
}

Value f_upper(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("upper", {});
  return Value(str_upper(to_str(v)));
}

Value f_map(Interpreter& interp, const Value& v, CallArgs& args) {
  std::vector<Value> out;
  if (!truthy(v)) return Value::list({});
  if (args.pos.empty()) {
    const Value* attribute = nullptr;
    const Value* dflt = nullptr;
    for (const auto& [k, x] : args.kw) {
      if (k == "attribute") attribute = &x;
      else if (k == "default") dflt = &x;
      else throw RenderError("Unexpected keyword argument '" + k + "'");
    }
    if (!attribute) throw RenderError("map requires a filter argument");
    for (const Value& x : iterate(v)) out.push_back(attr_lookup(x, *attribute, dflt));
  } else {
    const std::string name = to_str(args.pos[0]);
    if (!has_filter(name)) throw RenderError("No filter named '" + name + "'.");
    for (const Value& x : iterate(v)) {
      CallArgs rest = rest_args(args, 1);
      out.push_back(apply_filter(interp, name, x, rest));
    }
  }
  return Value::list(std::move(out));
}

Value select_or_reject(Interpreter& interp, const Value& v, CallArgs& args, bool lookup_attr, bool select) {
  std::vector<Value> out;
  if (!truthy(v)) return Value::list({});
  size_t off = 0;
  const Value* attribute = nullptr;
  if (lookup_attr) {
    if (args.pos.empty()) throw RenderError("Missing parameter for attribute name");
    attribute = &args.pos[0];
    off = 1;
  }
  const bool has_test_name = args.pos.size() > off;
  const std::string test = has_test_name ? to_str(args.pos[off]) : "";
  if (has_test_name && !has_test(test)) throw RenderError("No test named '" + test + "'.");
  for (const Value& x : iterate(v)) {
    const Value item = attribute ? attr_lookup(x, *attribute, nullptr) : x;
    bool r;
    if (has_test_name) {
      CallArgs rest = rest_args(args, off + 1);
      r = apply_test(interp, test, item, rest);
    } else {
      r = truthy(item);
    }
    if (r == select) out.push_back(x);
  }
  return Value::list(std::move(out));
}

Value f_select(Interpreter& in, const Value& v, CallArgs& a) { return select_or_reject(in, v, a, false, true); }
Value f_reject(Interpreter& in, const Value& v, CallArgs& a) { return select_or_reject(in, v, a, false, false); }
Value f_selectattr(Interpreter& in, const Value& v, CallArgs& a) { return select_or_reject(in, v, a, true, true); }
Value f_rejectattr(Interpreter& in, const Value& v, CallArgs& a) { return select_or_reject(in, v, a, true, false); }

Value min_max(const Value& v, CallArgs& args, bool want_max, const std::string& fn) {
  args.expect(fn, {"case_sensitive", "attribute"});
  const bool case_sensitive = truthy(args.get_or(0, "case_sensitive", Value::boolean(false)));
  const Value* attribute = args.get(1, "attribute");
  const std::vector<Value> items = iterate(v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  auto key = [&](const Value& x) {
    const Value k = attribute && !attribute->is_none() ? attr_lookup(x, *attribute, nullptr) : x;
    return case_sensitive ? k : lower_if_str(k);
  };
  size_t best = 0;
  for (size_t i = 1; i < items.size(); ++i) {
    const int c = compare(key(items[i]), key(items[best]));
    if (want_max ? c > 0 : c < 0) best = i;
  }
  return items[best];
}

Value f_max(Interpreter&, const Value& v, CallArgs& args) { return min_max(v, args, true, "max"); }
Value f_min(Interpreter&, const Value& v, CallArgs& args) { return min_max(v, args, false, "min"); }

Value f_replace(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("replace", {"old", "new", "count"});
  const Value* old = args.get(0, "old");
  const Value* repl = args.get(1, "new");
  if (!old || !repl) throw RenderError("replace() missing required arguments 'old' and 'new'");
  const Value count = args.get_or(2, "count", Value::none());
  CallArgs m;
  m.pos = {Value(to_str(*old)), Value(to_str(*repl)), count.is_none() ? Value::integer(-1) : count};
  return call_method(Value(to_str(v)), "replace", m);
}

Value f_reverse(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("reverse", {});
  if (v.is_string()) {
    std::u32string cps = utf8_decode(v.str());
    std::reverse(cps.begin(), cps.end());
    return Value(utf8_encode(cps));
  }
  std::vector<Value> items = iterate(v);
  std::reverse(items.begin(), items.end());
  return Value::list(std::move(items));
}

Value f_round(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("round", {"precision", "method"});
  const int64_t precision = int_arg(args.get_or(0, "precision", Value::integer(0)), "round(): precision");
  const std::string method = to_str(args.get_or(1, "method", Value("common")));
  if (method != "common" && method != "ceil" && method != "floor")
    throw RenderError("method must be common, ceil or floor");
  if (v.is_undefined()) fail_undefined(v);
  if (!v.is_number()) throw RenderError("type " + type_name(v) + " doesn't define __round__ method");
  if (method == "common") {
    if (v.is_integral()) {
      if (precision >= 0) return Value::integer(v.as_int());
      return Value::integer(static_cast<int64_t>(round_float(static_cast<double>(v.as_int()), precision)));
    }
    return Value::number(round_float(v.as_float(), precision));
  }
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double x = v.as_float() * scale;
  return Value::number((method == "ceil" ? std::ceil(x) : std::floor(x)) / scale);
}

Value f_safe(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("safe", {});
  return Value(to_str(v));
}

Value f_sort(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("sort", {"reverse", "case_sensitive", "attribute"});
  const bool reverse = truthy(args.get_or(0, "reverse", Value::boolean(false)));
  const bool case_sensitive = truthy(args.get_or(1, "case_sensitive", Value::boolean(false)));
  const Value* attribute = args.get(2, "attribute");
  std::vector<Value> items = iterate(v);
  auto key = [&](const Value& x) {
    const Value k = attribute && !attribute->is_none() ? attr_lookup(x, *attribute, nullptr) : x;
    return case_sensitive ? k : lower_if_str(k);
  };
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    return reverse ? compare(key(b), key(a)) < 0 : compare(key(a), key(b)) < 0;
  });
  return Value::list(std::move(items));
}

Value f_string(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("string", {});
  return Value(to_str(v));
}

Value f_sum(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("sum", {"attribute", "start"});
  const Value* attribute = args.get(0, "attribute");
  Value total = args.get_or(1, "start", Value::integer(0));
  for (const Value& x : iterate(v))
    total = binary_op("+", total, attribute && !attribute->is_none() ? attr_lookup(x, *attribute, nullptr) : x);
  return total;
}

Value f_title(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("title", {});
  // jinja2: split on runs of [-\s({[<]; each piece: first char upper, rest lower.
  const std::u32string cps = utf8_decode(to_str(v));
  std::string out;
  bool word_start = true;
  for (char32_t c : cps) {
    const bool sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || is_space(c);
    if (sep) {
      append_utf8(out, c);
      word_start = true;
      continue;
    }
    std::string piece;
    append_utf8(piece, c);
    out += word_start ? str_upper(piece) : str_lower(piece);
    word_start = false;
  }
  return Value(out);
}

Value f_tojson(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("tojson", {"ensure_ascii", "indent", "separators", "sort_keys"});
  DumpOptions opt;
  opt.ensure_ascii = truthy(args.get_or(0, "ensure_ascii", Value::boolean(false)));
  const Value indent = args.get_or(1, "indent", Value::none());
  if (indent.is_string())
    opt.indent = indent.str();
  else if (indent.is_integral())
    opt.indent = std::string(static_cast<size_t>(std::max<int64_t>(0, indent.as_int())), ' ');
  else if (!indent.is_none())
    throw RenderError("tojson: indent must be an int or a string");
  const Value seps = args.get_or(2, "separators", Value::none());
  if (!seps.is_none()) {
    if (!seps.is_list() || seps.items().size() != 2 || !seps.items()[0].is_string() || !seps.items()[1].is_string())
      throw RenderError("tojson: separators must be an (item_separator, key_separator) pair of strings");
    opt.item_separator = seps.items()[0].str();
    opt.key_separator = seps.items()[1].str();
  }
  opt.sort_keys = truthy(args.get_or(3, "sort_keys", Value::boolean(false)));
  return Value(dump_json(v, opt));
}

Value f_trim(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("trim", {"chars"});
  const Value chars = args.get_or(0, "chars", Value::none());
  if (chars.is_none()) return Value(str_strip(to_str(v), nullptr));
  const std::string cs = to_str(chars);
  return Value(str_strip(to_str(v), &cs));
}

Value f_truncate(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("truncate", {"length", "killwords", "end", "leeway"});
  const int64_t len = int_arg(args.get_or(0, "length", Value::integer(255)), "truncate(): length");
  const bool killwords = truthy(args.get_or(1, "killwords", Value::boolean(false)));
  const std::string end = to_str(args.get_or(2, "end", Value("...")));
  const Value leeway_v = args.get_or(3, "leeway", Value::none());
  const int64_t leeway = leeway_v.is_none() ? 5 : int_arg(leeway_v, "truncate(): leeway");
  const std::u32string s = utf8_decode(to_str(v));
  const int64_t end_len = static_cast<int64_t>(utf8_length(end));
  if (len < end_len) throw RenderError("expected length >= " + std::to_string(end_len) + ", got " + std::to_string(len));
  if (static_cast<int64_t>(s.size()) <= len + leeway) return Value(utf8_encode(s));
  std::string head = utf8_encode(std::u32string_view(s).substr(0, static_cast<size_t>(len - end_len)));
  if (killwords) return Value(head + end);
  const size_t sp = head.rfind(' ');
  if (sp != std::string::npos) head.resize(sp);
  return Value(head + end);
}

Value f_unique(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("unique", {"case_sensitive", "attribute"});
  const bool case_sensitive = truthy(args.get_or(0, "case_sensitive", Value::boolean(false)));
  const Value* attribute = args.get(1, "attribute");
  std::vector<Value> out, seen;
  for (const Value& x : iterate(v)) {
    Value k = attribute && !attribute->is_none() ? attr_lookup(x, *attribute, nullptr) : x;
    if (!case_sensitive) k = lower_if_str(k);
    bool dup = false;
    for (const Value& s : seen)
      if (equals(s, k)) dup = true;
    if (dup) continue;
    seen.push_back(k);
    out.push_back(x);
  }
  return Value::list(std::move(out));
}

Value f_wordcount(Interpreter&, const Value& v, CallArgs& args) {
  args.expect("wordcount", {});
  int64_t n = 0;
  bool in_word = false;
  for (char32_t c : utf8_decode(to_str(v))) {
    const bool w = is_alpha(c) || is_digit(c) || c == '_';
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value::integer(n);
}

const std::unordered_map<std::string, FilterFn>& filters() {
  static const std::unordered_map<std::string, FilterFn> kFilters = {
      {"abs", f_abs},         {"attr", f_attr},           {"capitalize", f_capitalize}, {"center", f_center},
      {"count", f_length},    {"d", f_default},           {"default", f_default},       {"dictsort", f_dictsort},
      {"e", f_escape},        {"escape", f_escape},       {"first", f_first},           {"float", f_float},
      {"forceescape", f_escape}, {"format", f_format},    {"indent", f_indent},         {"int", f_int},
      {"items", f_items},     {"join", f_join},           {"last", f_last},             {"length", f_length},
      {"list", f_list},       {"lower", f_lower},         {"map", f_map},               {"max", f_max},
      {"min", f_min},         {"reject", f_reject},       {"rejectattr", f_rejectattr}, {"replace", f_replace},
      {"reverse", f_reverse}, {"round", f_round},         {"safe", f_safe},             {"select", f_select},
      {"selectattr", f_selectattr}, {"sort", f_sort},     {"string", f_string},         {"sum", f_sum},
      {"title", f_title},     {"tojson", f_tojson},       {"trim", f_trim},             {"truncate", f_truncate},
      {"unique", f_unique},   {"upper", f_upper},         {"wordcount", f_wordcount},
  };
  return kFilters;
}

// ---- tests ------------------------------------------------------------------------------------------

const Value& test_arg(const CallArgs& args, const std::string& test) {
  if (args.pos.empty()) throw RenderError("test '" + test + "' takes an argument");
  return args.pos[0];
}

bool t_defined(Interpreter&, const Value& v, CallArgs&) { return !v.is_undefined(); }
bool t_undefined(Interpreter&, const Value& v, CallArgs&) { return v.is_undefined(); }
bool t_none(Interpreter&, const Value& v, CallArgs&) { return v.is_none(); }
bool t_boolean(Interpreter&, const Value& v, CallArgs&) { return v.is_bool(); }
bool t_true(Interpreter&, const Value& v, CallArgs&) { return v.is_bool() && v.as_bool(); }
bool t_false(Interpreter&, const Value& v, CallArgs&) { return v.is_bool() && !v.as_bool(); }
bool t_integer(Interpreter&, const Value& v, CallArgs&) { return v.is_int(); }
bool t_float(Interpreter&, const Value& v, CallArgs&) { return v.is_float(); }
bool t_number(Interpreter&, const Value& v, CallArgs&) { return v.is_number(); }
bool t_string(Interpreter&, const Value& v, CallArgs&) { return v.is_string(); }
bool t_mapping(Interpreter&, const Value& v, CallArgs&) { return v.is_dict(); }
bool t_iterable(Interpreter&, const Value& v, CallArgs&) {
  return v.is_undefined() || v.is_list() || v.is_dict() || v.is_string();
}
// len() and __getitem__: also true for dicts and Undefined, as in jinja2.
bool t_sequence(Interpreter&, const Value& v, CallArgs&) {
  return v.is_undefined() || v.is_list() || v.is_dict() || v.is_string();
}
bool t_callable(Interpreter&, const Value& v, CallArgs&) { return v.is_callable() || v.is_undefined(); }
bool t_escaped(Interpreter&, const Value&, CallArgs&) { return false; }
bool t_eq(Interpreter&, const Value& v, CallArgs& a) { return equals(v, test_arg(a, "eq")); }
bool t_ne(Interpreter&, const Value& v, CallArgs& a) { return !equals(v, test_arg(a, "ne")); }
bool t_lt(Interpreter&, const Value& v, CallArgs& a) { return compare(v, test_arg(a, "lt")) < 0; }
bool t_le(Interpreter&, const Value& v, CallArgs& a) { return compare(v, test_arg(a, "le")) <= 0; }
bool t_gt(Interpreter&, const Value& v, CallArgs& a) { return compare(v, test_arg(a, "gt")) > 0; }
bool t_ge(Interpreter&, const Value& v, CallArgs& a) { return compare(v, test_arg(a, "ge")) >= 0; }
bool t_in(Interpreter&, const Value& v, CallArgs& a) { return contains(test_arg(a, "in"), v); }
bool t_sameas(Interpreter&, const Value& v, CallArgs& a) {
  const Value& o = test_arg(a, "sameas");
  if (v.kind() != o.kind()) return false;
  if (v.identity() || o.identity()) return v.identity() == o.identity();
  return equals(v, o);
}
bool t_even(Interpreter&, const Value& v, CallArgs&) {
  return truthy(binary_op("%", v, Value::integer(2))) == false;
}
bool t_odd(Interpreter&, const Value& v, CallArgs&) {
  return equals(binary_op("%", v, Value::integer(2)), Value::integer(1));
}
bool t_divisibleby(Interpreter&, const Value& v, CallArgs& a) {
  return equals(binary_op("%", v, test_arg(a, "divisibleby")), Value::integer(0));
}
bool case_test(const Value& v, bool want_lower) {
  CallArgs no;
  return call_method(Value(to_str(v)), want_lower ? "islower" : "isupper", no).as_bool();
}
bool t_lower(Interpreter&, const Value& v, CallArgs&) { return case_test(v, true); }
bool t_upper(Interpreter&, const Value& v, CallArgs&) { return case_test(v, false); }
bool t_filter(Interpreter&, const Value& v, CallArgs&) { return v.is_string() && has_filter(v.str()); }
bool t_test(Interpreter&, const Value& v, CallArgs&) { return v.is_string() && has_test(v.str()); }

const std::unordered_map<std::string, TestFn>& tests() {
  static const std::unordered_map<std::string, TestFn> kTests = {
      {"boolean", t_boolean},   {"callable", t_callable}, {"defined", t_defined}, {"divisibleby", t_divisibleby},
      {"eq", t_eq},             {"equalto", t_eq},        {"==", t_eq},           {"escaped", t_escaped},
      {"even", t_even},         {"false", t_false},       {"filter", t_filter},   {"float", t_float},
      {"ge", t_ge},             {">=", t_ge},             {"gt", t_gt},           {"greaterthan", t_gt},
      {">", t_gt},              {"in", t_in},             {"integer", t_integer}, {"iterable", t_iterable},
      {"le", t_le},             {"<=", t_le},             {"lower", t_lower},     {"lt", t_lt},
      {"lessthan", t_lt},       {"<", t_lt},              {"mapping", t_mapping}, {"ne", t_ne},
      {"!=", t_ne},             {"none", t_none},         {"number", t_number},   {"odd", t_odd},
      {"sameas", t_sameas},     {"sequence", t_sequence}, {"string", t_string},   {"test", t_test},
      {"true", t_true},         {"undefined", t_undefined}, {"upper", t_upper},
  };
  return kTests;
}

}  // namespace

bool has_filter(const std::string& name) { return filters().count(name) != 0; }
bool has_test(const std::string& name) { return tests().count(name) != 0; }

Value apply_filter(Interpreter& interp, const std::string& name, const Value& v, CallArgs& args) {
  const auto it = filters().find(name);
  if (it == filters().end()) throw RenderError("No filter named '" + name + "'.");
  return it->second(interp, v, args);
}

bool apply_test(Interpreter& interp, const std::string& name, const Value& v, CallArgs& args) {
  const auto it = tests().find(name);
  if (it == tests().end()) throw RenderError("No test named '" + name + "'.");
  return it->second(interp, v, args);
}

}  // namespace gemrt::jinja
