#include "gemrt/text/jinja_methods.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>

#include "gemrt/text/jinja_ops.h"
#include "gemrt/text/jinja_unicode.h"

namespace gemrt::jinja {

namespace {

const char* const kStrMethods[] = {
    "capitalize", "center",  "count",   "endswith", "find",      "format",    "index",      "isalnum",
    "isalpha",    "isdigit", "islower", "isspace",  "isupper",   "isnumeric", "isdecimal",  "join",
    "ljust",      "lower",   "lstrip",  "partition", "removeprefix", "removesuffix", "replace", "rfind",
    "rindex",     "rjust",   "rpartition", "rsplit", "rstrip",   "split",     "splitlines", "startswith",
    "strip",      "swapcase", "title",  "upper",    "zfill"};
const char* const kDictMethods[] = {"copy", "get", "items", "keys", "values"};
const char* const kDictUnsafe[] = {"clear", "pop", "popitem", "setdefault", "update"};
const char* const kListMethods[] = {"copy", "count", "index"};
const char* const kListUnsafe[] = {"append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort"};

template <size_t N>
bool in(const char* const (&names)[N], const std::string& name) {
  for (const char* n : names)
    if (name == n) return true;
  return false;
}

class BoundMethod : public Callable {
 public:
  BoundMethod(Value self, std::string method) : self_(std::move(self)), method_(std::move(method)) {}
  std::string name() const override { return type_name(self_) + "." + method_; }
  Value call(Interpreter&, CallArgs& args) const override { return call_method(self_, method_, args); }

