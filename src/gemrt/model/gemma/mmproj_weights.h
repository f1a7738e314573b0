// The towers' weights of a llama.cpp mmproj file (model/gemma/mmproj_config.h), bound into the
// same MediaWeights the safetensors binding fills, so the same tower graphs run them. Names are
// llama.cpp's (gguf-py tensor_mapping.py, tools/mtmd/clip-impl.h); shapes below are row-major (GGUF's
// ne reversed). What the converter (convert_hf_to_gguf.py, conversion/gemma.py) changed, and what
// the binding does about it:
//
// gemma3 (Gemma3VisionModel): v.patch_embd [n, 3, p, p] (+ bias), v.position_embd [patches, n],
//   v.blk.N.{ln1, ln2, attn_q, attn_k, attn_v, attn_out, ffn_up = fc1, ffn_down = fc2}.{weight, bias}
//   (files whose ffn_down has fc1's shape hold the two swapped: clip.cpp's is_ffn_swapped, undone),
//   v.post_ln, mm.soft_emb_norm = 1 + w (the norm then runs with offset 0: the stored float32 sum
//   is the very factor transformers forms), mm.input_projection [n, text] (x @ W, forced to F16 by
//   the converter even in an f32 file; transposed here as for the safetensors checkpoint).
// gemma4v (Gemma4VisionAudioModel): v.patch_embd: input_proj [n, p*p*3] reshaped to [n, p, p, 3] and
//   permuted to a conv kernel [n, 3, p, p] (permuted back), v.position_embd [2, S, n] (F32),
//   v.blk.N.{ln1 = input_layernorm, attn_post_norm, ln2 = pre_feedforward_layernorm, ffn_post_norm,
//   attn_q, attn_k, attn_v, attn_out, attn_q_norm, attn_k_norm, ffn_gate, ffn_up, ffn_down}, each
//   linear's clip bounds as [1] tensors <linear>.{input_min, input_max, output_min, output_max}
//   (each optional, absent = open, as clip.cpp reads them), v.std_bias / v.std_scale,
//   mm.input_projection = embed_vision.embedding_projection.
// gemma4a: a.conv1d.{0,1}.weight [C, C_in, 3, 3] and .norm.weight (F32), a.input_projection =
//   input_proj_linear, a.blk.N.{ffn_norm, ffn_up, ffn_down, ffn_post_norm} = feed_forward1 and
//   {ffn_norm_1, ffn_up_1, ffn_down_1, ffn_post_norm_1} = feed_forward2, attn_pre_norm /
//   attn_post_norm / ln2 = norm_pre_attn / norm_post_attn / norm_out, attn_q / attn_k / attn_v /
//   attn_out = q / k / v / post, per_dim_scale.weight = softplus(per_dim_scale) (stored after the
//   softplus: used as it is), attn_k_rel = relative_k_proj, conv_norm = lconv1d.pre_layer_norm and
//   norm_conv = lconv1d.conv_norm (llama.cpp's names are swapped, tensor_mapping.py; clip.cpp loads
//   them crosswise), conv_pw1 / conv_pw2 = linear_start / linear_end, conv_dw [n, k] (the
//   depthwise [n, 1, k] reshaped), a.pre_encode.out = output_proj (weight, bias),
//   mm.a.input_projection = embed_audio.embedding_projection; clip bounds as for gemma4v.
// gemma4uv / gemma4ua (Gemma4UnifiedVisionAudioModel): v.patch_norm.1 = patch_ln1 and v.patch_embd
//   = patch_dense with their columns permuted to the channel-major order of llama.cpp's im2col
//   (permuted back), v.patch_norm.2 = patch_ln2, v.position_embd = pos_embedding permuted to
//   [2, positions, n] (permuted back to [positions, 2, n]), v.patch_norm.3 = pos_norm,
//   mm.input_projection / mm.a.input_projection = the embed_vision / embed_audio projections.
// Every weight keeps its stored dtype (F32, F16, BF16, or a packed block format where the graph
// only multiplies by it). Every tensor of the file must be bound: one left over is refused, naming
// it (it would be a part of a tower gemrt does not compute).
#pragma once

#include "gemrt/io/gguf.h"
#include "gemrt/model/gemma/media_weights.h"

namespace gemrt {

// `spec` from media_spec_from_mmproj(mmproj, ...); `text_hidden`: the text model's width. Throws
// gemrt::Error naming the mmproj file and the tensor: missing, of another shape than the clip.*
// metadata implies, a non-float dtype, or not used by any tower.
MediaWeights bind_mmproj_weights(const MediaSpec& spec, int64_t text_hidden, const GgufFile& mmproj);

}  // namespace gemrt
