// Helpers shared by the gemrt subcommands.
#pragma once

#include <string>
#include <vector>

#include "CLI/CLI.hpp"

namespace gemrt::cli {

// "2,17,99" -> {2, 17, 99}; throws gemrt::Error on anything else.
std::vector<int32_t> parse_id_list(const std::string& text);

// The int32 tensor `input_ids` [T] of a safetensors file (other tensors are ignored).
std::vector<int32_t> read_input_ids(const std::string& path);

// Registration of each subcommand on the top-level app.
void add_logits_command(CLI::App& app);
void add_generate_command(CLI::App& app);

}  // namespace gemrt::cli
