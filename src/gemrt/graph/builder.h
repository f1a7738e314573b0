// GraphBuilder: named helpers that add nodes to a Graph and check shapes as they go, so a
// model builder reads like the model's math. Every helper returns the new value's id.
#pragma once

#include <string>
#include <vector>

#include "gemrt/graph/ir.h"

namespace gemrt {

class GraphBuilder {
 public:
  explicit GraphBuilder(Graph& g) : g_(g) {}

  const Shape& shape(ValueId v) const { return g_.node(v).shape; }

  ValueId input(const std::string& name, Shape shape, DType dtype = DType::I32);  // I32 or F32
  ValueId weight(const TensorView& w);
  // table [V, D], ids int32 [T] -> [T, D]
  ValueId embed(ValueId table, ValueId ids, float scale, const std::string& label = "embed");
  // x [T, K], w [N, K] -> [T, N]
  ValueId matmul(ValueId x, ValueId w, const std::string& label = "matmul");
  // x [T, G*dim]; w [dim] or -1 for a weightless norm.
  ValueId rms_norm(ValueId x, ValueId w, int64_t dim, float eps, float weight_offset, const std::string& label = "norm");
  // x [T, n_heads*head_dim], positions int32 [T]
  ValueId rope(ValueId x, ValueId positions, int n_heads, int head_dim, std::vector<float> inv_freq,
               const std::string& label = "rope", GeometricRope geometric = {});
  // Axial RoPE (graph/ir.h RopeAttrs axes): x [T, n_heads*head_dim], positions int32 [T, axes],
  // inv_freq [head_dim / 2] (section a's pairs at [a * head_dim / (2 axes), ...)).
  ValueId rope_axial(ValueId x, ValueId positions, int n_heads, int head_dim, int axes, std::vector<float> inv_freq,
                     const std::string& label = "rope");
  // q [T, H*D], k/v [T, Hkv*D], positions int32 [T] -> [T, H*D]; blocks int32 [T, 2] or -1
  // (graph/ir.h AttentionAttrs: bidirectional blocks).
  ValueId attention(ValueId q, ValueId k, ValueId v, ValueId positions, const AttentionAttrs& a,
                    const std::string& label = "attention", ValueId blocks = -1);
  ValueId gated_act(ValueId gate, ValueId up, Activation act, const std::string& label = "gated_act");
  ValueId act(ValueId x, Activation act, const std::string& label = "act");
  // x [rows * cols, D] -> [(rows / kernel) * (cols / kernel), D] (graph/ir.h AvgPool)
  ValueId avg_pool(ValueId x, int rows, int cols, int kernel, const std::string& label = "avg_pool");
  // min(max(x, lo), hi) elementwise (graph/ir.h Clamp); lo <= hi, either may be infinite.
  ValueId clamp(ValueId x, float lo, float hi, const std::string& label = "clamp");
  // graph/ir.h Conv2d: x [a.rows * a.cols, Cin], w [Cout, Cin, k, k], row_mask float32 [a.rows].
  ValueId conv2d(ValueId x, ValueId w, ValueId row_mask, const Conv2dAttrs& a, const std::string& label = "conv2d");
  // graph/ir.h DepthwiseConv1d: x [T, D], w [D, 1, K] -> [T, D].
  ValueId depthwise_conv1d(ValueId x, ValueId w, const std::string& label = "depthwise_conv1d");
  // graph/ir.h LocalAttention: q, k, v [T, H*D], rel_k [P, H*D], key_mask float32 [T] -> [T, H*D].
  ValueId local_attention(ValueId q, ValueId k, ValueId v, ValueId rel_k, ValueId key_mask,
                          const LocalAttentionAttrs& a, const std::string& label = "local_attention");
  // x [A, B] -> [rows, numel / rows], the same row-major values (graph/ir.h Reshape).
  ValueId reshape(ValueId x, int64_t rows, const std::string& label = "reshape");
  ValueId add(ValueId a, ValueId b, const std::string& label = "add");
  ValueId soft_cap(ValueId x, float cap, const std::string& label = "soft_cap");
  ValueId last_row(ValueId x, const std::string& label = "last_row");
  ValueId top_k(ValueId x, int k, const std::string& label = "top_k");  // [T, D] -> [T, 2k] (ir.h)
  ValueId scale(ValueId x, float factor, const std::string& label = "scale");
  ValueId slice_cols(ValueId x, int64_t offset, int64_t width, const std::string& label = "slice_cols");
  // graph/ir.h MoE: x [T, H], logits [T, E], gate_up [E, 2I, H], down [E, H, I], expert_scale [E].
  ValueId moe(ValueId x, ValueId logits, ValueId gate_up, ValueId down, ValueId expert_scale, int top_k, Activation act,
              const std::string& label = "moe");

  // graph/ir.h Combine: xs [T, D] each; coefs [T, C] or -1 when every col is -1.
  ValueId combine(const std::vector<ValueId>& xs, ValueId coefs, std::vector<int> cols, std::vector<float> bias,
                  const std::string& label = "combine");
  ValueId rms_rescale(ValueId x, ValueId ref, float eps, const std::string& label = "rms_rescale");
  ValueId mul_vec(ValueId x, ValueId w, const std::string& label = "mul_vec");  // x [T, D], w [D]
  ValueId add_vec(ValueId x, ValueId w, const std::string& label = "add_vec");  // x [T, D], w [D]
  // x [T, D], weight and bias [D] (graph/ir.h LayerNorm)
  ValueId layer_norm(ValueId x, ValueId w, ValueId bias, float eps, const std::string& label = "layer_norm");
  // x [T, D], rows [M, D], index int32 [T] (graph/ir.h ReplaceRows)
  ValueId replace_rows(ValueId x, ValueId rows, ValueId index, const std::string& label = "replace_rows");
  ValueId gaussian_top_k(ValueId x, float z, const std::string& label = "gaussian_top_k");
  // embed() whose out-of-range ids read `fallback_row` instead of failing (graph/ir.h EmbedAttrs).
  ValueId embed_with_fallback(ValueId table, ValueId ids, float scale, int64_t fallback_row, const std::string& label);

  void output(const std::string& name, ValueId v) { g_.mark_output(name, v); }

 private:
  ValueId act_node(OpKind op, std::vector<ValueId> inputs, Shape shape, OpAttrs attrs, const std::string& label);
  Graph& g_;
};

}  // namespace gemrt