 private:
  Value self_;
  std::string method_;
};

const std::string& need_str(const Value& v, const std::string& what) {
  if (!v.is_string()) throw RenderError(what + " must be str, not " + type_name(v));
  return v.str();
}

int64_t need_int(const Value& v, const std::string& what) {
  if (!v.is_integral()) throw RenderError(what + ": '" + type_name(v) + "' object cannot be interpreted as an integer");
  return v.as_int();
}

// Python's index normalisation for str.find(sub, start, end) and friends (code point units).
void clamp_range(const CallArgs& args, size_t first_index, int64_t len, int64_t* start, int64_t* end) {
  *start = 0;
  *end = len;
  auto norm = [&](const Value* v, int64_t* out) {
    if (!v || v->is_none()) return;
    int64_t x = need_int(*v, "slice index");
    if (x < 0) x += len;
    *out = x < 0 ? 0 : (x > len ? len : x);
  };
  norm(args.get(first_index, "start"), start);
  norm(args.get(first_index + 1, "end"), end);
}

Value str_find(const std::string& s, const CallArgs& args, bool reverse, bool raise, const std::string& fn) {
  args.expect(fn, {"sub", "start", "end"});
  const Value* subv = args.get(0, "sub");
  if (!subv) throw RenderError(fn + "() takes at least 1 argument (0 given)");
  const std::u32string hay = utf8_decode(s);
  const std::u32string sub = utf8_decode(need_str(*subv, fn + "() argument"));
  int64_t start = 0, end = 0;
  clamp_range(args, 1, static_cast<int64_t>(hay.size()), &start, &end);
  int64_t found = -1;
  if (end - start >= static_cast<int64_t>(sub.size())) {
    const std::u32string_view window = std::u32string_view(hay).substr(static_cast<size_t>(start), static_cast<size_t>(end - start));
    const size_t p = reverse ? window.rfind(sub) : window.find(sub);
    if (p != std::u32string_view::npos) found = start + static_cast<int64_t>(p);
  }
  if (found < 0 && raise) throw RenderError("substring not found");
  return Value::integer(found);
}

Value str_count(const std::string& s, const CallArgs& args) {
  args.expect("count", {"sub", "start", "end"});
  const Value* subv = args.get(0, "sub");
  if (!subv) throw RenderError("count() takes at least 1 argument (0 given)");
  const std::u32string hay = utf8_decode(s);
  const std::u32string sub = utf8_decode(need_str(*subv, "count() argument"));
  int64_t start = 0, end = 0;
  clamp_range(args, 1, static_cast<int64_t>(hay.size()), &start, &end);
  if (end < start) return Value::integer(0);
  const std::u32string_view window = std::u32string_view(hay).substr(static_cast<size_t>(start), static_cast<size_t>(end - start));
  if (sub.empty()) return Value::integer(static_cast<int64_t>(window.size()) + 1);
  int64_t n = 0;
  for (size_t p = window.find(sub); p != std::u32string_view::npos; p = window.find(sub, p + sub.size())) ++n;
  return Value::integer(n);
}

bool affix_match(const std::string& s, const CallArgs& args, bool suffix, const std::string& fn) {
  args.expect(fn, {"prefix", "start", "end"});
  const Value* pv = args.get(0, "prefix");
  if (!pv) throw RenderError(fn + "() takes at least 1 argument (0 given)");
  std::vector<std::string> cands;
  if (pv->is_string()) {
    cands.push_back(pv->str());
  } else if (pv->is_list()) {
    for (const Value& x : pv->items()) cands.push_back(need_str(x, fn + "() tuple item"));
  } else {
    throw RenderError(fn + " first arg must be str or a tuple of str, not " + type_name(*pv));
  }
  std::string hay = s;
  if (args.get(1, "start") || args.get(2, "end")) {
    const std::u32string cps = utf8_decode(s);
    int64_t start = 0, end = 0;
    clamp_range(args, 1, static_cast<int64_t>(cps.size()), &start, &end);
    hay = end > start ? utf8_encode(std::u32string_view(cps).substr(static_cast<size_t>(start), static_cast<size_t>(end - start))) : "";
  }
  for (const std::string& c : cands) {
    if (c.size() > hay.size()) continue;
    if (suffix ? hay.compare(hay.size() - c.size(), c.size(), c) == 0 : hay.compare(0, c.size(), c) == 0) return true;
  }
  return false;
}

std::string str_replace(const std::string& s, const std::string& old, const std::string& repl, int64_t count) {
  std::string out;
  if (old.empty()) {
    const std::u32string cps = utf8_decode(s);
    int64_t done = 0;
    for (size_t i = 0; i <= cps.size(); ++i) {
      if (count < 0 || done < count) {
        out += repl;
        ++done;
      }
      if (i < cps.size()) append_utf8(out, cps[i]);
    }
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  for (size_t p = s.find(old); p != std::string::npos && (count < 0 || done < count); p = s.find(old, pos)) {
    out.append(s, pos, p - pos);
    out += repl;
    pos = p + old.size();
    ++done;
  }
  out.append(s, pos, std::string::npos);
  return out;
}

std::string pad(const std::string& s, int64_t width, const std::string& fill, int align /*-1 left,0 center,1 right*/) {
  const std::u32string f = utf8_decode(fill);
  if (f.size() != 1) throw RenderError("The fill character must be exactly one character long");
  const int64_t len = static_cast<int64_t>(utf8_length(s));
  if (width <= len) return s;
  const int64_t total = width - len;
  int64_t left = 0;
  if (align == 1) left = total;
  if (align == 0) left = total / 2 + (total & width & 1);  // CPython's centering rule
  std::string out;
  for (int64_t i = 0; i < left; ++i) append_utf8(out, f[0]);
  out += s;
  for (int64_t i = 0; i < total - left; ++i) append_utf8(out, f[0]);
  return out;
}

// Minimal str.format: {} / {0} / {name}, optional !r / !s, no format specs.
std::string str_format(const std::string& fmt, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    const char c = fmt[i];
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
        out.push_back('}');
        ++i;
        continue;
      }
      throw RenderError("Single '}' encountered in format string");
    }
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out.push_back('{');
      ++i;
      continue;
    }
    const size_t close = fmt.find('}', i);
    if (close == std::string::npos) throw RenderError("Single '{' encountered in format string");
    std::string field = fmt.substr(i + 1, close - i - 1);
    i = close;
    char conv = 's';
    if (const size_t bang = field.find('!'); bang != std::string::npos) {
      if (bang + 2 != field.size()) throw RenderError("unsupported format field '" + field + "'");
      conv = field[bang + 1];
      field.resize(bang);
    }
    if (field.find(':') != std::string::npos) throw RenderError("format specs in str.format are not supported");
    const Value* v = nullptr;
    if (field.empty()) {
      v = auto_index < args.pos.size() ? &args.pos[auto_index] : nullptr;
      ++auto_index;
    } else if (field.find_first_not_of("0123456789") == std::string::npos) {
      size_t k = 0;
      const bool ok = std::from_chars(field.data(), field.data() + field.size(), k).ec == std::errc();
      v = ok && k < args.pos.size() ? &args.pos[k] : nullptr;
    } else {
      for (const auto& [name, val] : args.kw)
        if (name == field) v = &val;
    }
    if (!v) throw RenderError("Replacement index " + field + " out of range for positional args tuple");
    out += conv == 'r' ? repr(*v) : to_str(*v);
  }
  return out;
}

