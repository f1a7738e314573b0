#include "gemrt/model/gemma/media_graph.h"

#include <cmath>

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

Graph build_siglip_graph(const SiglipSpec& s, const SiglipWeights& w) {
  const int64_t n = int64_t{s.patches_per_side()} * s.patches_per_side(), h = s.hidden;
  Graph g;
  GraphBuilder b(g);
  const auto linear = [&](ValueId x, const TensorView& weight, const TensorView& bias, const std::string& label) {
    return b.add_vec(b.matmul(x, b.weight(weight), label), b.weight(bias), label + "_bias");
  };
  const auto norm = [&](ValueId x, const TensorView& weight, const TensorView& bias, const std::string& label) {
    return b.layer_norm(x, b.weight(weight), b.weight(bias), s.eps, label);
  };
  const ValueId positions = b.input("positions", Shape{n});
  const ValueId blocks = b.input("attention_blocks", Shape{n, 2});
  ValueId x = linear(b.input("pixel_patches", Shape{n, s.patch_values()}, DType::F32), w.patch, w.patch_bias,
                     "patch_embedding");
  x = b.add(x, b.embed(b.weight(w.position), b.input("patch_ids", Shape{n}), 1.0f, "position_embedding"), "add_positions");
  AttentionAttrs a;
  a.n_heads = a.n_kv_heads = s.heads;
  a.head_dim = static_cast<int>(h / s.heads);
  a.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(a.head_dim)));
  for (int l = 0; l < s.layers; ++l) {
    const SiglipLayerWeights& L = w.layers[static_cast<size_t>(l)];
    const std::string p = str("V", l, ".");
    const ValueId y = norm(x, L.ln1_weight, L.ln1_bias, p + "layer_norm1");
    a.kv_slot = l;
    const ValueId att = b.attention(linear(y, L.q, L.q_bias, p + "q_proj"), linear(y, L.k, L.k_bias, p + "k_proj"),
                                    linear(y, L.v, L.v_bias, p + "v_proj"), positions, a, p + "attention", blocks);
    x = b.add(x, linear(att, L.out, L.out_bias, p + "out_proj"), p + "attn_residual");
    const ValueId z = norm(x, L.ln2_weight, L.ln2_bias, p + "layer_norm2");
    const ValueId m = linear(b.act(linear(z, L.fc1, L.fc1_bias, p + "fc1"), Activation::GeluTanh, p + "gelu"), L.fc2,
                             L.fc2_bias, p + "fc2");
    x = b.add(x, m, p + "mlp_residual");
  }
  x = norm(x, w.post_ln_weight, w.post_ln_bias, "post_layernorm");
  const int per_side = static_cast<int>(std::lround(std::sqrt(s.tokens_per_image)));
  x = b.avg_pool(x, s.patches_per_side(), s.patches_per_side(), s.patches_per_side() / per_side, "avg_pool");
  x = b.rms_norm(x, b.weight(w.proj_norm), h, s.eps, w.proj_norm_offset, "mm_soft_emb_norm");
  b.output("features", b.matmul(x, b.weight(w.projection), "mm_input_projection"));
  return g;
}

KvLayout siglip_kv_layout(const SiglipSpec& s) {
  const int n = s.patches_per_side() * s.patches_per_side();
  KvLayout layout;
  for (int l = 0; l < s.layers; ++l) layout.slots.push_back({n, s.heads, static_cast<int>(s.hidden / s.heads), 0});
  return layout;
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
