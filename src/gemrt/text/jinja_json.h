// JSON <-> template values: building the render context from nlohmann::json (object keys keep
// the json type's order: sorted for nlohmann::json, insertion order for ordered_json), and the
// `tojson` filter, which transformers defines as Python's json.dumps(ensure_ascii=False, ...).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "gemrt/text/jinja_value.h"

namespace gemrt::jinja {

Value from_json(const nlohmann::json& j);
Value from_json(const nlohmann::ordered_json& j);

struct DumpOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;  // json.dumps indent, already turned into its string
  std::optional<std::string> item_separator;
  std::optional<std::string> key_separator;
  bool sort_keys = false;
};

// Python json.dumps(v, ...); throws RenderError for values JSON cannot hold (Undefined, ...).
std::string dump_json(const Value& v, const DumpOptions& opt);

}  // namespace gemrt::jinja
