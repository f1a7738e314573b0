#include "gemrt/text/jinja_lexer.h"

#include <cstdio>

#include "gemrt/text/jinja_unicode.h"

namespace gemrt::jinja {

namespace {

// jinja2 splits the source on \r\n, \r and \n, rejoins with \n, and (keep_trailing_newline off)
// drops one final newline.
std::string normalize_newlines(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else {
      out.push_back(s[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

bool is_digit_ch(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
bool is_name_char(char c) { return is_name_start(c) || is_digit_ch(c); }
int hex_value(char32_t c) {
  if (c >= '0' && c <= '9') return static_cast<int>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<int>(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return static_cast<int>(c - 'A' + 10);
  return -1;
}

class Lexer {
 public:
  explicit Lexer(std::string src) : src_(std::move(src)), n_(src_.size()) {}

  std::vector<Token> run() {
    size_t pos = 0;
    bool line_starting = true;
    while (pos < n_) {
      size_t found = std::string::npos;
      for (size_t i = src_.find('{', pos); i != std::string::npos; i = src_.find('{', i + 1)) {
        if (i + 1 < n_ && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) {
          found = i;
          break;
        }
      }
      if (found == std::string::npos) {
        emit_data(src_.substr(pos), pos);
        pos = n_;
        break;
      }
      const char kind = src_[found + 1];
      size_t after = found + 2;
      char sign = 0;
      if (after < n_ && (src_[after] == '-' || src_[after] == '+')) sign = src_[after++];

      // {% raw %}: `{%(-|+|)\s*raw\s*(-%}\s*|%})`
      bool raw = false;
      size_t raw_body = 0;
      if (kind == '%') {
        size_t j = skip_ws(after);
        if (src_.compare(j, 3, "raw") == 0) {
          const size_t k = skip_ws(j + 3);
          if (src_.compare(k, 3, "-%}") == 0) {
            raw = true;
            raw_body = skip_ws(k + 3);
          } else if (src_.compare(k, 2, "%}") == 0) {
            raw = true;
            raw_body = k + 2;
          }
        }
      }

      emit_data(strip_text(src_.substr(pos, found - pos), sign, kind != '{', line_starting), pos);

      if (raw) {
        pos = lex_raw(raw_body, src_[raw_body - 1] == '\n', found);
        line_starting = src_[pos - 1] == '\n';
      } else if (kind == '#') {
        pos = lex_comment(after, found);
        line_starting = src_[pos - 1] == '\n';
      } else {
        pos = lex_tag(kind, after, found);
        line_starting = src_[pos - 1] == '\n';
      }
    }
    out_.push_back(Token{Token::Type::Eof, "", line_at(n_)});
    return std::move(out_);
  }

 private:
  int line_at(size_t pos) {
    if (pos < line_pos_) {
      line_pos_ = 0;
      line_ = 1;
    }
    for (; line_pos_ < pos && line_pos_ < n_; ++line_pos_)
      if (src_[line_pos_] == '\n') ++line_;
    return line_;
  }

  [[noreturn]] void fail(size_t pos, const std::string& what) { throw SyntaxError(line_at(pos), what); }

  // Byte length of the whitespace character at pos (Python's \s), or 0.
  size_t ws_len(size_t pos) const {
    if (pos >= n_) return 0;
    const auto c = static_cast<unsigned char>(src_[pos]);
    if (c < 0x80) return ((c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20)) ? 1 : 0;
    size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    if (pos + len > n_) return 0;
    const std::u32string cp = utf8_decode(std::string_view(src_).substr(pos, len));
    return (cp.size() == 1 && is_space(cp[0])) ? len : 0;
  }

  size_t skip_ws(size_t pos) const {
    for (size_t l = ws_len(pos); l; l = ws_len(pos)) pos += l;
    return pos;
  }

  // The data before a tag, after the tag's whitespace control (`-`, or lstrip_blocks).
  static std::string strip_text(std::string text, char sign, bool lstrip_tag, bool line_starting) {
    if (sign == '-') return str_strip(text, nullptr, StripSide::Right);
    if (sign != '+' && lstrip_tag) {
      const size_t nl = text.rfind('\n');
      const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
      if (l_pos > 0 || line_starting) {
        bool blank = true;
        for (size_t i = l_pos; i < text.size(); ++i)
          if (text[i] != ' ' && text[i] != '\t') blank = false;
        if (blank) text.resize(l_pos);
      }
    }
    return text;
  }

  void emit_data(std::string text, size_t pos) {
    if (!text.empty()) out_.push_back(Token{Token::Type::Data, std::move(text), line_at(pos)});
  }

  size_t lex_comment(size_t pos, size_t start) {
    for (size_t j = pos; j < n_; ++j) {
      if (src_[j] == '+' && src_.compare(j + 1, 2, "#}") == 0) return j + 3;
      if (src_[j] == '-' && src_.compare(j + 1, 2, "#}") == 0) return skip_ws(j + 3);
      if (src_.compare(j, 2, "#}") == 0) return (j + 2 < n_ && src_[j + 2] == '\n') ? j + 3 : j + 2;
    }
    fail(start, "Missing end of comment tag");
  }

  // Body of {% raw %} up to `{%(-|+|)\s*endraw\s*(+%}|-%}\s*|%}\n?)`.
  size_t lex_raw(size_t pos, bool line_starting, size_t start) {
    for (size_t i = src_.find("{%", pos); i != std::string::npos; i = src_.find("{%", i + 1)) {
      size_t j = i + 2;
      char sign = 0;
      if (j < n_ && (src_[j] == '-' || src_[j] == '+')) sign = src_[j++];
      j = skip_ws(j);
      if (src_.compare(j, 6, "endraw") != 0) continue;
      j = skip_ws(j + 6);
      size_t end;
      if (src_.compare(j, 3, "+%}") == 0)
        end = j + 3;
      else if (src_.compare(j, 3, "-%}") == 0)
        end = skip_ws(j + 3);
      else if (src_.compare(j, 2, "%}") == 0)
        end = (j + 2 < n_ && src_[j + 2] == '\n') ? j + 3 : j + 2;
      else
        continue;
      emit_data(strip_text(src_.substr(pos, i - pos), sign, true, line_starting), pos);
      return end;
    }
    fail(start, "Missing end of raw directive");
  }

  size_t scan_digits(size_t pos) const {
    while (pos < n_ && (is_digit_ch(src_[pos]) || (src_[pos] == '_' && pos + 1 < n_ && is_digit_ch(src_[pos + 1]))))
      ++pos;
    return pos;
  }

  size_t lex_tag(char kind, size_t pos, size_t start) {
    const bool block = kind == '%';
    out_.push_back(Token{block ? Token::Type::BlockBegin : Token::Type::VarBegin, "", line_at(start)});
    std::string stack;  // open brackets
    for (;;) {
      if (stack.empty()) {
        size_t end = 0;
        if (block) {
          if (src_.compare(pos, 3, "+%}") == 0)
            end = pos + 3;
          else if (src_.compare(pos, 3, "-%}") == 0)
            end = skip_ws(pos + 3);
          else if (src_.compare(pos, 2, "%}") == 0)
            end = (pos + 2 < n_ && src_[pos + 2] == '\n') ? pos + 3 : pos + 2;
        } else {
          if (src_.compare(pos, 3, "-}}") == 0)
            end = skip_ws(pos + 3);
          else if (src_.compare(pos, 2, "}}") == 0)
            end = pos + 2;
        }
        if (end) {
          out_.push_back(Token{block ? Token::Type::BlockEnd : Token::Type::VarEnd, "", line_at(pos)});
          return end;
        }
      }
      if (pos >= n_)
        fail(start, std::string("unexpected end of template, expected '") +
                        (block ? "end of statement block" : "end of print statement") + "'");
      if (const size_t w = ws_len(pos)) {
        pos += w;
        continue;
      }
      const char c = src_[pos];
      const int line = line_at(pos);
      if (is_digit_ch(c)) {
        pos = lex_number(pos, line);
      } else if (is_name_start(c)) {
        size_t j = pos;
        while (j < n_ && is_name_char(src_[j])) ++j;
        out_.push_back(Token{Token::Type::Name, src_.substr(pos, j - pos), line});
        pos = j;
      } else if (c == '\'' || c == '"') {
        size_t j = pos + 1;
        while (j < n_ && src_[j] != c) j += (src_[j] == '\\') ? 2 : 1;
        if (j >= n_) fail(pos, std::string("unexpected char '") + c + "' at " + std::to_string(pos));
        out_.push_back(Token{Token::Type::String, decode_string(src_.substr(pos + 1, j - pos - 1), pos), line});
        pos = j + 1;
      } else {
        static const char* const kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
        std::string op;
        for (const char* t : kTwo)
          if (src_.compare(pos, 2, t) == 0) op = t;
        if (op.empty()) {
          if (std::string_view("+-/*%~[](){}><=.:|,;").find(c) == std::string_view::npos)
            fail(pos, std::string("unexpected char '") + c + "' at " + std::to_string(pos));
          op = std::string(1, c);
        }
        if (op == "(" || op == "[" || op == "{") {
          stack.push_back(c);
        } else if (op == ")" || op == "]" || op == "}") {
          const char want = c == ')' ? '(' : c == ']' ? '[' : '{';
          if (stack.empty()) fail(pos, "unexpected '" + op + "'");
          if (stack.back() != want) {
            const char close = stack.back() == '(' ? ')' : stack.back() == '[' ? ']' : '}';
            fail(pos, "unexpected '" + op + "', expected '" + std::string(1, close) + "'");
          }
          stack.pop_back();
        }
        out_.push_back(Token{Token::Type::Op, op, line});
        pos += op.size();
      }
    }
  }

  size_t lex_number(size_t pos, int line) {
    auto clean = [](std::string s) {
      std::string out;
      for (char ch : s)
        if (ch != '_') out.push_back(ch);
      return out;
    };
    const size_t int_end = scan_digits(pos);
    const bool after_dot = pos > 0 && src_[pos - 1] == '.';
    if (!after_dot) {
      size_t k = int_end;
      bool is_float = false;
      if (k + 1 < n_ && src_[k] == '.' && is_digit_ch(src_[k + 1])) {
        k = scan_digits(k + 1);
        is_float = true;
      }
      if (k < n_ && (src_[k] == 'e' || src_[k] == 'E')) {
        size_t m = k + 1;
        if (m < n_ && (src_[m] == '+' || src_[m] == '-')) ++m;
        if (m < n_ && is_digit_ch(src_[m])) {
          k = scan_digits(m);
          is_float = true;
        }
      }
      if (is_float) {
        out_.push_back(Token{Token::Type::Float, clean(src_.substr(pos, k - pos)), line});
        return k;
      }
    }
    if (src_[pos] == '0' && pos + 1 < n_) {
      const char p = static_cast<char>(src_[pos + 1] | 0x20);
      if (p == 'x' || p == 'o' || p == 'b') {
        size_t j = pos + 2;
        while (j < n_ && (hex_value(static_cast<unsigned char>(src_[j])) >= 0 || src_[j] == '_')) ++j;
        out_.push_back(Token{Token::Type::Integer, clean(src_.substr(pos, j - pos)), line});
        return j;
      }
    }
    out_.push_back(Token{Token::Type::Integer, clean(src_.substr(pos, int_end - pos)), line});
    return int_end;
  }

  // A string literal's body: jinja2 decodes it with Python's "unicode-escape" codec (after
  // backslash-escaping non-ASCII characters, which therefore survive unchanged).
  std::string decode_string(const std::string& body, size_t pos) {
    const std::u32string cps = utf8_decode(body);
    std::string out;
    auto hex_escape = [&](size_t& i, int digits) {
      char32_t v = 0;
      for (int k = 0; k < digits; ++k) {
        const size_t at = i + 1 + static_cast<size_t>(k);
        const int h = at < cps.size() ? hex_value(cps[at]) : -1;
        if (h < 0) fail(pos, "invalid escape in string literal: truncated \\x, \\u or \\U escape");
        v = v * 16 + static_cast<char32_t>(h);
      }
      i += static_cast<size_t>(digits);
      if (v > 0x10FFFF) fail(pos, "invalid escape in string literal: illegal Unicode character");
      append_utf8(out, v);
    };
    for (size_t i = 0; i < cps.size(); ++i) {
      const char32_t c = cps[i];
      if (c != '\\' || i + 1 >= cps.size()) {
        append_utf8(out, c);
        continue;
      }
      const char32_t d = cps[++i];
      switch (d) {
        case '\n': break;
        case '\\': out.push_back('\\'); break;
        case '\'': out.push_back('\''); break;
        case '"': out.push_back('"'); break;
        case 'a': out.push_back('\a'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'v': out.push_back('\v'); break;
        case 'x': hex_escape(i, 2); break;
        case 'u': hex_escape(i, 4); break;
        case 'U': hex_escape(i, 8); break;
        case 'N': fail(pos, "\\N{...} escapes are not supported in string literals");
        default:
          if (d >= '0' && d <= '7') {
            char32_t v = d - '0';
            for (int k = 0; k < 2 && i + 1 < cps.size() && cps[i + 1] >= '0' && cps[i + 1] <= '7'; ++k)
              v = v * 8 + (cps[++i] - '0');
            append_utf8(out, v);
          } else if (d >= 0x80) {
            // "\é" was "\\xe9" after backslashreplace: a backslash, then the escape's text.
            char buf[16];
            if (d < 0x100)
              std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(d));
            else if (d < 0x10000)
              std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(d));
            else
              std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(d));
            out += buf;
          } else {
            out.push_back('\\');
            append_utf8(out, d);
          }
      }
    }
    return out;
  }

  std::string src_;
  size_t n_;
  std::vector<Token> out_;
  size_t line_pos_ = 0;
  int line_ = 1;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) { return Lexer(normalize_newlines(source)).run(); }

std::string describe(const Token& t) {
  switch (t.type) {
    case Token::Type::Data: return "template data";
    case Token::Type::VarBegin: return "begin of print statement";
    case Token::Type::VarEnd: return "end of print statement";
    case Token::Type::BlockBegin: return "begin of statement block";
    case Token::Type::BlockEnd: return "end of statement block";
    case Token::Type::Name: return "'" + t.value + "'";
    case Token::Type::String: return "string";
    case Token::Type::Integer: return "integer";
    case Token::Type::Float: return "float";
    case Token::Type::Op: return "'" + t.value + "'";
    case Token::Type::Eof: return "end of template";
  }
  return "token";
}

}  // namespace gemrt::jinja
