// gemrt::Error — the one exception type for bad input and unsupported requests.
//
// Contract: every message names the thing that is wrong (file, tensor, key) and what was
// expected. Errors on user input are thrown, never asserted.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace gemrt {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Concatenates any streamable values into one string: str("tensor ", name, " has ", n, " rows").
template <typename... Args>
std::string str(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}

// Throws gemrt::Error built from the concatenated arguments.
template <typename... Args>
[[noreturn]] void fail(Args&&... args) {
  throw Error(str(std::forward<Args>(args)...));
}

}  // namespace gemrt
