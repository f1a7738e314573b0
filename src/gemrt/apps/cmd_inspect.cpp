// gemrt inspect MODEL [--mmproj PATH] [--ctx N]
// Architecture, sizes, the per-layer spec table, the towers (a GGUF text model's from --mmproj),
// tensor dtypes and a memory estimate. Given a
// config.json file instead of a checkpoint (config-only mode): the spec, the checkpoint's tensor
// elements and the KV-cache bytes per token, without any weights.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>

#include "gemrt/apps/cli_common.h"
#include "gemrt/core/error.h"
#include "gemrt/model/gemma/forward_graph.h"
#include "gemrt/model/gemma/model.h"
#include "gemrt/model/gemma/tensor_list.h"

namespace gemrt::cli {
namespace {

std::string mib(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

// f16 K and V of every slot of `kv` (as `gemrt run` keeps them by default; --kv-type f32 doubles it).
int64_t kv_f16_bytes(const KvLayout& kv) {
  int64_t bytes = 0;
  for (const auto& slot : kv.slots) bytes += int64_t{slot.capacity} * slot.row_width() * 2 * 2;
  return bytes;
}

void describe_spec(const ModelSpec& s) {
  std::cout << "architecture: " << s.model_type << " (" << family_name(s.family) << ")\n"
            << "vocab:        " << s.vocab_size << "\n"
            << "hidden:       " << s.hidden_size << "\n"
            << "layers:       " << s.n_layers() << "\n"
            << "context:      " << s.max_position_embeddings << "\n"
            << "embed scale:  " << s.embed_scale << "\n"
            << "final cap:    " << s.final_softcap << "\n"
            << "tied head:    " << (s.tie_word_embeddings ? "yes" : "no") << "\n\n"
            << describe_layers(s) << "\n";
}

void inspect_config(const std::string& path, int ctx) {
  const ModelSpec s = load_gemma_config(path);
  std::cout << "config:       " << path << " (config only: no weights read)\n";
  describe_spec(s);
  const int64_t elements = gemma_checkpoint_elements(s);
  const KvBytesPerToken kv = kv_bytes_per_token(s, 2);
  const int64_t kv_ctx = kv_f16_bytes(kv_layout_for(s, ctx));  // sliding layers hold at most their window
  char buf[160];
  std::snprintf(buf, sizeof buf, "%.3f B", static_cast<double>(elements) / 1e9);
  std::cout << "parameters:   " << elements << " (" << buf << "; the checkpoint's tensor elements, tied head once)\n"
            << "KV cache per token (f16 K and V): " << kv.full << " bytes on full layers, " << kv.sliding
            << " on sliding layers up to their window\n"
            << "KV cache at " << ctx << " tokens (f16): " << mib(kv_ctx) << "\n";
}

// Tensors per dtype of `store`: count and bytes; adds their bytes to `total`.
void describe_tensors(const TensorStore& store, int64_t& total) {
  std::map<std::string, std::pair<int, int64_t>> by_dtype;  // dtype -> (count, bytes)
  for (const std::string& name : store.names()) {
    const TensorView& t = *store.find(name);
    auto& e = by_dtype[std::string(dtype_name(t.dtype))];
    ++e.first;
    e.second += t.nbytes();
    total += t.nbytes();
  }
  for (const auto& [dt, e] : by_dtype) std::cout << "  " << dt << ": " << e.first << " tensors, " << mib(e.second) << "\n";
}

// The projector types of an mmproj file, as its clip.* keys name them.
std::string projectors(const GgufFile& g) {
  std::string out;
  for (const char* key : {"clip.projector_type", "clip.vision.projector_type", "clip.audio.projector_type"})
    if (const GgufValue* v = g.find_meta(key)) out += (out.empty() ? "" : ", ") + v->as_string(key);
  return out;
}

void inspect(const std::string& path, const std::string& mmproj, int ctx) {
  if (std::filesystem::is_regular_file(path) && std::filesystem::path(path).extension() == ".json") {
    if (!mmproj.empty()) fail("--mmproj: a config.json alone has no weights to join");
    inspect_config(path, ctx);
    return;
  }
  auto model = GemmaModel::load(path, {.mmproj = mmproj});
  const ModelSpec& s = model->spec();
  std::cout << "model:        " << path << "\n"
            << "format:       " << (model->gguf() ? "GGUF v" + std::to_string(model->gguf()->version()) : "safetensors") << "\n";
  if (const GgufFile* mp = model->mmproj())
    std::cout << "mmproj:       " << mmproj << " (GGUF v" << mp->version() << ", projectors " << projectors(*mp) << ")\n";
  describe_spec(s);
  const MediaSpec& m = model->media();
  if (m.vision)
    std::cout << "vision:       encoder-free embedder, " << m.vision->patch_size << "-px patches merged "
              << m.vision->pooling << "x" << m.vision->pooling << " (" << m.vision->patch_values()
              << " values), width " << m.vision->embed_dim << ", " << m.vision->posemb_size
              << " positions per axis; image token " << m.image_token << " (boi " << m.boi_token << ", eoi "
              << m.eoi_token << ")\n";
  if (m.siglip)
    std::cout << "vision:       SigLIP tower, " << m.siglip->image_size << "-px images in " << m.siglip->patch_size
              << "-px patches, " << m.siglip->layers << " layers of width " << m.siglip->hidden << " ("
              << m.siglip->heads << " heads, MLP " << m.siglip->intermediate << "), pooled to "
              << m.siglip->tokens_per_image << " tokens; image token " << m.image_token << " (boi " << m.boi_token
              << ", eoi " << m.eoi_token << ")\n";
  if (const auto& t = m.gemma4_vision)
    std::cout << "vision:       Gemma 4 tower, " << t->patch_size << "-px patches, " << t->layers << " layers of width "
              << t->hidden << " (" << t->heads << " heads x " << t->head_dim << ", " << t->kv_heads << " KV heads, MLP "
              << t->intermediate << "), axial RoPE theta " << t->rope_theta << ", " << t->posemb_size
              << " positions per axis, pooled " << t->pooling << "x" << t->pooling
              << (t->clipped_linears ? ", clipped linears" : "") << (t->standardize ? ", standardized" : "")
              << "; image token " << m.image_token << " (boi " << m.boi_token << ", eoi " << m.eoi_token << ")\n";
  if (const auto& t = m.gemma4_audio)
    std::cout << "audio:        Gemma 4 conformer tower, " << t->mel_bins << " mel bins subsampled 4x (conv channels "
              << t->conv_channels0 << ", " << t->conv_channels1 << "), " << t->layers << " layers of width " << t->hidden
              << " (" << t->heads << " heads, chunks of " << t->chunk << ", " << t->context_left - 1 << " keys back, "
              << t->context_right << " ahead, logit cap " << t->logit_cap << ", conv kernel " << t->conv_kernel
              << "), output " << t->output_dims << (t->clipped_linears ? ", clipped linears" : "") << "; audio token "
              << m.audio_token << " (boa " << m.boa_token << ", eoa " << m.eoa_token << ")\n";
  if (m.audio)
    std::cout << "audio:        encoder-free embedder, " << m.audio->embed_dim << " samples per token; audio token "
              << m.audio_token << " (boa " << m.boa_token << ", eoa " << m.eoa_token << ")\n";

  int64_t weight_bytes = 0;
  std::cout << "tensors:\n";
  describe_tensors(model->store(), weight_bytes);
  if (const GgufFile* mp = model->mmproj()) {
    std::cout << "mmproj tensors:\n";
    describe_tensors(*mp, weight_bytes);
  }

  const int64_t kv_bytes = kv_f16_bytes(model->kv_layout(ctx));
  std::cout << "\nmemory estimate (context " << ctx << " tokens):\n"
            << "  weights (memory-mapped, stored format): " << mib(weight_bytes) << "\n"
            << "  KV cache (f16, sliding layers keep their window): " << mib(kv_bytes) << "\n"
            << "  total: " << mib(weight_bytes + kv_bytes) << " plus activations\n";
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto mmproj = std::make_shared<std::string>();
  auto ctx = std::make_shared<int>(4096);
  CLI::App* cmd = app.add_subcommand("inspect", "Describe a model: architecture, layers, tensors, memory");
  cmd->add_option("model", *path, "GGUF file, Hugging Face checkpoint folder, or a config.json alone")->required();
  add_mmproj_option(cmd, *mmproj);
  cmd->add_option("-c,--ctx", *ctx, "Context budget for the memory estimate")->check(CLI::PositiveNumber);
  cmd->callback([path, mmproj, ctx] { inspect(*path, *mmproj, *ctx); });
}

}  // namespace gemrt::cli
