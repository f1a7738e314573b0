// GraphBuilder shape inference and shape errors; buffer planning (reuse, liveness safety).
#include <gtest/gtest.h>


#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gemrt/backend/cpu/cpu_backend.h"
#include "gemrt/core/error.h"
#include "gemrt/graph/builder.h"
#include "gemrt/graph/ir.h"
#include "gemrt/graph/plan.h"

namespace gemrt {
namespace {

// A weight view with a shape only (plans and shape checks never read the data).
TensorView shape_only(const std::string& name, Shape shape, DType dtype = DType::F32) {
  return TensorView{name, dtype, std::move(shape), nullptr};
}

// Runs `fn`, expects a gemrt::Error whose message contains every string of `needles`.
template <typename Fn>
void expect_error(Fn&& fn, const std::vector<std::string>& needles) {
  try {
    fn();
    ADD_FAILURE() << "expected gemrt::Error mentioning '" << needles.front() << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const std::string& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "message: " << msg << "\nmissing: " << n;
  }
}

// ---------------------------------------------------------------------------------------------
// GraphBuilder: shape inference

TEST(GraphBuilder, InfersShapesThroughADecoderLikeChain) {
  Graph g;
  GraphBuilder b(g);
  constexpr int64_t T = 5, V = 11, D = 16, H = 4, Hkv = 2, Dh = 8, F = 24;
  const ValueId ids = b.input("token_ids", Shape{T});
  const ValueId pos = b.input("positions", Shape{T});
  const ValueId table = b.weight(shape_only("embed", Shape{V, D}, DType::BF16));
  const ValueId x = b.embed(table, ids, 4.0f);
  EXPECT_EQ(b.shape(x), (Shape{T, D}));
  EXPECT_EQ(g.node(x).dtype, DType::F32);
  EXPECT_EQ(g.node(ids).dtype, DType::I32);
  EXPECT_EQ(g.node(table).dtype, DType::BF16);

  const ValueId nw = b.weight(shape_only("norm.w", Shape{D}));
  const ValueId h = b.rms_norm(x, nw, D, 1e-6f, 1.0f);
  EXPECT_EQ(b.shape(h), (Shape{T, D}));

  const ValueId wq = b.weight(shape_only("q_proj", Shape{H * Dh, D}, DType::F16));
  const ValueId wk = b.weight(shape_only("k_proj", Shape{Hkv * Dh, D}));
  const ValueId wv = b.weight(shape_only("v_proj", Shape{Hkv * Dh, D}));
  const ValueId q = b.matmul(h, wq);
  const ValueId k = b.matmul(h, wk);
  const ValueId v = b.matmul(h, wv);
  EXPECT_EQ(b.shape(q), (Shape{T, H * Dh}));
  EXPECT_EQ(b.shape(k), (Shape{T, Hkv * Dh}));

  const ValueId qn = b.rms_norm(q, -1, Dh, 1e-6f, 0.0f, "q_norm");  // grouped, weightless
  EXPECT_EQ(b.shape(qn), (Shape{T, H * Dh}));
  EXPECT_FALSE(std::get<RmsNormAttrs>(g.node(qn).attrs).has_weight);
  EXPECT_EQ(g.node(qn).inputs.size(), 1u);

  const ValueId qr = b.rope(qn, pos, H, Dh, std::vector<float>(Dh / 2, 0.5f));
  const ValueId kr = b.rope(k, pos, Hkv, Dh, std::vector<float>(Dh / 2, 0.5f));
  EXPECT_EQ(b.shape(qr), (Shape{T, H * Dh}));
  EXPECT_EQ(b.shape(kr), (Shape{T, Hkv * Dh}));

  AttentionAttrs a;
  a.n_heads = H;
  a.n_kv_heads = Hkv;
  a.head_dim = Dh;
  const ValueId att = b.attention(qr, kr, v, pos, a);
  EXPECT_EQ(b.shape(att), (Shape{T, H * Dh}));
  EXPECT_EQ(g.node(att).op, OpKind::Attention);
  EXPECT_EQ(g.node(att).inputs, (std::vector<ValueId>{qr, kr, v, pos}));

  const ValueId wo = b.weight(shape_only("o_proj", Shape{D, H * Dh}));
  const ValueId o = b.matmul(att, wo);
  const ValueId r = b.add(x, o);
  EXPECT_EQ(b.shape(r), (Shape{T, D}));

  const ValueId wg = b.weight(shape_only("gate", Shape{F, D}));
  const ValueId wu = b.weight(shape_only("up", Shape{F, D}));
  const ValueId act = b.gated_act(b.matmul(r, wg), b.matmul(r, wu), Activation::GeluTanh);
  EXPECT_EQ(b.shape(act), (Shape{T, F}));

  const ValueId last = b.last_row(r);
  EXPECT_EQ(b.shape(last), (Shape{1, D}));
  const ValueId logits = b.matmul(last, table);
  EXPECT_EQ(b.shape(logits), (Shape{1, V}));
  const ValueId capped = b.soft_cap(logits, 30.0f);
  EXPECT_EQ(b.shape(capped), (Shape{1, V}));
  EXPECT_FLOAT_EQ(std::get<SoftCapAttrs>(g.node(capped).attrs).cap, 30.0f);
  b.output("logits", capped);
  ASSERT_EQ(g.outputs().size(), 1u);
  EXPECT_EQ(g.outputs()[0].value, capped);
  EXPECT_EQ(g.outputs()[0].name, "logits");
}

TEST(GraphBuilder, WeightMustBeFloat) {
  Graph g;
  GraphBuilder b(g);
  expect_error([&] { b.weight(shape_only("ids_table", Shape{4}, DType::I32)); }, {"ids_table"});
}

// ---------------------------------------------------------------------------------------------
// GraphBuilder: shape errors

struct SmallGraph {
  Graph g;
  GraphBuilder b{g};
  ValueId ids, pos, x;  // x: [3, 8]
  SmallGraph() {
    ids = b.input("token_ids", Shape{3});
    pos = b.input("positions", Shape{3});
    x = b.embed(b.weight(shape_only("embed", Shape{10, 8})), ids, 1.0f);
  }
};

TEST(GraphBuilder, MatMulInnerDimensionMismatchIsAnError) {
  SmallGraph s;
  const ValueId w = s.b.weight(shape_only("layers.0.mlp.up_proj.weight", Shape{16, 9}));
  expect_error([&] { s.b.matmul(s.x, w, "layer0.up"); }, {"layer0.up", "layers.0.mlp.up_proj.weight", "[16, 9]"});
  expect_error([&] { s.b.matmul(s.x, w); }, {"matmul"});
  // Transposed layout ([in, out] instead of [out, in]) is rejected too.
  const ValueId good = s.b.weight(shape_only("w_out_in", Shape{16, 8}));
  EXPECT_EQ(s.b.shape(s.b.matmul(s.x, good)), (Shape{3, 16}));
  const ValueId wt = s.b.weight(shape_only("w_in_out", Shape{8, 16}));
  expect_error([&] { s.b.matmul(s.x, wt); }, {"matmul", "w_in_out"});
  // Rank errors.
  const ValueId w1 = s.b.weight(shape_only("w1", Shape{8}));
  expect_error([&] { s.b.matmul(s.x, w1, "proj"); }, {"proj"});
}

TEST(GraphBuilder, RmsNormBadWidthIsAnError) {
  SmallGraph s;
  const ValueId w5 = s.b.weight(shape_only("norm5", Shape{5}));
  expect_error([&] { s.b.rms_norm(s.x, w5, 5, 1e-6f, 1.0f, "input_layernorm"); }, {"input_layernorm"});
  expect_error([&] { s.b.rms_norm(s.x, -1, 0, 1e-6f, 1.0f, "zero_norm"); }, {"zero_norm"});
  expect_error([&] { s.b.rms_norm(s.x, -1, 3, 1e-6f, 1.0f); }, {"norm"});
  // Weight of the wrong length for a valid group width.
  const ValueId w8 = s.b.weight(shape_only("norm8", Shape{8}));
  expect_error([&] { s.b.rms_norm(s.x, w8, 4, 1e-6f, 1.0f, "q_norm"); }, {"q_norm", "norm8"});
  // Good: grouped with a [4] weight, whole-row with [8].
  const ValueId w4 = s.b.weight(shape_only("norm4", Shape{4}));
  EXPECT_EQ(s.b.shape(s.b.rms_norm(s.x, w4, 4, 1e-6f, 1.0f)), (Shape{3, 8}));
  EXPECT_EQ(s.b.shape(s.b.rms_norm(s.x, w8, 8, 1e-6f, 1.0f)), (Shape{3, 8}));
}

TEST(GraphBuilder, RopeShapeErrors) {
  SmallGraph s;
  expect_error([&] { s.b.rope(s.x, s.pos, 3, 2, std::vector<float>(1), "q_rope"); }, {"q_rope"});  // 3x2 != 8
  expect_error([&] { s.b.rope(s.x, s.pos, 2, 4, std::vector<float>(3), "k_rope"); }, {"k_rope"});  // 3 freqs, need 2
  const ValueId pos4 = s.b.input("pos4", Shape{4});
  expect_error([&] { s.b.rope(s.x, pos4, 2, 4, std::vector<float>(2), "rope_pos"); }, {"rope_pos"});
  EXPECT_EQ(s.b.shape(s.b.rope(s.x, s.pos, 2, 4, std::vector<float>(2))), (Shape{3, 8}));
}

// Axial RoPE (graph/ir.h RopeAttrs axes): positions int32 [T, axes], head_dim split in axes
// sections of pairs, one frequency per pair of the head.
TEST(GraphBuilder, AxialRopeShapeErrors) {
  SmallGraph s;
  const ValueId pos2 = s.b.input("pos2", Shape{3, 2});
  expect_error([&] { s.b.rope_axial(s.x, s.pos, 2, 4, 2, std::vector<float>(2), "axial_pos"); }, {"axial_pos", "[3, 2]"});
  expect_error([&] { s.b.rope_axial(s.x, pos2, 1, 8, 3, std::vector<float>(4), "axial_sections"); }, {"axial_sections", "3 sections"});
  expect_error([&] { s.b.rope_axial(s.x, pos2, 2, 4, 2, std::vector<float>(1), "axial_freqs"); }, {"axial_freqs", "1 frequencies"});
  const ValueId fpos = s.b.input("fpos", Shape{3, 2}, DType::F32);
  expect_error([&] { s.b.rope_axial(s.x, fpos, 2, 4, 2, std::vector<float>(2), "axial_dtype"); }, {"axial_dtype", "int32"});
  const ValueId y = s.b.rope_axial(s.x, pos2, 2, 4, 2, std::vector<float>(2));
  EXPECT_EQ(s.b.shape(y), (Shape{3, 8}));
  EXPECT_EQ(std::get<RopeAttrs>(s.g.node(y).attrs).axes, 2);
}

TEST(GraphBuilder, AvgPoolAndClampShapeErrors) {
  Graph g;
  GraphBuilder b(g);
  const ValueId x = b.input("x", Shape{6 * 9, 4}, DType::F32);
  expect_error([&] { b.avg_pool(x, 9, 9, 3, "pool_rows"); }, {"pool_rows", "9 x 9 grid"});
  expect_error([&] { b.avg_pool(x, 6, 9, 4, "pool_kernel"); }, {"pool_kernel", "4 x 4 squares"});
  EXPECT_EQ(b.shape(b.avg_pool(x, 6, 9, 3)), (Shape{6, 4}));
  EXPECT_EQ(b.shape(b.avg_pool(x, 9, 6, 3)), (Shape{6, 4}));
  expect_error([&] { b.clamp(x, 1.0f, -1.0f, "clamp_order"); }, {"clamp_order", "not ordered"});
  expect_error([&] { b.clamp(x, std::nanf(""), 1.0f, "clamp_nan"); }, {"clamp_nan"});
  EXPECT_EQ(b.shape(b.clamp(x, -std::numeric_limits<float>::infinity(), 2.0f)), (Shape{54, 4}));
}

TEST(GraphBuilder, AttentionHeadMismatchesAreErrors) {
  Graph g;
  GraphBuilder b(g);
  const ValueId ids = b.input("ids", Shape{3});
  const ValueId pos = b.input("positions", Shape{3});
  const ValueId q = b.embed(b.weight(shape_only("tq", Shape{10, 32})), ids, 1.0f);  // 4 heads x 8
  const ValueId kv = b.embed(b.weight(shape_only("tkv", Shape{10, 16})), ids, 1.0f);  // 2 heads x 8
  AttentionAttrs a;
  a.n_heads = 4;
  a.n_kv_heads = 2;
  a.head_dim = 8;
  EXPECT_EQ(b.shape(b.attention(q, kv, kv, pos, a)), (Shape{3, 32}));

  AttentionAttrs bad = a;
  bad.n_kv_heads = 3;  // 4 % 3 != 0
  expect_error([&] { b.attention(q, kv, kv, pos, bad, "layer1.attn"); }, {"layer1.attn"});
  bad = a;
  bad.n_kv_heads = 0;
  expect_error([&] { b.attention(q, kv, kv, pos, bad); }, {"attention"});
  bad = a;
  bad.head_dim = 4;  // q would be 16 wide
  expect_error([&] { b.attention(q, kv, kv, pos, bad, "layer2.attn"); }, {"layer2.attn"});
  bad = a;
  bad.n_kv_heads = 4;  // k/v would be 32 wide
  expect_error([&] { b.attention(q, kv, kv, pos, bad, "layer3.attn"); }, {"layer3.attn"});
  bad = a;
  bad.n_heads = 2;  // q width 32 != 2 x 8
  expect_error([&] { b.attention(q, kv, kv, pos, bad, "layer4.attn"); }, {"layer4.attn"});
  // k and v must both match.
  expect_error([&] { b.attention(q, kv, q, pos, a, "layer5.attn"); }, {"layer5.attn"});
  expect_error([&] { b.attention(q, q, kv, pos, a, "layer6.attn"); }, {"layer6.attn"});
  // Positions must be [T].
  const ValueId pos2 = b.input("pos2", Shape{2});
  expect_error([&] { b.attention(q, kv, kv, pos2, a, "layer7.attn"); }, {"layer7.attn"});
}

TEST(GraphBuilder, ElementwiseShapeMismatchesAreErrors) {
  Graph g;
  GraphBuilder b(g);
  const ValueId ids = b.input("ids", Shape{3});
  const ValueId x8 = b.embed(b.weight(shape_only("t8", Shape{10, 8})), ids, 1.0f);
  const ValueId x6 = b.embed(b.weight(shape_only("t6", Shape{10, 6})), ids, 1.0f);
  expect_error([&] { b.add(x8, x6); }, {"add", "[3, 8]", "[3, 6]"});
  expect_error([&] { b.add(x8, x6, "residual_1"); }, {"residual_1"});
  expect_error([&] { b.add(x8, b.last_row(x8), "residual_2"); }, {"residual_2"});
  expect_error([&] { b.gated_act(x8, x6, Activation::GeluTanh, "mlp_act"); }, {"mlp_act"});
  expect_error([&] { b.soft_cap(x8, 0.0f, "final_cap"); }, {"final_cap"});
  expect_error([&] { b.soft_cap(x8, -5.0f); }, {"soft_cap"});
  expect_error([&] { b.embed(b.weight(shape_only("t1", Shape{10})), ids, 1.0f); }, {"embedding table"});
  // Nothing was added by the failed calls beyond the weights they created.
  for (const Node& n : g.nodes()) EXPECT_NE(n.op, OpKind::Add);
}

// ---------------------------------------------------------------------------------------------
// Graph::add and outputs

TEST(GraphBuilder, GraphRejectsUndefinedInputs) {
  Graph g;
  Node in;
  in.op = OpKind::Input;
  in.shape = Shape{4};
  in.dtype = DType::I32;
  in.name = "ids";
  EXPECT_EQ(g.add(in), 0);

  Node bad;
  bad.op = OpKind::Add;
  bad.shape = Shape{4};
  bad.name = "forward_ref";
  bad.inputs = {0, 1};  // 1 is not defined yet (it would be this node itself)
  expect_error([&] { g.add(bad); }, {"forward_ref", "1"});
  bad.inputs = {-1};
  expect_error([&] { g.add(bad); }, {"forward_ref"});
  bad.inputs = {7};
  expect_error([&] { g.add(bad); }, {"forward_ref", "7"});
  EXPECT_EQ(g.size(), 1);  // failed adds leave the graph unchanged

  bad.inputs = {0, 0};
  EXPECT_EQ(g.add(bad), 1);
  expect_error([&] { g.mark_output("logits", 2); }, {"logits"});
  expect_error([&] { g.mark_output("logits", -1); }, {"logits"});
  EXPECT_TRUE(g.outputs().empty());
  g.mark_output("logits", 1);
  EXPECT_EQ(g.outputs().size(), 1u);
  EXPECT_FALSE(g.is_activation(0));
  EXPECT_TRUE(g.is_activation(1));
  const std::string text = g.to_string();
  EXPECT_NE(text.find("add(%0, %0)"), std::string::npos) << text;
  EXPECT_NE(text.find("output logits = %1"), std::string::npos) << text;
}

// ---------------------------------------------------------------------------------------------
// BufferPlan: independent checks of a plan against the graph.

// Live range end of every value, computed from the graph (not from the plan).
std::vector<int> live_end(const Graph& g) {
  std::vector<int> end(static_cast<size_t>(g.size()));
  for (int i = 0; i < g.size(); ++i) end[static_cast<size_t>(i)] = i;
  for (int i = 0; i < g.size(); ++i)
    for (ValueId in : g.node(i).inputs) end[static_cast<size_t>(in)] = std::max(end[static_cast<size_t>(in)], i);
  for (const auto& o : g.outputs()) end[static_cast<size_t>(o.value)] = g.size();
  return end;
}

void check_plan(const Graph& g, const BufferPlan& p) {
  const int n = g.size();
  ASSERT_EQ(p.offset.size(), static_cast<size_t>(n));
  ASSERT_EQ(p.bytes.size(), static_cast<size_t>(n));
  ASSERT_EQ(p.last_use.size(), static_cast<size_t>(n));
  const std::vector<int> end = live_end(g);
  int64_t sum = 0;
  for (int i = 0; i < n; ++i) {
    const auto ui = static_cast<size_t>(i);
    const Node& node = g.node(i);
    if (node.op == OpKind::Weight) {
      EXPECT_EQ(p.offset[ui], -1) << "weight %" << i;
      EXPECT_EQ(p.bytes[ui], 0) << "weight %" << i;
      continue;
    }
    EXPECT_GE(p.offset[ui], 0) << "%" << i;
    EXPECT_EQ(p.offset[ui] % BufferPlan::kAlign, 0) << "%" << i << " offset " << p.offset[ui];
    EXPECT_GE(p.bytes[ui], dtype_bytes(node.dtype, node.shape.numel())) << "%" << i;
    EXPECT_LE(p.offset[ui] + p.bytes[ui], p.arena_bytes) << "%" << i;
    sum += p.bytes[ui];
    // The plan's own last_use agrees with the graph where someone reads the value.
    if (end[ui] > i) {
      EXPECT_EQ(p.last_use[ui], end[ui]) << "%" << i;
    }
  }
  for (const auto& o : g.outputs()) EXPECT_EQ(p.last_use[static_cast<size_t>(o.value)], n) << o.name;
  EXPECT_EQ(p.unshared_bytes, sum);
  EXPECT_LE(p.arena_bytes, p.unshared_bytes);

  // Values alive at the same time never share bytes: value j (defined later) overlaps value i's
  // range [i, end_i] iff j <= end_i. This includes an op's output against its own inputs
  // (j reads i => end_i >= j) and graph outputs (end = n) against everything after them.
  for (int i = 0; i < n; ++i) {
    const auto ui = static_cast<size_t>(i);
    if (g.node(i).op == OpKind::Weight || p.bytes[ui] == 0) continue;
    for (int j = i + 1; j <= std::min(end[ui], n - 1); ++j) {
      const auto uj = static_cast<size_t>(j);
      if (g.node(j).op == OpKind::Weight || p.bytes[uj] == 0) continue;
      const bool disjoint = p.offset[ui] + p.bytes[ui] <= p.offset[uj] || p.offset[uj] + p.bytes[uj] <= p.offset[ui];
      EXPECT_TRUE(disjoint) << "%" << i << " [" << p.offset[ui] << ", +" << p.bytes[ui] << ") live to " << end[ui]
                            << " overlaps %" << j << " [" << p.offset[uj] << ", +" << p.bytes[uj] << ")\n"
                            << g.to_string();
      if (!disjoint) return;  // one report is enough
    }
  }
  // Explicitly: no op writes over one of its inputs.
  for (int j = 0; j < n; ++j) {
    const auto uj = static_cast<size_t>(j);
    if (!g.is_activation(j)) continue;
    for (ValueId in : g.node(j).inputs) {
      const auto ui = static_cast<size_t>(in);
      if (g.node(in).op == OpKind::Weight) continue;
      EXPECT_TRUE(p.offset[ui] + p.bytes[ui] <= p.offset[uj] || p.offset[uj] + p.bytes[uj] <= p.offset[ui])
          << "%" << j << " overwrites its input %" << in;
    }
  }
}

TEST(BufferPlan, LongChainOfAddsReusesMemory) {
  constexpr int64_t T = 7, D = 96;  // 7*96*4 = 2688 bytes = 42 * 64: exact multiple of kAlign
  const int64_t act_bytes = T * D * 4;
  Graph g;
  GraphBuilder b(g);
  const ValueId ids = b.input("ids", Shape{T});
  const ValueId x0 = b.embed(b.weight(shape_only("embed", Shape{50, D})), ids, 1.0f);
  ValueId x = x0;
  for (int i = 0; i < 20; ++i) x = b.add(x, x0, "add" + std::to_string(i));  // x0 stays live throughout
  b.output("out", x);
  const BufferPlan p = plan_buffers(g);
  check_plan(g, p);
  EXPECT_EQ(p.unshared_bytes, 21 * act_bytes + 64);
  // ids + x0 + two alternating chain buffers.
  EXPECT_LE(p.arena_bytes, 3 * act_bytes + 64) << g.to_string();
  EXPECT_LT(p.arena_bytes * 5, p.unshared_bytes);

  // A pure chain (each add reads only its predecessor) needs two buffers.
  Graph g2;
  GraphBuilder b2(g2);
  const ValueId ids2 = b2.input("ids", Shape{T});
  ValueId y = b2.embed(b2.weight(shape_only("embed", Shape{50, D})), ids2, 1.0f);
  for (int i = 0; i < 20; ++i) y = b2.add(y, y);
  b2.output("out", y);
  const BufferPlan p2 = plan_buffers(g2);
  check_plan(g2, p2);
  EXPECT_LE(p2.arena_bytes, 2 * act_bytes + 64) << g2.to_string();
}

// An input that stands late in the graph (a media input after the embedding chain) shares no
// bytes with any value before it: the CUDA backend writes every input before the first node
// runs, so an earlier value placed on an input's bytes would overwrite it.
TEST(BufferPlan, LateInputsShareNoBytesWithEarlierValues) {
  constexpr int64_t T = 5, D = 64;
  Graph g;
  GraphBuilder b(g);
  const ValueId ids = b.input("ids", Shape{T});
  ValueId x = b.embed(b.weight(shape_only("embed", Shape{50, D})), ids, 1.0f);
  for (int i = 0; i < 6; ++i) x = b.add(x, x, "add" + std::to_string(i));  // released one after another
  const ValueId late = b.input("late", Shape{T, D}, DType::F32);
  const ValueId index = b.input("index", Shape{T});
  b.output("out", b.replace_rows(x, late, index));
  const BufferPlan p = plan_buffers(g);
  check_plan(g, p);
  for (const ValueId in : {late, index})
    for (ValueId v = 0; v < in; ++v) {
      if (g.node(v).op == OpKind::Weight) continue;
      const auto a = p.offset[static_cast<size_t>(v)], ae = a + p.bytes[static_cast<size_t>(v)];
      const auto c = p.offset[static_cast<size_t>(in)], ce = c + p.bytes[static_cast<size_t>(in)];
      EXPECT_TRUE(ae <= c || ce <= a) << g.node(in).name << " shares bytes with " << g.node(v).name;
    }
}

TEST(BufferPlan, UnreadValuesAreReleasedAndOutputsKept) {
  Graph g;
  GraphBuilder b(g);
  const ValueId ids = b.input("ids", Shape{4});
  const ValueId x = b.embed(b.weight(shape_only("embed", Shape{9, 16})), ids, 1.0f);
  const ValueId dead = b.soft_cap(x, 5.0f, "dead");  // nobody reads it
  const ValueId early = b.soft_cap(x, 2.0f, "early_output");
  ValueId y = x;
  for (int i = 0; i < 6; ++i) y = b.add(y, y);
  b.output("early", early);
  b.output("late", y);
  const BufferPlan p = plan_buffers(g);
  check_plan(g, p);
  EXPECT_EQ(p.last_use[static_cast<size_t>(dead)], -1);
  EXPECT_EQ(p.last_use[static_cast<size_t>(early)], g.size());
  EXPECT_EQ(p.last_use[static_cast<size_t>(y)], g.size());
}

// Random DAGs of mixed shapes: the plan must keep every live value intact.
TEST(BufferPlan, RandomDagsNeverShareLiveBytes) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 300; ++trial) {
    Graph g;
    GraphBuilder b(g);
    const int64_t T = 1 + static_cast<int64_t>(rng() % 6);
    const ValueId ids = b.input("ids", Shape{T});
    std::vector<ValueId> acts;  // F32 [T or 1, width] values so far
    const int64_t widths[] = {1, 3, 8, 16, 17, 40, 64};
    auto pick_width = [&] { return widths[rng() % std::size(widths)]; };
    acts.push_back(b.embed(b.weight(shape_only("embed", Shape{20, pick_width()})), ids, 1.0f));
    const int n_ops = 5 + static_cast<int>(rng() % 40);
    for (int k = 0; k < n_ops; ++k) {
      // Bias towards recent values (chains) but read old ones too (long live ranges).
      const size_t idx = rng() % 3 == 0 ? rng() % acts.size() : acts.size() - 1 - rng() % std::min<size_t>(acts.size(), 3);
      const ValueId a = acts[idx];
      const Shape& s = b.shape(a);
      switch (rng() % 7) {
        case 0: {  // add with a same-shape value, if any
          std::vector<ValueId> same;
          for (ValueId c : acts)
            if (b.shape(c) == s) same.push_back(c);
          acts.push_back(b.add(a, same[rng() % same.size()]));
          break;
        }
        case 1:
          acts.push_back(b.matmul(a, b.weight(shape_only("w" + std::to_string(k), Shape{pick_width(), s[1]}))));
          break;
        case 2:
          acts.push_back(b.soft_cap(a, 3.0f));
          break;
        case 3:
          acts.push_back(b.rms_norm(a, -1, s[1], 1e-6f, 0.0f));
          break;
        case 4:
          acts.push_back(b.last_row(a));
          break;
        case 5:
          acts.push_back(b.gated_act(a, a, Activation::GeluErf));
          break;
        default: {  // a gather from a run-time input defined mid-graph (or the first one)
          const ValueId src = rng() % 2 ? ids : b.input("in" + std::to_string(k), Shape{T});
          acts.push_back(b.embed(b.weight(shape_only("e" + std::to_string(k), Shape{20, pick_width()})), src, 2.0f));
          break;
        }
      }
    }
    // Outputs: the last value and a few random ones (possibly early ones).
    b.output("last", acts.back());
    const int n_out = static_cast<int>(rng() % 3);
    for (int k = 0; k < n_out; ++k) b.output("o" + std::to_string(k), acts[rng() % acts.size()]);
    const BufferPlan p = plan_buffers(g);
    SCOPED_TRACE("trial " + std::to_string(trial));
    check_plan(g, p);
    if (::testing::Test::HasFailure()) break;
  }
}

