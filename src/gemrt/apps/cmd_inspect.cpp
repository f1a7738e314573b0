// gemrt inspect MODEL [--ctx N]
// Architecture, sizes, the per-layer spec table, tensor dtypes and a memory estimate.
#include <cstdio>
#include <iostream>
#include <map>

#include "gemrt/apps/cli_common.h"
#include "gemrt/model/gemma/model.h"

namespace gemrt::cli {
namespace {

std::string mib(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

void inspect(const std::string& path, int ctx) {
  auto model = GemmaModel::load(path);
  const ModelSpec& s = model->spec();
  std::cout << "model:        " << path << "\n"
            << "format:       " << (model->gguf() ? "GGUF v" + std::to_string(model->gguf()->version()) : "safetensors") << "\n"
            << "architecture: " << s.model_type << " (" << family_name(s.family) << ")\n"
            << "vocab:        " << s.vocab_size << "\n"
            << "hidden:       " << s.hidden_size << "\n"
            << "layers:       " << s.n_layers() << "\n"
            << "context:      " << s.max_position_embeddings << "\n"
            << "embed scale:  " << s.embed_scale << "\n"
            << "final cap:    " << s.final_softcap << "\n"
            << "tied head:    " << (s.tie_word_embeddings ? "yes" : "no") << "\n\n"
            << describe_layers(s) << "\n";

  std::map<std::string, std::pair<int, int64_t>> by_dtype;  // dtype -> (count, bytes)
  int64_t weight_bytes = 0;
  for (const std::string& name : model->store().names()) {
    const TensorView& t = *model->store().find(name);
    auto& e = by_dtype[std::string(dtype_name(t.dtype))];
    ++e.first;
    e.second += t.nbytes();
    weight_bytes += t.nbytes();
  }
  std::cout << "tensors:\n";
  for (const auto& [dt, e] : by_dtype) std::cout << "  " << dt << ": " << e.first << " tensors, " << mib(e.second) << "\n";

  const KvLayout kv = model->kv_layout(ctx);
  int64_t kv_bytes = 0;
  // K and V in f16, as `gemrt run` keeps them by default (--kv-type f32 doubles this).
  for (const auto& slot : kv.slots) kv_bytes += int64_t{slot.capacity} * slot.row_width() * 2 * 2;
  std::cout << "\nmemory estimate (context " << ctx << " tokens):\n"
            << "  weights (memory-mapped, stored format): " << mib(weight_bytes) << "\n"
            << "  KV cache (f16, sliding layers keep their window): " << mib(kv_bytes) << "\n"
            << "  total: " << mib(weight_bytes + kv_bytes) << " plus activations\n";
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto ctx = std::make_shared<int>(4096);
  CLI::App* cmd = app.add_subcommand("inspect", "Describe a model: architecture, layers, tensors, memory");
  cmd->add_option("model", *path, "GGUF file or Hugging Face checkpoint folder")->required();
  cmd->add_option("-c,--ctx", *ctx, "Context budget for the memory estimate")->check(CLI::PositiveNumber);
  cmd->callback([path, ctx] { inspect(*path, *ctx); });
}

}  // namespace gemrt::cli
