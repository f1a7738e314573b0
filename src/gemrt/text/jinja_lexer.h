// Jinja lexer with jinja2's whitespace rules as transformers configures them: trim_blocks and
// lstrip_blocks on, keep_trailing_newline off, `-` / `+` whitespace control on every tag,
// `{% raw %}` blocks, and newlines normalised to "\n" before anything else.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace gemrt::jinja {

// A syntax error at a template line.
class SyntaxError : public std::runtime_error {
 public:
  SyntaxError(int line, const std::string& what) : std::runtime_error(what), line_(line) {}
  int line() const { return line_; }

 private:
  int line_;
};

struct Token {
  enum class Type { Data, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Integer, Float, Op, Eof };
  Type type;
  std::string value;  // Data text, name, decoded string literal, number text, operator
  int line = 1;
};

std::vector<Token> tokenize(std::string_view source);

// How a token reads in an error message ("'endfor'", "end of print statement", ...).
std::string describe(const Token& t);

}  // namespace gemrt::jinja
