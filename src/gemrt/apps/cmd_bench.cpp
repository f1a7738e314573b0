// gemrt bench MODEL [-p 64,512] [-n 128] [-d 0,4096] [-r 3] [--threads N] [--numerics M] [--json]
// gemrt bench CONFIG.json --synthetic [--weight-type BF16|Q4_K_M|...] [--seed S] ...  (random weights
//   of that shape, made in memory: a 27B shape needs no 54 GB file)
//
// Throughput in the spirit of llama-bench: for each test, untimed warm-up runs, then `r` timed
// repetitions, reported as mean ± standard deviation of tokens per second. A prefill is warmed up
// twice: the CUDA backend launches a new graph's kernels one by one on its first run and captures
// them into a CUDA graph on its second (backend/cuda/executable.cu), so with one warm-up the
// first timed prefill paid for the capture (1B pp4096 on an H100: 111007 ± 12488 tok/s, a spread
// of 11 % where llama.cpp's was 1 %; bench/RESULTS.md, session 14). A decode test's warm-up of 8
// steps runs both already.
//   pp N:        prefill of N tokens into an empty KV cache (only the last row's logits).
//   tg N @ d D:  N single-token decode steps after an untimed prefill of D tokens.
// Token ids are drawn at random (fixed seed) from the vocabulary, as llama-bench does.
// The summary ends with the process's peak resident memory (VmHWM of /proc/self/status; not
// getrusage, whose ru_maxrss survives exec and would report a large parent's peak).
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <iostream>
#include <random>

#include "gemrt/apps/cli_common.h"
#include "gemrt/backend/cpu/cpu_backend.h"
#include "gemrt/core/error.h"
#include "gemrt/model/gemma/model.h"
#include "gemrt/quant/vec_dot.h"
#include "gemrt/runtime/session.h"
#include "nlohmann/json.hpp"

