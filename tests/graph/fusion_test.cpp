// Fusion planning (graph/fusion.h) on real decoder graphs and on hand-built corner cases; the
// buffer plan with the moved reads it declares.
#include <gtest/gtest.h>

#include <map>

#include "gemrt/core/error.h"
#include "gemrt/graph/builder.h"
#include "gemrt/graph/fusion.h"
#include "gemrt/graph/plan.h"
#include "gemrt/model/gemma/model.h"
#include "test_util.h"

namespace gemrt {
namespace {

using Kind = FusedStep::Kind;

std::map<Kind, int> count_kinds(const FusionPlan& p) {
  std::map<Kind, int> c;
  for (const FusedStep& s : p.steps) ++c[s.kind];
  return c;
}

// Every node is either a step's own node or absorbed by exactly one fused step, and steps run in
// increasing node order. `norms_may_repeat`: a norm read only by products that run in several
// steps is applied by each of them (never written), so it may be absorbed more than once.
void expect_covers_every_node_once(const Graph& g, const FusionPlan& p, bool norms_may_repeat = false) {
  std::vector<int> seen(static_cast<size_t>(g.size()), 0);
  ValueId prev = -1;
  for (const FusedStep& s : p.steps) {
    EXPECT_GT(s.at, prev);
    prev = s.at;
    ++seen[static_cast<size_t>(s.at)];
    if (s.norm >= 0) ++seen[static_cast<size_t>(s.norm)];
    if (s.pre_norm >= 0) {  // the absorbed NormAdd: its norm and its Add (written by this step)
      ++seen[static_cast<size_t>(s.pre_norm)];
      ++seen[static_cast<size_t>(s.x)];
    }
    for (ValueId m : s.products)
      if (m != s.at) ++seen[static_cast<size_t>(m)];
    for (const AttendInput* c : {&s.q, &s.k, &s.v}) {
      if (c->norm >= 0) ++seen[static_cast<size_t>(c->norm)];
      if (c->rope >= 0) ++seen[static_cast<size_t>(c->rope)];
    }
  }
  for (int i = 0; i < g.size(); ++i) {
    if (norms_may_repeat && g.node(i).op == OpKind::RmsNorm) EXPECT_GE(seen[static_cast<size_t>(i)], 1) << g.node(i).name;
    else EXPECT_EQ(seen[static_cast<size_t>(i)], 1) << g.node(i).name;
  }
}

// A value read at a moved place must keep its bytes until then: nothing produced after it and up
// to that place may overlap it.
void expect_moved_reads_stay_live(const Graph& g, const BufferPlan& plan, const FusionPlan& f) {
  for (const MovedRead& r : f.moved_reads) {
    const int64_t a0 = plan.offset[static_cast<size_t>(r.value)], a1 = a0 + plan.bytes[static_cast<size_t>(r.value)];
    for (ValueId j = r.value + 1; j <= r.at; ++j) {
      if (plan.bytes[static_cast<size_t>(j)] == 0) continue;
      const int64_t b0 = plan.offset[static_cast<size_t>(j)], b1 = b0 + plan.bytes[static_cast<size_t>(j)];
      EXPECT_TRUE(b1 <= a0 || a1 <= b0) << g.node(j).name << " overwrites " << g.node(r.value).name
                                        << " before " << g.node(r.at).name << " reads it";
    }
  }
}

TEST(Fusion, Gemma3DecodeStepFusesEveryLayerAlike) {
  auto model = GemmaModel::load(test::shared_fixtures() + "/hf/gemma3-pub");
  const Graph g = model->forward_graph(1, LogitsRows::Last);
  const FusionPlan f = plan_fusions(g, 4);
  expect_covers_every_node_once(g, f);
  const int layers = static_cast<int>(model->spec().layers.size());
  const auto c = count_kinds(f);
  // Per layer: q/k/v with the attention norm, o_proj, gate/up/act with the MLP norm, down_proj;
  // plus the LM head (its final norm read by it alone).
  EXPECT_EQ(c.at(Kind::MatVec), 4 * layers + 1);
  // Each one-token attention takes q_norm + rope, k_norm + rope and the raw v with it.
  EXPECT_EQ(c.count(Kind::NormRope), 0u);
  EXPECT_EQ(c.at(Kind::Attend), layers);
  for (const FusedStep& s : f.steps) {
    if (s.kind != Kind::Attend) continue;
    const std::string layer = g.node(s.at).name.substr(0, g.node(s.at).name.find('.') + 1);
    EXPECT_EQ(g.node(s.q.src).name, layer + "q_proj");
    EXPECT_EQ(g.node(s.q.norm).name, layer + "q_norm");
    EXPECT_EQ(g.node(s.q.rope).name, layer + "q_rope");
    EXPECT_EQ(g.node(s.k.src).name, layer + "k_proj");
    EXPECT_EQ(g.node(s.k.norm).name, layer + "k_norm");
    EXPECT_EQ(g.node(s.k.rope).name, layer + "k_rope");
    EXPECT_EQ(g.node(s.v.src).name, layer + "v_proj");
    EXPECT_EQ(s.v.norm, -1);
    EXPECT_EQ(s.v.rope, -1);
  }
  // The post-attention and post-MLP norms into the residual run inside the next normed product
  // (gate/up, the next layer's q/k/v, the LM head).
  EXPECT_EQ(c.count(Kind::NormAdd), 0u);
  int normed = 0, gated = 0, qkv = 0, pre_added = 0;
  for (const FusedStep& s : f.steps) {
    if (s.kind != Kind::MatVec) continue;
    normed += s.norm >= 0;
    gated += s.gated >= 0;
    qkv += s.products.size() == 3;
    if (s.pre_norm >= 0) {
      ++pre_added;
      EXPECT_EQ(g.node(s.x).op, OpKind::Add) << g.node(s.at).name;
      EXPECT_EQ(g.node(s.pre_norm).inputs[0], s.pre_in);
    }
  }
  EXPECT_EQ(normed, 2 * layers + 1);
  EXPECT_EQ(gated, layers);
  EXPECT_EQ(qkv, layers);
  EXPECT_EQ(pre_added, 2 * layers);  // the last into the LM head
  // Launches (steps other than inputs and weights) against ops: 5 per layer (q/k/v, attention
  // with its norms and RoPE, o, gate/up, down) instead of 21.
  const auto is_op = [&](ValueId v) { return g.node(v).op != OpKind::Input && g.node(v).op != OpKind::Weight; };
  int ops = 0, launches = 0;
  for (int i = 0; i < g.size(); ++i) ops += is_op(i);
  for (const FusedStep& s : f.steps) launches += is_op(s.at);
  EXPECT_LT(launches * 3, ops) << launches << " launches for " << ops << " ops";
  EXPECT_EQ(launches, 5 * layers + 2) << "embed, 5 per layer, the LM head";
  expect_moved_reads_stay_live(g, plan_buffers(g, f.moved_reads), f);
}

// Gemma 3n's attention input feeds q, k, v and LAuReL's left product: q / k / v share one step
// (at most kMaxMatVecProducts), LAuReL's product runs in its own.
TEST(Fusion, Gemma3nQkvShareAStepBesideLaurel) {
  auto model = GemmaModel::load(test::shared_fixtures() + "/hf/gemma3n-pub");
  const Graph g = model->forward_graph(1, LogitsRows::Last);
  const FusionPlan f = plan_fusions(g, 4);
  // The activation-sparsity layers' gate and up run apart (the gate has readers before up), both
  // applying the MLP norm.
  expect_covers_every_node_once(g, f, /*norms_may_repeat=*/true);
  const auto& layers = model->spec().layers;
  int qkv = 0, laurel = 0, own_kv = 0;
  for (const LayerSpec& l : layers) own_kv += l.kv_source < 0;
  ASSERT_GT(own_kv, 0);
  ASSERT_LT(own_kv, static_cast<int>(layers.size()));  // the fixture shares KV in its last layers
  for (const FusedStep& s : f.steps) {
    if (s.kind != Kind::MatVec) continue;
    const std::string name = g.node(s.products[0]).name;
    const std::string layer = name.substr(0, name.find('.') + 1);
    if (name.ends_with(".q_proj") && s.products.size() == 3) {  // a layer with its own K / V
      ++qkv;
      EXPECT_EQ(g.node(s.products[1]).name, layer + "k_proj");
      EXPECT_EQ(g.node(s.products[2]).name, layer + "v_proj");
    }
    if (name.ends_with(".laurel_left")) {
      ++laurel;
      EXPECT_EQ(s.products.size(), 1u) << name;
    }
  }
  EXPECT_EQ(qkv, own_kv);
  EXPECT_EQ(laurel, static_cast<int>(layers.size()));
  expect_moved_reads_stay_live(g, plan_buffers(g, f.moved_reads), f);
}

TEST(Fusion, PrefillKeepsProductsButFusesNorms) {
  auto model = GemmaModel::load(test::shared_fixtures() + "/hf/gemma3-pub");
  const Graph g = model->forward_graph(20, LogitsRows::All);
  const FusionPlan f = plan_fusions(g, 4);
  expect_covers_every_node_once(g, f);
  const auto c = count_kinds(f);
  EXPECT_EQ(c.count(Kind::MatVec), 0u);
  EXPECT_GT(c.at(Kind::NormAdd), 0);
  EXPECT_EQ(c.count(Kind::Attend), 0u);  // an attention of several tokens runs as it is
  EXPECT_EQ(c.at(Kind::NormRope), 2 * static_cast<int>(model->spec().layers.size()));
  expect_moved_reads_stay_live(g, plan_buffers(g, f.moved_reads), f);
  // max_rows 0 leaves every product alone whatever its rows.
  EXPECT_EQ(count_kinds(plan_fusions(model->forward_graph(1, LogitsRows::Last), 0)).count(Kind::MatVec), 0u);
}

TEST(Fusion, GemmaWithoutQkNormsAttendsWithRopeOnly) {
  for (const char* fixture : {"gemma1-pub", "gemma2-pub"}) {
    auto model = GemmaModel::load(test::shared_fixtures() + "/hf/" + fixture);
    const Graph g = model->forward_graph(1, LogitsRows::Last);
    const FusionPlan f = plan_fusions(g, 4);
    expect_covers_every_node_once(g, f);
    EXPECT_EQ(count_kinds(f).at(Kind::Attend), static_cast<int>(model->spec().layers.size())) << fixture;
    for (const FusedStep& s : f.steps) {
      if (s.kind != Kind::Attend) continue;
      EXPECT_EQ(s.q.norm, -1);
      EXPECT_EQ(g.node(s.q.rope).op, OpKind::Rope);
      EXPECT_EQ(g.node(s.q.src).op, OpKind::MatMul);
      EXPECT_EQ(g.node(s.k.rope).op, OpKind::Rope);
      EXPECT_EQ(g.node(s.v.src).op, OpKind::MatMul);
    }
    expect_moved_reads_stay_live(g, plan_buffers(g, f.moved_reads), f);
  }
}

TensorView shape_only(const std::string& name, Shape shape, DType dtype = DType::F32) {
  return TensorView{name, dtype, std::move(shape), nullptr};
}

TEST(Fusion, ProductsRunTogetherOnlyWhenNoReaderComesBetween) {
  Graph g;
  GraphBuilder b(g);
  const ValueId x = b.embed(b.weight(shape_only("table", Shape{10, 8})), b.input("ids", Shape{1}), 1.0f);
  const ValueId p1 = b.matmul(x, b.weight(shape_only("w1", Shape{8, 8})));
  const ValueId early = b.add(p1, x);  // reads p1 before the second product exists
  const ValueId p2 = b.matmul(x, b.weight(shape_only("w2", Shape{8, 8})));
  const ValueId p3 = b.matmul(x, b.weight(shape_only("w3", Shape{8, 8}, DType::BF16)));  // another dtype
  b.output("y", b.add(b.add(early, p2), p3));
  const FusionPlan f = plan_fusions(g, 4);
  expect_covers_every_node_once(g, f);
  for (const FusedStep& s : f.steps) {
    if (s.kind == Kind::MatVec) {
      EXPECT_EQ(s.products.size(), 1u) << g.node(s.at).name;
    }
  }
  EXPECT_EQ(count_kinds(f).at(Kind::MatVec), 3);
}

// Four products of one activation (Gemma 3n's q, k, v and LAuReL's left product): a step of
// kMaxMatVecProducts, then one of the rest.
TEST(Fusion, AtMostThreeProductsShareAStep) {
  Graph g;
  GraphBuilder b(g);
  const ValueId x = b.embed(b.weight(shape_only("table", Shape{10, 8})), b.input("ids", Shape{1}), 1.0f);
  std::vector<ValueId> p;
  for (int i = 0; i < 4; ++i) p.push_back(b.matmul(x, b.weight(shape_only("w" + std::to_string(i), Shape{8, 8}))));
  b.output("y", b.add(b.add(p[0], p[1]), b.add(p[2], p[3])));
  const FusionPlan f = plan_fusions(g, 4);
  expect_covers_every_node_once(g, f);
  std::vector<std::vector<ValueId>> steps;
  for (const FusedStep& s : f.steps)
    if (s.kind == Kind::MatVec) steps.push_back(s.products);
  ASSERT_EQ(kMaxMatVecProducts, 3);
  EXPECT_EQ(steps, (std::vector<std::vector<ValueId>>{{p[0], p[1], p[2]}, {p[3]}}));
}

// Products of different weight dtypes share a step only where the backend mixes them.
TEST(Fusion, MixableDtypesShareAStep) {
  Graph g;
  GraphBuilder b(g);
  const ValueId x = b.embed(b.weight(shape_only("table", Shape{10, 8})), b.input("ids", Shape{1}), 1.0f);
  const ValueId q = b.matmul(x, b.weight(shape_only("q", Shape{8, 8}, DType::Q4_K)));
  const ValueId v = b.matmul(x, b.weight(shape_only("v", Shape{8, 8}, DType::Q6_K)));
  const ValueId o = b.matmul(x, b.weight(shape_only("o", Shape{8, 8}, DType::BF16)));
  b.output("y", b.add(b.add(q, v), o));
  const auto products = [&](const FusionPlan& f) {
    std::vector<std::vector<ValueId>> steps;
    for (const FusedStep& s : f.steps)
      if (s.kind == Kind::MatVec) steps.push_back(s.products);
    return steps;
  };
  const FusionPlan apart = plan_fusions(g, 4);
  expect_covers_every_node_once(g, apart);
  EXPECT_EQ(products(apart), (std::vector<std::vector<ValueId>>{{q}, {v}, {o}}));
  const FusionPlan mixed = plan_fusions(g, 4, true, [](DType t) { return t == DType::Q4_K || t == DType::Q6_K; });
  expect_covers_every_node_once(g, mixed);
  EXPECT_EQ(products(mixed), (std::vector<std::vector<ValueId>>{{q, v}, {o}}));
}

TEST(Fusion, ANormWithAnotherReaderIsNotAbsorbed) {
  Graph g;
  GraphBuilder b(g);
  const ValueId x = b.embed(b.weight(shape_only("table", Shape{10, 8})), b.input("ids", Shape{1}), 1.0f);
  const ValueId xn = b.rms_norm(x, b.weight(shape_only("g", Shape{8})), 8, 1e-6f, 1.0f);
  const ValueId p = b.matmul(xn, b.weight(shape_only("w", Shape{8, 8})));
  b.output("y", b.add(p, xn));
  b.output("n", xn);
  const FusionPlan f = plan_fusions(g, 4);
  expect_covers_every_node_once(g, f);
  for (const FusedStep& s : f.steps) EXPECT_EQ(s.norm, -1) << g.node(s.at).name;
}

// An Attend chain follows q, k and v back only through values read by nothing else: a q norm
// that is also an output stays a node of its own, and the chain starts at it.
TEST(Fusion, AnAttendChainStopsAtAValueWithAnotherReader) {
  Graph g;
  GraphBuilder b(g);
  const ValueId pos = b.input("positions", Shape{1});
  const ValueId x = b.embed(b.weight(shape_only("table", Shape{10, 8})), b.input("ids", Shape{1}), 1.0f);
  const ValueId q = b.matmul(x, b.weight(shape_only("wq", Shape{8, 8})));  // 2 heads of 4
  const ValueId k = b.matmul(x, b.weight(shape_only("wk", Shape{4, 8})));  // 1 KV head
  const ValueId v = b.matmul(x, b.weight(shape_only("wv", Shape{4, 8})));
  const ValueId qn = b.rms_norm(q, b.weight(shape_only("qn", Shape{4})), 4, 1e-6f, 1.0f);
  const ValueId kn = b.rms_norm(k, b.weight(shape_only("kn", Shape{4})), 4, 1e-6f, 1.0f);
  const ValueId qr = b.rope(qn, pos, 2, 4, {1.0f, 0.5f});
  const ValueId kr = b.rope(kn, pos, 1, 4, {1.0f, 0.5f});
  AttentionAttrs a;
  a.n_heads = 2;
  a.n_kv_heads = 1;
  a.head_dim = 4;
  const ValueId att = b.attention(qr, kr, v, pos, a);
  b.output("y", att);
  b.output("qn", qn);
  const FusionPlan f = plan_fusions(g, 4);
  expect_covers_every_node_once(g, f);
  ASSERT_EQ(count_kinds(f).at(Kind::Attend), 1);
  for (const FusedStep& s : f.steps) {
    if (s.kind != Kind::Attend) continue;
    EXPECT_EQ(s.at, att);
    EXPECT_EQ(s.q.src, qn);
    EXPECT_EQ(s.q.norm, -1);
    EXPECT_EQ(s.q.rope, qr);
    EXPECT_EQ(s.k.src, k);
    EXPECT_EQ(s.k.norm, kn);
    EXPECT_EQ(s.k.rope, kr);
    EXPECT_EQ(s.v.src, v);
  }
  // The q norm runs alone, before the attention that reads it.
  bool norm_alone = false;
  for (const FusedStep& s : f.steps) norm_alone = norm_alone || (s.kind == Kind::Node && s.at == qn);
  EXPECT_TRUE(norm_alone);
  expect_moved_reads_stay_live(g, plan_buffers(g, f.moved_reads), f);
}

// x + norm(y) feeding a normed product runs inside the product, unless the sum has a reader
// before the product (it would read the sum before it is written).
TEST(Fusion, ANormAddRunsInsideTheNextNormedProductOnlyWhenNoReaderComesBetween) {
  for (const bool reader_between : {false, true}) {
    Graph g;
    GraphBuilder b(g);
    const ValueId x = b.embed(b.weight(shape_only("table", Shape{10, 8})), b.input("ids", Shape{1}), 1.0f);
    const ValueId y = b.matmul(x, b.weight(shape_only("w0", Shape{8, 8})));
    const ValueId sum = b.add(x, b.rms_norm(y, b.weight(shape_only("post", Shape{8})), 8, 1e-6f, 1.0f));
    const ValueId between = reader_between ? b.soft_cap(sum, 2.0f) : -1;
    const ValueId p = b.matmul(b.rms_norm(sum, b.weight(shape_only("pre", Shape{8})), 8, 1e-6f, 1.0f),
                               b.weight(shape_only("w1", Shape{8, 8})));
    ValueId out = b.add(p, sum);
    if (reader_between) out = b.add(out, between);
    b.output("y", out);
    const FusionPlan f = plan_fusions(g, 4);
    expect_covers_every_node_once(g, f);
    expect_moved_reads_stay_live(g, plan_buffers(g, f.moved_reads), f);
    int pre_added = 0;
    for (const FusedStep& s : f.steps) {
      if (s.pre_norm < 0) continue;
      ++pre_added;
      EXPECT_EQ(s.x, sum);
      EXPECT_EQ(s.pre_in, y);
      EXPECT_EQ(s.pre_residual, x);
    }
    EXPECT_EQ(pre_added, reader_between ? 0 : 1);
    EXPECT_EQ(count_kinds(f).count(Kind::NormAdd), reader_between ? 1u : 0u);
  }
}

// The fused norm-rope and attend kernels rotate at one position per row: an axial RoPE
// (positions [T, 2], Gemma 4's vision tower) after a per-head norm stays two nodes, where the same
// graph with a plain RoPE fuses.
TEST(Fusion, AnAxialRopeIsNotFused) {
  for (const bool axial : {false, true}) {
    Graph g;
    GraphBuilder b(g);
    const ValueId x = b.embed(b.weight(shape_only("table", Shape{10, 8})), b.input("ids", Shape{1}), 1.0f);
    const ValueId q = b.matmul(x, b.weight(shape_only("wq", Shape{8, 8})));  // 2 heads of 4
    const ValueId qn = b.rms_norm(q, b.weight(shape_only("qn", Shape{4})), 4, 1e-6f, 1.0f);
    const ValueId qr = axial ? b.rope_axial(qn, b.input("pos2", Shape{1, 2}), 2, 4, 2, {1.0f, 0.5f})
                             : b.rope(qn, b.input("positions", Shape{1}), 2, 4, {1.0f, 0.5f});
    b.output("y", qr);
    const FusionPlan f = plan_fusions(g, 4);
    expect_covers_every_node_once(g, f);
    EXPECT_EQ(count_kinds(f).count(Kind::NormRope), axial ? 0u : 1u);
  }
}

TEST(Fusion, MovedReadsMustFollowTheirValue) {
  Graph g;
  GraphBuilder b(g);
  const ValueId x = b.embed(b.weight(shape_only("table", Shape{10, 8})), b.input("ids", Shape{1}), 1.0f);
  b.output("y", b.soft_cap(x, 2.0f));
  const MovedRead bad[] = {{x, x}};
  EXPECT_THROW(plan_buffers(g, bad), Error);
}

}  // namespace
}  // namespace gemrt