Value str_method(const std::string& s, const std::string& m, CallArgs& args) {
  if (m == "strip" || m == "lstrip" || m == "rstrip") {
    args.expect(m, {"chars"});
    const Value* chars = args.get(0, "chars");
    const std::string* cs = (chars && !chars->is_none()) ? &need_str(*chars, m + " arg") : nullptr;
    const StripSide side = m == "strip" ? StripSide::Both : (m == "lstrip" ? StripSide::Left : StripSide::Right);
    return Value(str_strip(s, cs, side));
  }
  if (m == "split" || m == "rsplit") {
    args.expect(m, {"sep", "maxsplit"});
    const Value sep = args.get_or(0, "sep", Value::none());
    const int64_t maxsplit = need_int(args.get_or(1, "maxsplit", Value::integer(-1)), "maxsplit");
    const std::string* sp = sep.is_none() ? nullptr : &need_str(sep, m + " separator");
    return Value::list(py_split(s, sp, maxsplit, m == "rsplit"));
  }
  if (m == "splitlines") {
    args.expect(m, {"keepends"});
    const bool keep = truthy(args.get_or(0, "keepends", Value::boolean(false)));
    std::vector<Value> out;
    const std::u32string cps = utf8_decode(s);
    size_t start = 0;
    for (size_t i = 0; i < cps.size(); ++i) {
      if (!is_line_break(cps[i])) continue;
      size_t eol = i + 1;
      if (cps[i] == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') eol = i + 2;
      out.emplace_back(utf8_encode(std::u32string_view(cps).substr(start, (keep ? eol : i) - start)));
      start = eol;
      i = eol - 1;
    }
    if (start < cps.size()) out.emplace_back(utf8_encode(std::u32string_view(cps).substr(start)));
    return Value::list(std::move(out));
  }
  if (m == "startswith" || m == "endswith") return Value::boolean(affix_match(s, args, m == "endswith", m));
  if (m == "upper" || m == "lower" || m == "title" || m == "capitalize" || m == "swapcase") {
    args.expect(m, {});
    if (m == "upper") return Value(str_upper(s));
    if (m == "lower") return Value(str_lower(s));
    if (m == "title") return Value(str_title(s));
    if (m == "capitalize") return Value(str_capitalize(s));
    std::string out;
    for (char32_t c : utf8_decode(s)) {
      const char32_t u = to_upper(c);
      append_utf8(out, u != c ? u : to_lower(c));
    }
    return Value(out);
  }
  if (m == "replace") {
    args.expect(m, {"old", "new", "count"});
    const Value* o = args.get(0, "old");
    const Value* n = args.get(1, "new");
    if (!o || !n) throw RenderError("replace() takes at least 2 arguments");
    return Value(str_replace(s, need_str(*o, "replace() argument 1"), need_str(*n, "replace() argument 2"),
                             need_int(args.get_or(2, "count", Value::integer(-1)), "count")));
  }
  if (m == "find" || m == "rfind" || m == "index" || m == "rindex")
    return str_find(s, args, m[0] == 'r', m == "index" || m == "rindex", m);
  if (m == "count") return str_count(s, args);
  if (m == "join") {
    args.expect(m, {"iterable"});
    const Value* it = args.get(0, "iterable");
    if (!it) throw RenderError("join() takes exactly one argument (0 given)");
    std::string out;
    size_t i = 0;
    for (const Value& x : iterate(*it)) {
      if (!x.is_string())
        throw RenderError("sequence item " + std::to_string(i) + ": expected str instance, " + type_name(x) + " found");
      if (i++) out += s;
      out += x.str();
    }
    return Value(out);
  }
  if (m.rfind("is", 0) == 0) {
    args.expect(m, {});
    const std::u32string cps = utf8_decode(s);
    if (cps.empty()) return Value::boolean(false);
    bool all = true, any_cased = false;
    for (char32_t c : cps) {
      if (m == "isalnum") all = all && (is_alpha(c) || is_digit(c));
      if (m == "isalpha") all = all && is_alpha(c);
      if (m == "isdigit" || m == "isnumeric" || m == "isdecimal") all = all && is_digit(c);
      if (m == "isspace") all = all && is_space(c);
      if (m == "islower" || m == "isupper") {
        if (is_cased(c)) {
          any_cased = true;
          const bool lower = to_upper(c) != c || c == 0xDF;
          all = all && (m == "islower" ? lower : !lower);
        }
      }
    }
    if (m == "islower" || m == "isupper") return Value::boolean(all && any_cased);
    return Value::boolean(all);
  }
  if (m == "removeprefix" || m == "removesuffix") {
    args.expect(m, {"affix"});
    const Value* a = args.get(0, "affix");
    if (!a) throw RenderError(m + "() takes exactly one argument (0 given)");
    const std::string& x = need_str(*a, m + "() argument");
    if (m == "removeprefix" && s.compare(0, x.size(), x) == 0) return Value(s.substr(x.size()));
    if (m == "removesuffix" && !x.empty() && s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0)
      return Value(s.substr(0, s.size() - x.size()));
    return Value(s);
  }
  if (m == "center" || m == "ljust" || m == "rjust") {
    args.expect(m, {"width", "fillchar"});
    const int64_t width = need_int(args.get_or(0, "width", Value::integer(0)), "width");
    const std::string fill = need_str(args.get_or(1, "fillchar", Value(" ")), "fillchar");
    return Value(pad(s, width, fill, m == "center" ? 0 : (m == "ljust" ? -1 : 1)));
  }
  if (m == "zfill") {
    args.expect(m, {"width"});
    const int64_t width = need_int(args.get_or(0, "width", Value::integer(0)), "width");
    const int64_t len = static_cast<int64_t>(utf8_length(s));
    if (width <= len) return Value(s);
    std::string sign, body = s;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
      sign = s.substr(0, 1);
      body = s.substr(1);
    }
    return Value(sign + std::string(static_cast<size_t>(width - len), '0') + body);
  }
  if (m == "partition" || m == "rpartition") {
    args.expect(m, {"sep"});
    const Value* sv = args.get(0, "sep");
    if (!sv) throw RenderError(m + "() takes exactly one argument (0 given)");
    const std::string& sep = need_str(*sv, m + "() argument");
    if (sep.empty()) throw RenderError("empty separator");
    const size_t p = m == "partition" ? s.find(sep) : s.rfind(sep);
    if (p == std::string::npos)
      return m == "partition" ? Value::list({Value(s), Value(""), Value("")}, true)
                              : Value::list({Value(""), Value(""), Value(s)}, true);
    return Value::list({Value(s.substr(0, p)), Value(sep), Value(s.substr(p + sep.size()))}, true);
  }
  if (m == "format") return Value(str_format(s, args));
  throw RenderError("'str' object has no attribute '" + m + "'");
}

