// Helpers shared by the gemrt subcommands.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <optional>

#include "CLI/CLI.hpp"
#include "gemrt/backend/backend.h"
#include "gemrt/core/dtype.h"
#include "gemrt/sample/sampler.h"

namespace gemrt::cli {

// "2,17,99" -> {2, 17, 99}; throws gemrt::Error on anything else.
std::vector<int32_t> parse_id_list(const std::string& text);

// The int32 tensor `input_ids` [T] of a safetensors file (other tensors are ignored).
std::vector<int32_t> read_input_ids(const std::string& path);

// --mmproj PATH (run, logits, inspect): llama.cpp's companion GGUF with a GGUF text model's towers.
void add_mmproj_option(CLI::App* cmd, std::string& path);

// Sampling flags given on the command line; unset ones keep the model's defaults.
struct SamplingFlags {
  std::optional<float> temperature, top_p, min_p, repeat_penalty, presence_penalty, frequency_penalty;
  std::optional<int> top_k, repeat_last_n;
  std::optional<uint64_t> seed;
  bool greedy = false;
  void add_to(CLI::App* cmd);
  SamplingParams apply(SamplingParams defaults) const;
};

// Where and how a model computes: --device cpu|cuda, --threads (CPU), --numerics fast|precise,
// --kv-type f32|f16|bf16 (default f16 under fast numerics, f32 under precise). The text commands
// (run, chat) and bench default to fast numerics; the parity tools (logits, generate) to precise,
// on either device.
struct ComputeFlags {
  std::string device = "cpu";
  int threads = 0;
  std::string numerics;
  std::string kv_type;
  void add_to(CLI::App* cmd, Numerics default_numerics);
  Numerics numerics_mode() const;
  DType kv_dtype() const;
  // The backend these flags describe (throws gemrt::Error naming the reason if it is unavailable).
  std::unique_ptr<Backend> make_backend() const;
};

// Reads a large model file once with a progress line on stderr (when stderr is a terminal), so
// the page cache is warm before the weights are mapped. Small files are left alone.
void preload_with_progress(const std::string& path);

// Registration of each subcommand on the top-level app.
void add_logits_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_chat_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_template_command(CLI::App& app);
void add_bench_command(CLI::App& app);

}  // namespace gemrt::cli