// The plan in use: a reuse-heavy graph computes the same numbers as a direct evaluation.
TEST(BufferPlan, CpuBackendRunsReusedBuffersCorrectly) {
  constexpr int64_t V = 6, D = 40, T = 4;
  std::vector<float> table(V * D);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (float& f : table) f = u(rng);
  const HostTensor t = HostTensor::from<float>("embed", Shape{V, D}, DType::F32, table);
  Graph g;
  GraphBuilder b(g);
  const ValueId ids = b.input("ids", Shape{T});
  const ValueId x0 = b.embed(b.weight(t.view()), ids, 0.5f);
  ValueId x = x0;
  for (int i = 0; i < 12; ++i) {
    const ValueId c = b.soft_cap(x, 4.0f);
    x = b.add(c, x0);
  }
  b.output("mid_input", x0);
  b.output("out", x);
  const BufferPlan p = plan_buffers(g);
  check_plan(g, p);
  EXPECT_LT(p.arena_bytes, p.unshared_bytes / 4);

  cpu::CpuBackend be(2);
  auto exe = be.compile(g);
  EXPECT_EQ(exe->arena_bytes(), p.arena_bytes);
  const std::vector<int32_t> id_vals{3, 0, 5, 3};
  RunOutputs outs;
  exe->run({{"ids", id_vals}}, nullptr, &outs);

  std::vector<float> ref0(T * D), ref(T * D);
  for (int64_t r = 0; r < T; ++r)
    for (int64_t c = 0; c < D; ++c) ref0[static_cast<size_t>(r * D + c)] = table[static_cast<size_t>(id_vals[static_cast<size_t>(r)] * D + c)] * 0.5f;
  ref = ref0;
  for (int i = 0; i < 12; ++i)
    for (size_t k = 0; k < ref.size(); ++k) ref[k] = std::tanh(ref[k] / 4.0f) * 4.0f + ref0[k];
  ASSERT_EQ(outs["out"].size(), ref.size());
  ASSERT_EQ(outs["mid_input"].size(), ref0.size());
  for (size_t k = 0; k < ref.size(); ++k) {
    EXPECT_EQ(outs["mid_input"][k], ref0[k]) << k;
    EXPECT_NEAR(static_cast<double>(outs["out"][k]), static_cast<double>(ref[k]), 1e-5) << k;
  }
}

}  // namespace
}  // namespace gemrt