Value dict_method(const Value& d, const std::string& m, CallArgs& args) {
  if (m == "get") {
    args.expect(m, {"key", "default"});
    const Value* key = args.get(0, "key");
    if (!key) throw RenderError("get expected at least 1 argument, got 0");
    const Value* v = d.find(*key);
    return v ? *v : args.get_or(1, "default", Value::none());
  }
  args.expect(m, {});
  std::vector<Value> out;
  if (m == "copy") return d;
  for (const auto& [k, v] : d.dict_data().items) {
    if (m == "keys") out.push_back(k);
    if (m == "values") out.push_back(v);
    if (m == "items") out.push_back(Value::list({k, v}, true));
  }
  return Value::list(std::move(out));
}

Value list_method(const Value& l, const std::string& m, CallArgs& args) {
  if (m == "copy") {
    args.expect(m, {});
    return l;
  }
  args.expect(m, {"value"});
  const Value* x = args.get(0, "value");
  if (!x) throw RenderError(m + "() takes exactly one argument (0 given)");
  int64_t n = 0;
  const auto& items = l.items();
  for (size_t i = 0; i < items.size(); ++i) {
    if (!equals(items[i], *x)) continue;
    if (m == "index") return Value::integer(static_cast<int64_t>(i));
    ++n;
  }
  if (m == "index") throw RenderError(repr(*x) + " is not in list");
  return Value::integer(n);
}

