#include "gemrt/model/gemma/media_graph.h"

#include "gemrt/core/error.h"
#include "gemrt/graph/builder.h"

namespace gemrt {

Graph build_vision_embedder_graph(const VisionEmbedderSpec& spec, const VisionEmbedderWeights& w, int64_t patches) {
  if (patches <= 0) fail("vision embedder graph: patch count must be positive, got ", patches);
  Graph g;
  GraphBuilder b(g);
  const ValueId pixels = b.input("pixel_values", Shape{patches, spec.patch_values()}, DType::F32);
  const float eps = spec.layer_norm_eps;
  ValueId x = b.layer_norm(pixels, b.weight(w.ln1_weight), b.weight(w.ln1_bias), eps, "patch_ln1");
  x = b.add_vec(b.matmul(x, b.weight(w.dense_weight), "patch_dense"), b.weight(w.dense_bias), "patch_dense_bias");
  x = b.layer_norm(x, b.weight(w.ln2_weight), b.weight(w.ln2_bias), eps, "patch_ln2");
  // pos_embedding [S, 2, D] read as [2S, D]: the x table of position s is row 2s, the y table's 2s + 1.
  TensorView table = w.pos_embedding;
  table.shape = Shape{2 * spec.posemb_size, spec.embed_dim};
  const ValueId tables = b.weight(table);
  const ValueId px = b.embed(tables, b.input("pos_x", Shape{patches}), 1.0f, "pos_embed_x");
  const ValueId py = b.embed(tables, b.input("pos_y", Shape{patches}), 1.0f, "pos_embed_y");
  x = b.add(x, b.add(px, py, "pos_embed"), "add_pos_embed");
  x = b.layer_norm(x, b.weight(w.pos_norm_weight), b.weight(w.pos_norm_bias), eps, "pos_norm");
  x = b.rms_norm(x, -1, spec.output_proj_dims, spec.rms_norm_eps, 0.0f, "pre_projection_norm");
  b.output("features", b.matmul(x, b.weight(w.projection), "embedding_projection"));
  return g;
}

Graph build_audio_embedder_graph(const AudioEmbedderSpec& spec, const AudioEmbedderWeights& w, int64_t frames) {
  if (frames <= 0) fail("audio embedder graph: frame count must be positive, got ", frames);
  Graph g;
  GraphBuilder b(g);
  ValueId x = b.input("audio_frames", Shape{frames, spec.embed_dim}, DType::F32);
  x = b.rms_norm(x, -1, spec.embed_dim, spec.rms_norm_eps, 0.0f, "pre_projection_norm");
  b.output("features", b.matmul(x, b.weight(w.projection), "embedding_projection"));
  return g;
}

}  // namespace gemrt
