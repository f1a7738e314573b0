// gemrt generate --model PATH --ids 2,17,99 -n N
// Greedy generation; prints each new token id as soon as it is chosen, space-separated.
#include <iostream>

#include "gemrt/apps/cli_common.h"
#include "gemrt/backend/cpu/cpu_backend.h"
#include "gemrt/model/gemma/model.h"
#include "gemrt/runtime/generator.h"
#include "gemrt/runtime/session.h"

namespace gemrt::cli {
namespace {

struct GenerateArgs {
  std::string model, ids;
  int n = 16;
  ComputeFlags compute;
};

void run_generate(const GenerateArgs& a) {
  const std::vector<int32_t> ids = parse_id_list(a.ids);
  auto model = GemmaModel::load(a.model);
  const std::unique_ptr<Backend> backend = a.compute.make_backend();
  SessionOptions opts;
  opts.max_tokens = static_cast<int>(ids.size()) + a.n;
  opts.kv_dtype = a.compute.kv_dtype();
  Session session(*model, *backend, opts);
  bool first = true;
  generate_greedy(session, ids, a.n, false, [&](int32_t id) {
    std::cout << (first ? "" : " ") << id << std::flush;
    first = false;
  });
  std::cout << "\n";
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate token ids greedily from a prompt of token ids");
  cmd->add_option("--model", args->model, "GGUF file or Hugging Face checkpoint folder")->required();
  cmd->add_option("--ids", args->ids, "Comma-separated prompt token ids, e.g. 2,17,99")->required();
  cmd->add_option("-n,--tokens", args->n, "Number of tokens to generate")->check(CLI::NonNegativeNumber);
  args->compute.add_to(cmd, Numerics::Precise);
  cmd->callback([args] { run_generate(*args); });
}

}  // namespace gemrt::cli