// ---- globals ----------------------------------------------------------------------------------

constexpr int64_t kMaxRange = 100000;  // jinja2.sandbox.MAX_RANGE

Value fn_range(Interpreter&, CallArgs& args) {
  if (!args.kw.empty()) throw RenderError("range() takes no keyword arguments");
  if (args.pos.empty() || args.pos.size() > 3)
    throw RenderError("range expected 1 to 3 arguments, got " + std::to_string(args.pos.size()));
  int64_t start = 0, stop = 0, step = 1;
  if (args.pos.size() == 1) {
    stop = need_int(args.pos[0], "range()");
  } else {
    start = need_int(args.pos[0], "range()");
    stop = need_int(args.pos[1], "range()");
    if (args.pos.size() == 3) step = need_int(args.pos[2], "range()");
  }
  if (step == 0) throw RenderError("range() arg 3 must not be zero");
  int64_t n = 0;
  if (step > 0 && stop > start) n = (stop - start + step - 1) / step;
  if (step < 0 && stop < start) n = (start - stop + (-step) - 1) / (-step);
  if (n > kMaxRange)
    throw RenderError("Range too big. The sandbox blocks ranges larger than MAX_RANGE (" + std::to_string(kMaxRange) + ").");
  std::vector<Value> out;
  out.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out.push_back(Value::integer(start + i * step));
  return Value::list(std::move(out));
}

std::vector<std::pair<Value, Value>> dict_items_from(const CallArgs& args, const std::string& fn) {
  if (args.pos.size() > 1) throw RenderError(fn + " expected at most 1 positional argument, got " + std::to_string(args.pos.size()));
  std::vector<std::pair<Value, Value>> items;
  auto put = [&](const Value& k, const Value& v) {
    for (auto& [ek, ev] : items)
      if (equals(ek, k)) {
        ev = v;
        return;
      }
    items.emplace_back(k, v);
  };
  if (!args.pos.empty()) {
    const Value& src = args.pos[0];
    if (src.is_dict()) {
      for (const auto& [k, v] : src.dict_data().items) put(k, v);
    } else {
      for (const Value& pair : iterate(src)) {
        const std::vector<Value> kv = iterate(pair);
        if (kv.size() != 2) throw RenderError(fn + ": dictionary update sequence element has wrong length");
        put(kv[0], kv[1]);
      }
    }
  }
  for (const auto& [k, v] : args.kw) put(Value(k), v);
  return items;
}

Value fn_namespace(Interpreter&, CallArgs& args) {
  auto ns = std::make_shared<Namespace>();
  for (auto& [k, v] : dict_items_from(args, "namespace")) ns->set(to_str(k), v);
  return Value::ns(std::move(ns));
}

