#include "gemrt/model/gemma/media_weights.h"

#include <string>
#include <vector>

#include "gemrt/core/error.h"
#include "gemrt/model/gemma/weights.h"

namespace gemrt {
namespace {

// The first of `names` the store holds, checked against `shape` (bind_weight).
TensorView bind(const TensorStore& store, const std::vector<std::string>& names, const Shape& shape) {
  for (const std::string& n : names)
    if (store.find(n)) return bind_weight(store, n, shape);
  std::string tried;
  for (const std::string& n : names) tried += (tried.empty() ? "'" : ", '") + n + "'";
  fail(store.source(), ": missing tensor ", tried);
}

}  // namespace

MediaWeights bind_media_weights(const MediaSpec& spec, int64_t hidden, const TensorStore& store) {
  MediaWeights w;
  if (spec.vision) {
    const VisionEmbedderSpec& v = *spec.vision;
    const int64_t p = v.patch_values(), d = v.embed_dim;
    // converted checkpoints' name first, then transformers' module name (spec §7.6)
    const auto part = [&](const std::string& leaf, const Shape& shape) {
      return bind(store, {"model.vision_embedder." + leaf, "model.embed_vision." + leaf}, shape);
    };
    w.vision = VisionEmbedderWeights{
        part("patch_ln1.weight", Shape{p}), part("patch_ln1.bias", Shape{p}),
        part("patch_dense.weight", Shape{d, p}), part("patch_dense.bias", Shape{d}),
        part("patch_ln2.weight", Shape{d}), part("patch_ln2.bias", Shape{d}),
        part("pos_embedding", Shape{v.posemb_size, 2, d}),
        part("pos_norm.weight", Shape{d}), part("pos_norm.bias", Shape{d}),
        bind(store,
             {"model.embed_vision.embedding_projection.weight",
              "model.embed_vision.multimodal_embedder.embedding_projection.weight"},
             Shape{hidden, v.output_proj_dims})};
  }
  if (spec.audio)
    w.audio = AudioEmbedderWeights{
        bind(store, {"model.embed_audio.embedding_projection.weight"}, Shape{hidden, spec.audio->embed_dim})};
  return w;
}

}  // namespace gemrt
