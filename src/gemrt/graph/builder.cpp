#include "gemrt/graph/builder.h"

#include <algorithm>
#include <cmath>

#include "gemrt/core/error.h"

namespace gemrt {
namespace {
void expect_rank(const Shape& s, int rank, const std::string& what) {
  if (s.rank() != rank) fail("graph: ", what, " must have rank ", rank, ", got ", s.to_string());
}
}  // namespace

ValueId GraphBuilder::act_node(OpKind op, std::vector<ValueId> inputs, Shape shape, OpAttrs attrs,
                               const std::string& label) {
  Node n;
  n.op = op;
  n.inputs = std::move(inputs);
  n.shape = std::move(shape);
  n.dtype = DType::F32;
  n.attrs = std::move(attrs);
  n.name = label;
  return g_.add(std::move(n));
}

ValueId GraphBuilder::input(const std::string& name, Shape shape, DType dtype) {
  if (dtype != DType::I32 && dtype != DType::F32)
    fail("graph: input '", name, "' must be I32 or F32, got ", dtype_name(dtype));
  Node n;
  n.op = OpKind::Input;
  n.shape = std::move(shape);
  n.dtype = dtype;
  n.name = name;
  return g_.add(std::move(n));
}

ValueId GraphBuilder::weight(const TensorView& w) {
  if (!dtype_info(w.dtype).is_float) fail("graph: weight '", w.name, "' has non-float dtype ", dtype_name(w.dtype));
  Node n;
  n.op = OpKind::Weight;
  n.shape = w.shape;
  n.dtype = w.dtype;
  n.name = w.name;
  n.weight = w;
  return g_.add(std::move(n));
}

ValueId GraphBuilder::embed(ValueId table, ValueId ids, float scale, const std::string& label) {
  expect_rank(shape(table), 2, "embedding table");
  expect_rank(shape(ids), 1, "token ids");
  return act_node(OpKind::Embed, {table, ids}, Shape{shape(ids)[0], shape(table)[1]}, EmbedAttrs{scale}, label);
}

ValueId GraphBuilder::matmul(ValueId x, ValueId w, const std::string& label) {
  expect_rank(shape(x), 2, label + " input");
  expect_rank(shape(w), 2, label + " weight");
  if (shape(x)[1] != shape(w)[1])
    fail("graph: ", label, ": input ", shape(x).to_string(), " does not match weight ", g_.node(w).name, " ",
         shape(w).to_string(), " (weights are [out, in])");
  return act_node(OpKind::MatMul, {x, w}, Shape{shape(x)[0], shape(w)[0]}, {}, label);
}

ValueId GraphBuilder::rms_norm(ValueId x, ValueId w, int64_t dim, float eps, float weight_offset,
                               const std::string& label) {
  expect_rank(shape(x), 2, label + " input");
  if (dim <= 0 || shape(x)[1] % dim != 0)
    fail("graph: ", label, ": width ", shape(x)[1], " is not a multiple of the norm width ", dim);
  std::vector<ValueId> ins{x};
  if (w >= 0) {
    if (shape(w) != Shape{dim}) fail("graph: ", label, ": weight ", g_.node(w).name, " has shape ", shape(w).to_string(), ", expected [", dim, "]");
    ins.push_back(w);
  }
  return act_node(OpKind::RmsNorm, std::move(ins), shape(x), RmsNormAttrs{dim, eps, weight_offset, w >= 0}, label);
}

ValueId GraphBuilder::rope(ValueId x, ValueId positions, int n_heads, int head_dim, std::vector<float> inv_freq,
                           const std::string& label, GeometricRope geometric) {
  expect_rank(shape(x), 2, label + " input");
  if (shape(x)[1] != int64_t{n_heads} * head_dim)
    fail("graph: ", label, ": width ", shape(x)[1], " != ", n_heads, " heads x ", head_dim);
  if (static_cast<int>(inv_freq.size()) != head_dim / 2)
    fail("graph: ", label, ": ", inv_freq.size(), " frequencies for head_dim ", head_dim);
  if (shape(positions) != Shape{shape(x)[0]}) fail("graph: ", label, ": positions must be [T]");
  return act_node(OpKind::Rope, {x, positions}, shape(x), RopeAttrs{n_heads, head_dim, std::move(inv_freq), geometric}, label);
}

ValueId GraphBuilder::rope_axial(ValueId x, ValueId positions, int n_heads, int head_dim, int axes,
                                 std::vector<float> inv_freq, const std::string& label) {
  expect_rank(shape(x), 2, label + " input");
  if (axes < 1 || head_dim <= 0 || head_dim % (2 * axes) != 0)
    fail("graph: ", label, ": head_dim ", head_dim, " does not split into ", axes, " sections of pairs");
  if (shape(x)[1] != int64_t{n_heads} * head_dim)
    fail("graph: ", label, ": width ", shape(x)[1], " != ", n_heads, " heads x ", head_dim);
  if (static_cast<int>(inv_freq.size()) != head_dim / 2)
    fail("graph: ", label, ": ", inv_freq.size(), " frequencies for head_dim ", head_dim);
  const Shape want = axes == 1 ? Shape{shape(x)[0]} : Shape{shape(x)[0], axes};
  if (shape(positions) != want || g_.node(positions).dtype != DType::I32)
    fail("graph: ", label, ": positions must be int32 ", want.to_string(), ", got ", shape(positions).to_string());
  RopeAttrs a{n_heads, head_dim, std::move(inv_freq), GeometricRope{}};
  a.axes = axes;
  return act_node(OpKind::Rope, {x, positions}, shape(x), std::move(a), label);
}

ValueId GraphBuilder::attention(ValueId q, ValueId k, ValueId v, ValueId positions, const AttentionAttrs& a,
                                const std::string& label, ValueId blocks) {
  const int64_t t = shape(q)[0];
  if (a.n_kv_heads <= 0 || a.n_heads % a.n_kv_heads != 0)
    fail("graph: ", label, ": ", a.n_heads, " query heads are not a multiple of ", a.n_kv_heads, " kv heads");
  if (shape(q) != Shape{t, int64_t{a.n_heads} * a.head_dim}) fail("graph: ", label, ": bad q shape ", shape(q).to_string());
  const Shape kv{t, int64_t{a.n_kv_heads} * a.head_dim};
  if (shape(k) != kv || shape(v) != kv)
    fail("graph: ", label, ": k ", shape(k).to_string(), " / v ", shape(v).to_string(), " expected ", kv.to_string());
  if (shape(positions) != Shape{t}) fail("graph: ", label, ": positions must be [T]");
  if (blocks < 0) return act_node(OpKind::Attention, {q, k, v, positions}, shape(q), a, label);
  if (shape(blocks) != Shape{t, 2} || g_.node(blocks).dtype != DType::I32)
    fail("graph: ", label, ": blocks must be int32 [T, 2], got ", shape(blocks).to_string());
  return act_node(OpKind::Attention, {q, k, v, positions, blocks}, shape(q), a, label);
}

ValueId GraphBuilder::gated_act(ValueId gate, ValueId up, Activation act, const std::string& label) {
  if (shape(gate) != shape(up)) fail("graph: ", label, ": gate ", shape(gate).to_string(), " != up ", shape(up).to_string());
  return act_node(OpKind::GatedAct, {gate, up}, shape(gate), GatedActAttrs{act}, label);
}

ValueId GraphBuilder::act(ValueId x, Activation act, const std::string& label) {
  return act_node(OpKind::Act, {x}, shape(x), GatedActAttrs{act}, label);
}

ValueId GraphBuilder::avg_pool(ValueId x, int rows, int cols, int kernel, const std::string& label) {
  expect_rank(shape(x), 2, label + " input");
  if (rows <= 0 || cols <= 0 || kernel <= 0 || rows % kernel != 0 || cols % kernel != 0 ||
      shape(x)[0] != int64_t{rows} * cols)
    fail("graph: ", label, ": ", shape(x).to_string(), " is not a ", rows, " x ", cols, " grid in ", kernel, " x ",
         kernel, " squares");
  const int64_t out = int64_t{rows / kernel} * (cols / kernel);
  return act_node(OpKind::AvgPool, {x}, Shape{out, shape(x)[1]}, AvgPoolAttrs{rows, cols, kernel}, label);
}

ValueId GraphBuilder::clamp(ValueId x, float lo, float hi, const std::string& label) {
  if (std::isnan(lo) || std::isnan(hi) || lo > hi) fail("graph: ", label, ": clamp bounds [", lo, ", ", hi, "] are not ordered");
  return act_node(OpKind::Clamp, {x}, shape(x), ClampAttrs{lo, hi}, label);
}

ValueId GraphBuilder::add(ValueId a, ValueId b, const std::string& label) {
  if (shape(a) != shape(b)) fail("graph: ", label, ": ", shape(a).to_string(), " + ", shape(b).to_string());
  return act_node(OpKind::Add, {a, b}, shape(a), {}, label);
}

ValueId GraphBuilder::soft_cap(ValueId x, float cap, const std::string& label) {
  if (!(cap > 0.0f)) fail("graph: ", label, ": soft-cap must be positive, got ", cap);
  return act_node(OpKind::SoftCap, {x}, shape(x), SoftCapAttrs{cap}, label);
}

ValueId GraphBuilder::top_k(ValueId x, int k, const std::string& label) {
  expect_rank(shape(x), 2, label + " input");
  const int64_t d = shape(x)[1];
  if (k <= 0 || k > d) fail("graph: ", label, ": k must be in [1, ", d, "], got ", k);
  if (d >= (int64_t{1} << 24)) fail("graph: ", label, ": rows of ", d, " values are too long for float32 indices");
  return act_node(OpKind::TopK, {x}, Shape{shape(x)[0], 2 * int64_t{k}}, TopKAttrs{k}, label);
}

ValueId GraphBuilder::scale(ValueId x, float factor, const std::string& label) {
  if (!std::isfinite(factor)) fail("graph: ", label, ": scale factor must be finite, got ", factor);
  return act_node(OpKind::Scale, {x}, shape(x), ScaleAttrs{factor}, label);
}

ValueId GraphBuilder::slice_cols(ValueId x, int64_t offset, int64_t width, const std::string& label) {
  expect_rank(shape(x), 2, label + " input");
  if (offset < 0 || width <= 0 || offset + width > shape(x)[1])
    fail("graph: ", label, ": columns [", offset, ", ", offset + width, ") are not inside ", shape(x).to_string());
  return act_node(OpKind::SliceCols, {x}, Shape{shape(x)[0], width}, SliceColsAttrs{offset, width}, label);
}

ValueId GraphBuilder::moe(ValueId x, ValueId logits, ValueId gate_up, ValueId down, ValueId expert_scale, int top_k,
                          Activation act, const std::string& label) {
  expect_rank(shape(x), 2, label + " input");
  expect_rank(shape(gate_up), 3, label + " gate_up weight");
  expect_rank(shape(down), 3, label + " down weight");
  const int64_t t = shape(x)[0], h = shape(x)[1], e = shape(gate_up)[0], i2 = shape(gate_up)[1];
  if (shape(gate_up)[2] != h || i2 % 2 != 0)
    fail("graph: ", label, ": gate_up ", shape(gate_up).to_string(), " does not fit [E, 2I, ", h, "]");
  if (shape(down) != Shape{e, h, i2 / 2}) fail("graph: ", label, ": down ", shape(down).to_string(), " is not [", e, ", ", h, ", ", i2 / 2, "]");
  if (shape(logits) != Shape{t, e}) fail("graph: ", label, ": router logits ", shape(logits).to_string(), " are not [", t, ", ", e, "]");
  if (shape(expert_scale) != Shape{e}) fail("graph: ", label, ": expert scale ", shape(expert_scale).to_string(), " is not [", e, "]");
  if (top_k < 1 || top_k > e) fail("graph: ", label, ": top_k ", top_k, " is not in [1, ", e, "]");
  return act_node(OpKind::MoE, {x, logits, gate_up, down, expert_scale}, shape(x), MoeAttrs{top_k, act}, label);
}

ValueId GraphBuilder::embed_with_fallback(ValueId table, ValueId ids, float scale, int64_t fallback_row,
                                          const std::string& label) {
  expect_rank(shape(table), 2, "embedding table");
  expect_rank(shape(ids), 1, "token ids");
  if (fallback_row < 0 || fallback_row >= shape(table)[0])
    fail("graph: ", label, ": fallback row ", fallback_row, " is not a row of ", shape(table).to_string());
  return act_node(OpKind::Embed, {table, ids}, Shape{shape(ids)[0], shape(table)[1]}, EmbedAttrs{scale, fallback_row},
                  label);
}

ValueId GraphBuilder::combine(const std::vector<ValueId>& xs, ValueId coefs, std::vector<int> cols,
                              std::vector<float> bias, const std::string& label) {
  if (xs.empty() || cols.size() != xs.size() || bias.size() != xs.size())
    fail("graph: ", label, ": needs one column and one bias per input, got ", xs.size(), " inputs, ", cols.size(),
         " columns, ", bias.size(), " biases");
  const Shape& s = shape(xs[0]);
  expect_rank(s, 2, label + " input");
  for (ValueId x : xs)
    if (shape(x) != s) fail("graph: ", label, ": inputs differ in shape: ", s.to_string(), " vs ", shape(x).to_string());
  std::vector<ValueId> ins = xs;
  const bool uses_coefs = std::any_of(cols.begin(), cols.end(), [](int c) { return c >= 0; });
  if (uses_coefs) {
    if (coefs < 0) fail("graph: ", label, ": a column is given but no coefficient matrix");
    if (shape(coefs).rank() != 2 || shape(coefs)[0] != s[0])
      fail("graph: ", label, ": coefficients ", shape(coefs).to_string(), " are not [", s[0], ", C]");
    for (int c : cols)
      if (c >= shape(coefs)[1]) fail("graph: ", label, ": column ", c, " is outside ", shape(coefs).to_string());
    ins.push_back(coefs);
  }
  return act_node(OpKind::Combine, std::move(ins), s, CombineAttrs{std::move(cols), std::move(bias)}, label);
}

ValueId GraphBuilder::rms_rescale(ValueId x, ValueId ref, float eps, const std::string& label) {
  expect_rank(shape(x), 2, label + " input");
  if (shape(x) != shape(ref)) fail("graph: ", label, ": ", shape(x).to_string(), " vs reference ", shape(ref).to_string());
  if (!(eps > 0.0f)) fail("graph: ", label, ": eps must be positive, got ", eps);
  return act_node(OpKind::RmsRescale, {x, ref}, shape(x), RmsRescaleAttrs{eps}, label);
}

ValueId GraphBuilder::mul_vec(ValueId x, ValueId w, const std::string& label) {
  expect_rank(shape(x), 2, label + " input");
  if (shape(w) != Shape{shape(x)[1]})
    fail("graph: ", label, ": weight ", g_.node(w).name, " has shape ", shape(w).to_string(), ", expected [", shape(x)[1], "]");
  return act_node(OpKind::MulVec, {x, w}, shape(x), {}, label);
}

ValueId GraphBuilder::add_vec(ValueId x, ValueId w, const std::string& label) {
  expect_rank(shape(x), 2, label + " input");
  if (shape(w) != Shape{shape(x)[1]})
    fail("graph: ", label, ": bias ", g_.node(w).name, " has shape ", shape(w).to_string(), ", expected [", shape(x)[1], "]");
  return act_node(OpKind::AddVec, {x, w}, shape(x), {}, label);
}

ValueId GraphBuilder::layer_norm(ValueId x, ValueId w, ValueId bias, float eps, const std::string& label) {
  expect_rank(shape(x), 2, label + " input");
  const Shape d{shape(x)[1]};
  for (ValueId p : {w, bias})
    if (shape(p) != d)
      fail("graph: ", label, ": ", g_.node(p).name, " has shape ", shape(p).to_string(), ", expected ", d.to_string());
  if (!(eps > 0.0f)) fail("graph: ", label, ": eps must be positive, got ", eps);
  return act_node(OpKind::LayerNorm, {x, w, bias}, shape(x), LayerNormAttrs{eps}, label);
}

ValueId GraphBuilder::replace_rows(ValueId x, ValueId rows, ValueId index, const std::string& label) {
  expect_rank(shape(x), 2, label + " input");
  expect_rank(shape(rows), 2, label + " rows");
  if (shape(rows)[1] != shape(x)[1])
    fail("graph: ", label, ": rows ", shape(rows).to_string(), " do not match ", shape(x).to_string());
  if (shape(index) != Shape{shape(x)[0]} || g_.node(index).dtype != DType::I32)
    fail("graph: ", label, ": index must be int32 [", shape(x)[0], "], got ", shape(index).to_string());
  return act_node(OpKind::ReplaceRows, {x, rows, index}, shape(x), {}, label);
}

ValueId GraphBuilder::gaussian_top_k(ValueId x, float z, const std::string& label) {
  expect_rank(shape(x), 2, label + " input");
  if (!std::isfinite(z)) fail("graph: ", label, ": the std multiplier must be finite, got ", z);
  return act_node(OpKind::GaussianTopK, {x}, shape(x), GaussianTopKAttrs{z}, label);
}

ValueId GraphBuilder::last_row(ValueId x, const std::string& label) {
  expect_rank(shape(x), 2, label + " input");
  return act_node(OpKind::LastRow, {x}, Shape{1, shape(x)[1]}, {}, label);
}

ValueId GraphBuilder::conv2d(ValueId x, ValueId w, ValueId row_mask, const Conv2dAttrs& a, const std::string& label) {
  expect_rank(shape(x), 2, label + " input");
  expect_rank(shape(w), 4, label + " weight");
  if (a.rows <= 0 || a.cols <= 0 || a.kernel <= 0 || a.stride <= 0 || a.pad < 0 || a.out_rows() <= 0 || a.out_cols() <= 0)
    fail("graph: ", label, ": a ", a.rows, " x ", a.cols, " grid, kernel ", a.kernel, ", stride ", a.stride, ", pad ", a.pad,
         " is not a valid convolution");
  const int64_t cin = shape(x)[1];
  if (shape(x)[0] != int64_t{a.rows} * a.cols)
    fail("graph: ", label, ": input ", shape(x).to_string(), " is not a ", a.rows, " x ", a.cols, " grid of rows");
  if (shape(w)[1] != cin || shape(w)[2] != a.kernel || shape(w)[3] != a.kernel)
    fail("graph: ", label, ": weight ", g_.node(w).name, " has shape ", shape(w).to_string(), ", expected [Cout, ", cin,
         ", ", a.kernel, ", ", a.kernel, "]");
  if (shape(row_mask) != Shape{a.rows} || g_.node(row_mask).dtype != DType::F32)
    fail("graph: ", label, ": row mask must be float32 [", a.rows, "], got ", shape(row_mask).to_string());
  return act_node(OpKind::Conv2d, {x, w, row_mask}, Shape{int64_t{a.out_rows()} * a.out_cols(), shape(w)[0]}, a, label);
}

ValueId GraphBuilder::depthwise_conv1d(ValueId x, ValueId w, const std::string& label) {
  expect_rank(shape(x), 2, label + " input");
  if (shape(w).rank() != 3 || shape(w)[0] != shape(x)[1] || shape(w)[1] != 1 || shape(w)[2] <= 0)
    fail("graph: ", label, ": weight ", g_.node(w).name, " has shape ", shape(w).to_string(), ", expected [",
         shape(x)[1], ", 1, K]");
  return act_node(OpKind::DepthwiseConv1d, {x, w}, shape(x), {}, label);
}

ValueId GraphBuilder::local_attention(ValueId q, ValueId k, ValueId v, ValueId rel_k, ValueId key_mask,
                                      const LocalAttentionAttrs& a, const std::string& label) {
  expect_rank(shape(q), 2, label + " q");
  const int64_t t = shape(q)[0], width = int64_t{a.n_heads} * a.head_dim;
  if (a.n_heads <= 0 || a.head_dim <= 0 || a.chunk <= 0 || a.max_past < 0 || a.right < 0 || a.left < 0 ||
      a.left > a.max_past + 1 || !(a.softcap > 0.0f))
    fail("graph: ", label, ": invalid local attention attributes (heads ", a.n_heads, ", head_dim ", a.head_dim,
         ", chunk ", a.chunk, ", max_past ", a.max_past, ", left ", a.left, ", right ", a.right, ", softcap ", a.softcap, ")");
  for (ValueId x : {q, k, v})
    if (shape(x) != Shape{t, width})
      fail("graph: ", label, ": q / k / v ", shape(x).to_string(), " are not [", t, ", ", width, "]");
  if (shape(rel_k).rank() != 2 || shape(rel_k)[1] != width || g_.node(rel_k).op != OpKind::Weight)
    fail("graph: ", label, ": relative keys ", shape(rel_k).to_string(), " are not a weight [P, ", width, "]");
  if (a.eager_mask && int64_t{a.max_past} + a.right + 2 < shape(rel_k)[0])
    fail("graph: ", label, ": ", shape(rel_k)[0], " relative positions reach past the zero padding of HF's shift (eager mask)");
  if (shape(key_mask) != Shape{t} || g_.node(key_mask).dtype != DType::F32)
    fail("graph: ", label, ": key mask must be float32 [", t, "], got ", shape(key_mask).to_string());
  return act_node(OpKind::LocalAttention, {q, k, v, rel_k, key_mask}, shape(q), a, label);
}

ValueId GraphBuilder::reshape(ValueId x, int64_t rows, const std::string& label) {
  const int64_t n = shape(x).numel();
  if (g_.node(x).dtype != DType::F32 || rows <= 0 || n % rows != 0)
    fail("graph: ", label, ": ", shape(x).to_string(), " cannot be reshaped to ", rows, " float32 rows");
  return act_node(OpKind::Reshape, {x}, Shape{rows, n / rows}, {}, label);
}

}  // namespace gemrt