Value fn_dict(Interpreter&, CallArgs& args) { return Value::dict(dict_items_from(args, "dict")); }

Value fn_raise_exception(Interpreter&, CallArgs& args) {
  const Value* msg = args.get(0, "message");
  throw RaisedError(msg ? to_str(*msg) : "");
}

Value fn_strftime_now(Interpreter&, CallArgs& args) {
  args.expect("strftime_now", {"format"});
  const Value* f = args.get(0, "format");
  if (!f) throw RenderError("strftime_now() missing required argument 'format'");
  const std::string& fmt = need_str(*f, "strftime_now() format");
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  std::string buf(256 + fmt.size() * 4, '\0');
  // The format is the template's, as with Python's datetime.strftime.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  const size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
#pragma GCC diagnostic pop
  buf.resize(n);
  return Value(buf);
}

// ---- printf ------------------------------------------------------------------------------------

std::string format_number_spec(const Value& v, char conv, const std::string& flags, int precision) {
  const bool alt = flags.find('#') != std::string::npos;
  if (conv == 'd' || conv == 'i' || conv == 'u' || conv == 'x' || conv == 'X' || conv == 'o') {
    int64_t x;
    if (v.is_integral())
      x = v.as_int();
    else if (v.is_float())
      x = static_cast<int64_t>(std::trunc(v.as_float()));
    else
      throw RenderError(std::string("%") + conv + " format: a real number is required, not " + type_name(v));
    const bool neg = x < 0;
    const uint64_t mag = neg ? static_cast<uint64_t>(0) - static_cast<uint64_t>(x) : static_cast<uint64_t>(x);
    char buf[80];
    const int base = (conv == 'x' || conv == 'X') ? 16 : (conv == 'o' ? 8 : 10);
    auto r = std::to_chars(buf, buf + sizeof buf, mag, base);
    std::string digits(buf, r.ptr);
    if (conv == 'X')
      for (char& c : digits) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (precision >= 0 && static_cast<int>(digits.size()) < precision)
      digits.insert(0, static_cast<size_t>(precision) - digits.size(), '0');
    std::string prefix;
    if (alt && base == 16) prefix = conv == 'X' ? "0X" : "0x";
    if (alt && base == 8) prefix = "0o";
    return std::string(neg ? "-" : "") + prefix + digits;
  }
  if (!v.is_number()) throw RenderError(std::string("must be real number, not ") + type_name(v));
  const double d = v.as_float();
  if (std::isnan(d) || std::isinf(d)) {
    std::string s = std::isnan(d) ? "nan" : (d < 0 ? "-inf" : "inf");
    if (conv == 'F' || conv == 'E' || conv == 'G') s = str_upper(s);
    return s;
  }
  const int p = precision < 0 ? 6 : precision;
  char buf[512];
  std::to_chars_result r{};
  if (conv == 'f' || conv == 'F')
    r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed, p);
  else if (conv == 'e' || conv == 'E')
    r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific, p);
  else
    r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::general, p == 0 ? 1 : p);
  if (r.ec != std::errc()) throw RenderError("number too large to format");
  std::string s(buf, r.ptr);
  if (conv == 'E' || conv == 'G') s = str_upper(s);
  if (alt && (conv == 'f' || conv == 'F') && s.find('.') == std::string::npos) s += ".";
  return s;
}

}  // namespace

