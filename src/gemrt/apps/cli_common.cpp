#include "gemrt/apps/cli_common.h"

#include <charconv>
#include <cstring>

#include "gemrt/core/error.h"
#include "gemrt/io/safetensors.h"

namespace gemrt::cli {

std::vector<int32_t> parse_id_list(const std::string& text) {
  std::vector<int32_t> ids;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, comma - pos);
    int32_t v = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size())
      fail("--ids: '", item, "' is not an integer token id (expected a comma-separated list such as 2,17,99)");
    ids.push_back(v);
    pos = comma + 1;
  }
  return ids;
}

std::vector<int32_t> read_input_ids(const std::string& path) {
  auto file = SafetensorsFile::open(path);
  const TensorView* t = file->find("input_ids");
  if (!t) fail(path, ": missing tensor 'input_ids'");
  if (t->dtype != DType::I32 || t->shape.rank() != 1)
    fail(path, ": 'input_ids' must be int32 [T], got ", dtype_name(t->dtype), " ", t->shape.to_string());
  std::vector<int32_t> ids(static_cast<size_t>(t->shape[0]));
  std::memcpy(ids.data(), t->data, ids.size() * sizeof(int32_t));
  return ids;
}

}  // namespace gemrt::cli
