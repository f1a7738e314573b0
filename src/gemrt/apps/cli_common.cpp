#include "gemrt/apps/cli_common.h"

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <cstring>

#include "gemrt/backend/cpu/cpu_backend.h"
#include "gemrt/backend/cuda/cuda_backend.h"
#include "gemrt/core/error.h"
#include "gemrt/io/safetensors.h"

namespace gemrt::cli {

void add_mmproj_option(CLI::App* cmd, std::string& path) {
  cmd->add_option("--mmproj", path,
                  "llama.cpp mmproj GGUF with the vision / audio towers of a GGUF text model (projectors gemma3, "
                  "gemma4v, gemma4a, gemma4uv, gemma4ua)");
}

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

void SamplingFlags::add_to(CLI::App* cmd) {
  cmd->add_option("--temp,--temperature", temperature, "Sampling temperature (0 = greedy)");
  cmd->add_option("--top-k", top_k, "Keep the k most likely tokens (0 = off)");
  cmd->add_option("--top-p", top_p, "Nucleus sampling: keep the smallest set reaching this probability");
  cmd->add_option("--min-p", min_p, "Keep tokens with p >= min_p * p_max");
  cmd->add_option("--repeat-penalty", repeat_penalty, "Repetition penalty (1 = off)");
  cmd->add_option("--presence-penalty", presence_penalty, "Presence penalty (0 = off)");
  cmd->add_option("--frequency-penalty", frequency_penalty, "Frequency penalty (0 = off)");
  cmd->add_option("--repeat-last-n", repeat_last_n, "Tokens the penalties look back over (0 = all)");
  cmd->add_option("--seed", seed, "Random seed (default: random)");
  cmd->add_flag("--greedy", greedy, "Always pick the most likely token");
}

SamplingParams SamplingFlags::apply(SamplingParams p) const {
  if (temperature) p.temperature = *temperature;
  if (top_k) p.top_k = *top_k;
  if (top_p) p.top_p = *top_p;
  if (min_p) p.min_p = *min_p;
  if (repeat_penalty) p.repetition_penalty = *repeat_penalty;
  if (presence_penalty) p.presence_penalty = *presence_penalty;
  if (frequency_penalty) p.frequency_penalty = *frequency_penalty;
  if (repeat_last_n) p.penalty_last_n = *repeat_last_n;
  p.seed = seed ? *seed : std::random_device{}();
  if (greedy) p.temperature = 0.0f;
  return p;
}

void preload_with_progress(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size < (64u << 20)) return;
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  std::ifstream in(path, std::ios::binary);
  std::vector<char> buf(16u << 20);
  uint64_t done = 0;
  int last = -1;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    done += static_cast<uint64_t>(in.gcount());
    const int pct = static_cast<int>(done * 100 / size);
    if (tty && pct != last) {
      std::cerr << "\rloading " << std::filesystem::path(path).filename().string() << ": " << pct << "%" << std::flush;
      last = pct;
    }
  }
  if (tty) std::cerr << "\r\033[K" << std::flush;
}

void ComputeFlags::add_to(CLI::App* cmd, Numerics default_numerics) {
  numerics = default_numerics == Numerics::Fast ? "fast" : "precise";
  cmd->add_option("--device", device, "Where to compute: cpu, or cuda (the first GPU)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--threads", threads, "CPU threads (0 = all)");
  cmd->add_option("--numerics", numerics,
                  "fast: on the CPU, activations rounded to each weight format's partner type before integer dot "
                  "products, as llama.cpp computes; on CUDA, bf16 tensor-core products with float32 sums (bf16 "
                  "mode); precise: float32 activations and arithmetic (default: " + numerics + ")")
      ->check(CLI::IsMember({"fast", "precise"}));
  cmd->add_option("--kv-type", kv_type, "KV cache storage: f32, f16 or bf16 (default: f16 with fast numerics, f32 with precise)")
      ->check(CLI::IsMember({"f32", "f16", "bf16"}));
}

Numerics ComputeFlags::numerics_mode() const { return numerics == "fast" ? Numerics::Fast : Numerics::Precise; }

std::unique_ptr<Backend> ComputeFlags::make_backend() const {
  if (device == "cuda") return cuda::make_backend(0, numerics_mode());
  return std::make_unique<cpu::CpuBackend>(threads, numerics_mode());
}

DType ComputeFlags::kv_dtype() const {
  if (kv_type == "f32") return DType::F32;
  if (kv_type == "f16") return DType::F16;
  if (kv_type == "bf16") return DType::BF16;
  return numerics_mode() == Numerics::Fast ? DType::F16 : DType::F32;
}

}  // namespace gemrt::cli
