// Reading JSON files (config.json, model.safetensors.index.json) with errors that name the file.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace gemrt {

// Parses the whole file; throws gemrt::Error naming the path on a missing file or bad JSON.
nlohmann::json read_json_file(const std::string& path);

}  // namespace gemrt