std::vector<Value> py_split(const std::string& s, const std::string* sep, int64_t maxsplit, bool from_right) {
  std::vector<Value> out;
  if (sep) {
    if (sep->empty()) throw RenderError("empty separator");
    std::vector<std::string> parts;
    if (!from_right) {
      size_t pos = 0;
      int64_t n = 0;
      for (size_t p = s.find(*sep); p != std::string::npos && (maxsplit < 0 || n < maxsplit); p = s.find(*sep, pos)) {
        parts.push_back(s.substr(pos, p - pos));
        pos = p + sep->size();
        ++n;
      }
      parts.push_back(s.substr(pos));
    } else {
      size_t end = s.size();
      int64_t n = 0;
      while (maxsplit < 0 || n < maxsplit) {
        if (end < sep->size()) break;
        const size_t p = s.rfind(*sep, end - sep->size());
        if (p == std::string::npos) break;
        parts.insert(parts.begin(), s.substr(p + sep->size(), end - p - sep->size()));
        end = p;
        ++n;
      }
      parts.insert(parts.begin(), s.substr(0, end));
    }
    for (std::string& p : parts) out.emplace_back(std::move(p));
    return out;
  }
  const std::u32string cps = utf8_decode(s);
  std::vector<std::u32string> parts;
  if (!from_right) {
    size_t i = 0;
    int64_t n = 0;
    while (i < cps.size()) {
      while (i < cps.size() && is_space(cps[i])) ++i;
      if (i >= cps.size()) break;
      if (maxsplit >= 0 && n >= maxsplit) {
        size_t e = cps.size();
        parts.push_back(cps.substr(i, e - i));
        break;
      }
      size_t j = i;
      while (j < cps.size() && !is_space(cps[j])) ++j;
      parts.push_back(cps.substr(i, j - i));
      ++n;
      i = j;
    }
  } else {
    size_t e = cps.size();
    int64_t n = 0;
    while (e > 0) {
      while (e > 0 && is_space(cps[e - 1])) --e;
      if (e == 0) break;
      if (maxsplit >= 0 && n >= maxsplit) {
        parts.insert(parts.begin(), cps.substr(0, e));
        break;
      }
      size_t b = e;
      while (b > 0 && !is_space(cps[b - 1])) --b;
      parts.insert(parts.begin(), cps.substr(b, e - b));
      ++n;
      e = b;
    }
  }
  for (const std::u32string& p : parts) out.emplace_back(utf8_encode(p));
  return out;
}

bool has_method(const Value& self, const std::string& name) {
  if (self.is_string()) return in(kStrMethods, name);
  if (self.is_dict()) return in(kDictMethods, name);
  if (self.is_list()) return in(kListMethods, name);
  return false;
}

bool is_unsafe_method(const Value& self, const std::string& name) {
  if (self.is_dict()) return in(kDictUnsafe, name);
  if (self.is_list() && !self.is_tuple()) return in(kListUnsafe, name);
  return false;
}

Value bound_method(const Value& self, const std::string& name) {
  return Value::callable(std::make_shared<BoundMethod>(self, name));
}

Value call_method(const Value& self, const std::string& name, CallArgs& args) {
  if (self.is_string()) return str_method(self.str(), name, args);
  if (self.is_dict()) return dict_method(self, name, args);
  if (self.is_list()) return list_method(self, name, args);
  throw RenderError("'" + type_name(self) + "' object has no attribute '" + name + "'");
}

Value lookup_global(const std::string& name) {
  static const auto kRange = std::make_shared<BuiltinFn>("range", fn_range);
  static const auto kNamespace = std::make_shared<BuiltinFn>("namespace", fn_namespace);
  static const auto kDict = std::make_shared<BuiltinFn>("dict", fn_dict);
  static const auto kRaise = std::make_shared<BuiltinFn>("raise_exception", fn_raise_exception);
  static const auto kStrftime = std::make_shared<BuiltinFn>("strftime_now", fn_strftime_now);
  if (name == "range") return Value::callable(kRange);
  if (name == "namespace") return Value::callable(kNamespace);
  if (name == "dict") return Value::callable(kDict);
  if (name == "raise_exception") return Value::callable(kRaise);
  if (name == "strftime_now") return Value::callable(kStrftime);
  return Value::undefined("'" + name + "' is undefined");
}

