#include "gemrt/io/json_file.h"

#include <fstream>
#include <sstream>

#include "gemrt/core/error.h"

namespace gemrt {

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open (does the file exist?)");
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    fail(path, ": invalid JSON: ", e.what());
  }
}

}  // namespace gemrt
