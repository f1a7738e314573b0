// UTF-8 and the slice of Python's str semantics that Jinja templates reach: code points,
// str.isspace(), case mapping, str.splitlines() boundaries, str.isprintable() (for repr()).
//
// Strings stay UTF-8 everywhere; bytes that are not valid UTF-8 decode to U+DC80..U+DCFF
// (Python's "surrogateescape") and encode back to the same byte, so nothing is ever lost.
// Case mapping covers Latin (ASCII, Latin-1, Extended-A, Extended Additional), Greek (with the
// final-sigma rule), Cyrillic, Armenian and full-width letters; other scripts are left unchanged.
#pragma once

#include <string>
#include <string_view>

namespace gemrt::jinja {

std::u32string utf8_decode(std::string_view s);
std::string utf8_encode(std::u32string_view s);
void append_utf8(std::string& out, char32_t c);
// Number of code points (Python len()).
size_t utf8_length(std::string_view s);

bool is_space(char32_t c);      // str.isspace()
bool is_line_break(char32_t c); // a str.splitlines() boundary
bool is_alpha(char32_t c);      // str.isalpha(), approximately (letters of the common scripts)
bool is_digit(char32_t c);      // str.isdigit(), approximately
bool is_printable(char32_t c);  // str.isprintable(), approximately: what repr() leaves unescaped
bool is_cased(char32_t c);

char32_t to_upper(char32_t c);
char32_t to_lower(char32_t c);

// str.upper() / str.lower() / str.capitalize() / str.title().
std::string str_upper(std::string_view s);
std::string str_lower(std::string_view s);
std::string str_capitalize(std::string_view s);
std::string str_title(std::string_view s);

// str.strip(chars) family; `chars` null strips whitespace.
enum class StripSide { Both, Left, Right };
std::string str_strip(std::string_view s, const std::string* chars, StripSide side = StripSide::Both);

}  // namespace gemrt::jinja