std::string percent_format(const std::string& fmt, const Value& args) {
  std::vector<Value> positional;
  const Value* mapping = nullptr;
  if (args.is_tuple())
    positional = args.items();
  else if (args.is_dict())
    mapping = &args;
  else
    positional.push_back(args);
  size_t next_arg = 0;
  auto take = [&]() -> const Value& {
    if (next_arg >= positional.size()) throw RenderError("not enough arguments for format string");
    return positional[next_arg++];
  };
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out.push_back(fmt[i]);
      continue;
    }
    if (++i >= fmt.size()) throw RenderError("incomplete format");
    const Value* arg = nullptr;
    if (fmt[i] == '(') {
      const size_t close = fmt.find(')', i);
      if (close == std::string::npos) throw RenderError("incomplete format key");
      if (!mapping) throw RenderError("format requires a mapping");
      const Value* v = mapping->find(fmt.substr(i + 1, close - i - 1));
      if (!v) throw RenderError("KeyError: " + repr(Value(fmt.substr(i + 1, close - i - 1))));
      arg = v;
      i = close + 1;
    }
    std::string flags;
    while (i < fmt.size() && std::string_view("-+ #0").find(fmt[i]) != std::string_view::npos) flags.push_back(fmt[i++]);
    int64_t width = 0;
    if (i < fmt.size() && fmt[i] == '*') {
      width = need_int(take(), "* wants int");
      ++i;
    } else {
      while (i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9') width = width * 10 + (fmt[i++] - '0');
    }
    int precision = -1;
    if (i < fmt.size() && fmt[i] == '.') {
      ++i;
      precision = 0;
      if (i < fmt.size() && fmt[i] == '*') {
        precision = static_cast<int>(need_int(take(), "* wants int"));
        ++i;
      } else {
        while (i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9') precision = precision * 10 + (fmt[i++] - '0');
      }
    }
    while (i < fmt.size() && (fmt[i] == 'h' || fmt[i] == 'l' || fmt[i] == 'L')) ++i;
    if (i >= fmt.size()) throw RenderError("incomplete format");
    const char conv = fmt[i];
    if (conv == '%') {
      out.push_back('%');
      continue;
    }
    const Value& v = arg ? *arg : take();
    std::string body;
    bool numeric = false;
    switch (conv) {
      case 's': body = to_str(v); break;
      case 'r':
      case 'a': body = repr(v); break;
      case 'c':
        if (v.is_string() && utf8_length(v.str()) == 1)
          body = v.str();
        else if (v.is_integral())
          append_utf8(body, static_cast<char32_t>(v.as_int()));
        else
          throw RenderError("%c requires int or char");
        break;
      case 'd': case 'i': case 'u': case 'x': case 'X': case 'o':
      case 'f': case 'F': case 'e': case 'E': case 'g': case 'G':
        body = format_number_spec(v, conv, flags, precision);
        numeric = true;
        break;
      default: throw RenderError(std::string("unsupported format character '") + conv + "'");
    }
    if (!numeric && precision >= 0 && (conv == 's' || conv == 'r' || conv == 'a')) {
      const std::u32string cps = utf8_decode(body);
      if (cps.size() > static_cast<size_t>(precision)) body = utf8_encode(std::u32string_view(cps).substr(0, static_cast<size_t>(precision)));
    }
    if (numeric && body[0] != '-') {
      if (flags.find('+') != std::string::npos)
        body.insert(0, "+");
      else if (flags.find(' ') != std::string::npos)
        body.insert(0, " ");
    }
    const int64_t len = static_cast<int64_t>(utf8_length(body));
    if (width > len) {
      const size_t fill = static_cast<size_t>(width - len);
      if (flags.find('-') != std::string::npos) {
        body.append(fill, ' ');
      } else if (numeric && flags.find('0') != std::string::npos) {
        size_t at = (body[0] == '-' || body[0] == '+' || body[0] == ' ') ? 1 : 0;
        if (body.compare(at, 2, "0x") == 0 || body.compare(at, 2, "0X") == 0 || body.compare(at, 2, "0o") == 0) at += 2;
        body.insert(at, fill, '0');
      } else {
        body.insert(0, fill, ' ');
      }
    }
    out += body;
  }
  if (!mapping && next_arg < positional.size()) throw RenderError("not all arguments converted during string formatting");
  return out;
}

}  // namespace gemrt::jinja