namespace gemrt::cli {
namespace {

struct BenchArgs {
  std::string model;
  std::vector<int> prompt = {64, 512};
  std::vector<int> gen = {128};
  std::vector<int> depth = {0};
  int reps = 3;
  bool json = false;
  bool synthetic = false;          // `model` is a config.json; the weights are random, made in memory
  std::string weight_type = "BF16";  // synthetic weights' type (model/gemma/synthetic.h)
  uint64_t seed = 0;
  ComputeFlags compute;
};

struct TestResult {
  std::string name;  // "pp512", "tg128", "tg128 @ d4096"
  int n_prompt = 0, n_gen = 0, depth = 0;
  std::vector<double> samples_ts;
  double mean() const {
    double s = 0.0;
    for (double v : samples_ts) s += v;
    return s / static_cast<double>(samples_ts.size());
  }
  double sd() const {
    if (samples_ts.size() < 2) return 0.0;
    const double m = mean();
    double s = 0.0;
    for (double v : samples_ts) s += (v - m) * (v - m);
    return std::sqrt(s / static_cast<double>(samples_ts.size() - 1));
  }
};

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::vector<int32_t> random_ids(int n, int64_t vocab, std::mt19937& rng) {
  std::uniform_int_distribution<int32_t> u(0, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& id : ids) id = u(rng);
  return ids;
}

// Tokens per second of one prefill of n tokens into a fresh sequence.
double time_prefill(Session& s, int n, std::mt19937& rng) {
  const std::vector<int32_t> ids = random_ids(n, s.vocab_size(), rng);
  s.reset();
  const auto t0 = Clock::now();
  s.prefill(ids, LogitsRows::Last);
  return n / seconds_since(t0);
}

// Tokens per second of n decode steps after an untimed prefill of `depth` tokens.
double time_decode(Session& s, int n, int depth, std::mt19937& rng) {
  s.reset();
  if (depth > 0) s.prefill(random_ids(depth, s.vocab_size(), rng), LogitsRows::None);
  const std::vector<int32_t> ids = random_ids(n, s.vocab_size(), rng);
  const auto t0 = Clock::now();
  for (int32_t id : ids) s.decode(id);
  return n / seconds_since(t0);
}

// Peak resident set of this process image, in bytes: VmHWM from /proc/self/status (Linux),
// else getrusage's ru_maxrss.
int64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // "VmHWM:   1234 kB"
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<int64_t>(ru.ru_maxrss) * 1024;
}

void run_bench(const BenchArgs& a) {
  std::unique_ptr<GemmaModel> model;
  if (a.synthetic) {
    model = GemmaModel::synthetic(a.model, parse_synthetic_weight_type(a.weight_type), a.seed);
    for (const std::string& f : dynamic_cast<const SyntheticStore&>(model->store()).fallbacks())
      std::cerr << "note: " << f << "\n";
  } else {
    preload_with_progress(a.model);
    model = GemmaModel::load(a.model);
  }
  const std::unique_ptr<Backend> backend = a.compute.make_backend();
  const auto* cpu_backend = dynamic_cast<const cpu::CpuBackend*>(backend.get());
  const int threads = cpu_backend ? cpu_backend->threads() : 0;
  int budget = 1;
  for (int p : a.prompt) budget = std::max(budget, p);
  for (int g : a.gen)
    for (int d : a.depth) budget = std::max(budget, g + d);
  SessionOptions opts;
  opts.max_tokens = budget;
  opts.kv_dtype = a.compute.kv_dtype();
  Session session(*model, *backend, opts);
  std::mt19937 rng(1234);

  std::vector<TestResult> results;
  for (int p : a.prompt) {
    if (p <= 0) continue;
    TestResult r{"pp" + std::to_string(p), p, 0, 0, {}};
    for (int w = 0; w < 2; ++w) time_prefill(session, p, rng);  // warm-up: first run, then graph capture
    for (int i = 0; i < a.reps; ++i) r.samples_ts.push_back(time_prefill(session, p, rng));
    results.push_back(r);
  }
  for (int g : a.gen) {
    if (g <= 0) continue;
    for (int d : a.depth) {
      TestResult r{"tg" + std::to_string(g) + (d > 0 ? " @ d" + std::to_string(d) : ""), 0, g, d, {}};
      time_decode(session, std::min(g, 8), d, rng);  // warm-up
      for (int i = 0; i < a.reps; ++i) r.samples_ts.push_back(time_decode(session, g, d, rng));
      results.push_back(r);
    }
  }
  const int64_t peak_bytes = peak_rss_bytes();
  const double peak_mib = static_cast<double>(peak_bytes) / (1 << 20);

  int64_t weight_bytes = 0;
  for (const std::string& name : model->store().names()) weight_bytes += model->store().find(name)->nbytes();
  const std::string numerics = a.compute.numerics_mode() == Numerics::Fast ? "fast" : "precise";
  const std::string kv(dtype_name(a.compute.kv_dtype()));
  const std::string isa = cpu_backend ? std::string(quant::dot_isa_name(quant::dot_isa())) : backend->name();
  if (a.json) {
    nlohmann::json out;
    out["model"] = a.model;
    if (a.synthetic) out["synthetic_weights"] = a.weight_type;
    out["model_bytes"] = weight_bytes;
    out["threads"] = threads;
    out["backend"] = backend->name();
    out["numerics"] = numerics;
    out["kv_type"] = kv;
    out["isa"] = isa;
    out["peak_rss_bytes"] = peak_bytes;
    for (const auto& r : results)
      out["tests"].push_back({{"test", r.name}, {"n_prompt", r.n_prompt}, {"n_gen", r.n_gen}, {"depth", r.depth},
                              {"avg_ts", r.mean()}, {"stddev_ts", r.sd()}, {"samples_ts", r.samples_ts}});
    std::cout << out.dump(2) << "\n";
    return;
  }
  std::printf("| %-40s | %9s | %7s | %-22s | %-14s | %16s |\n", "model", "size", "threads", "numerics", "test", "t/s");
  std::printf("|%s|%s|%s|%s|%s|%s|\n", std::string(42, '-').c_str(), std::string(11, '-').c_str(),
              std::string(9, '-').c_str(), std::string(24, '-').c_str(), std::string(16, '-').c_str(),
              std::string(18, '-').c_str());
  const std::string file = std::filesystem::path(a.model).filename().string();
  const std::string name = a.synthetic ? "synthetic " + a.weight_type + " (" + file + ")" : file;
  for (const auto& r : results) {
    char ts[64];
    std::snprintf(ts, sizeof(ts), "%.2f ± %.2f", r.mean(), r.sd());
    std::printf("| %-40s | %5.0f MiB | %7d | %-22s | %-14s | %16s |\n", name.c_str(),
                static_cast<double>(weight_bytes) / (1 << 20), threads,
                (numerics + ", kv " + kv + ", " + isa).c_str(), r.name.c_str(), ts);
  }
  std::printf("peak RSS %.1f MiB (weights %.1f MiB, KV cache %.1f MiB)\n", peak_mib,
              static_cast<double>(weight_bytes) / (1 << 20), static_cast<double>(session.kv_bytes()) / (1 << 20));
}

std::vector<int> parse_int_list(const std::string& s, const char* flag) {
  std::vector<int> out;
  for (int32_t v : parse_id_list(s)) {
    if (v < 0) fail(flag, " takes non-negative numbers, got ", v);
    out.push_back(v);
  }
  return out;
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  auto lists = std::make_shared<std::array<std::string, 3>>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure prompt processing (pp) and generation (tg) speed");
  cmd->add_option("model", args->model, "GGUF file or Hugging Face checkpoint folder (with --synthetic: a config.json)")
      ->required();
  cmd->add_flag("--synthetic", args->synthetic,
                "Random weights of the shape MODEL (an HF config.json) describes, made in memory: no weight file");
  cmd->add_option("--weight-type", args->weight_type,
                  "With --synthetic: F32, F16, BF16, a GGML block format (Q8_0, Q4_K, ...) or Q4_K_M (default BF16)");
  cmd->add_option("--seed", args->seed, "With --synthetic: the random weights' seed (default 0)");
  cmd->add_option("-p,--n-prompt", (*lists)[0], "Prompt sizes, comma-separated (default 64,512; 0 = none)");
  cmd->add_option("-n,--n-gen", (*lists)[1], "Generation lengths, comma-separated (default 128; 0 = none)");
  cmd->add_option("-d,--depth", (*lists)[2], "Context depths for tg, comma-separated (default 0)");
  cmd->add_option("-r,--repetitions", args->reps, "Timed repetitions per test (default 3)")->check(CLI::PositiveNumber);
  cmd->add_flag("--json", args->json, "JSON output");
  args->compute.add_to(cmd, Numerics::Fast);
  cmd->callback([args, lists] {
    if (!(*lists)[0].empty()) args->prompt = parse_int_list((*lists)[0], "-p");
    if (!(*lists)[1].empty()) args->gen = parse_int_list((*lists)[1], "-n");
    if (!(*lists)[2].empty()) args->depth = parse_int_list((*lists)[2], "-d");
    run_bench(*args);
  });
}

}  // namespace gemrt::cli
