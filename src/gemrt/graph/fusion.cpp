#include "gemrt/graph/fusion.h"

#include <algorithm>
#include <map>
#include <utility>

namespace gemrt {

FusionPlan plan_fusions(const Graph& g, int64_t max_rows, bool attend, const std::function<bool(DType)>& mixable) {
  const int n = g.size();
  const auto at = [](auto& v, ValueId i) -> auto& { return v[static_cast<size_t>(i)]; };
  std::vector<std::vector<ValueId>> users(static_cast<size_t>(n));
  std::vector<char> is_output(static_cast<size_t>(n), 0);
  for (int i = 0; i < n; ++i)
    for (ValueId in : g.node(i).inputs) at(users, in).push_back(i);
  for (const auto& o : g.outputs()) at(is_output, o.value) = 1;

  const auto only_user = [&](ValueId v, ValueId u) {
    return !at(is_output, v) && at(users, v).size() == 1 && at(users, v)[0] == u;
  };
  const auto is_matvec = [&](ValueId v) {
    const Node& m = g.node(v);
    return max_rows > 0 && m.op == OpKind::MatMul && m.shape[0] <= max_rows && g.node(m.inputs[1]).op == OpKind::Weight;
  };
  const auto weight_dtype = [&](ValueId m) { return g.node(g.node(m).inputs[1]).dtype; };
  // An RMSNorm with one group per row (what the matrix-vector and add fusions normalise).
  const auto is_row_norm = [&](ValueId v) {
    const Node& r = g.node(v);
    return r.op == OpKind::RmsNorm && std::get<RmsNormAttrs>(r.attrs).dim == r.shape[1];
  };

  const auto step = [](FusedStep::Kind kind, ValueId pos, ValueId x) {
    FusedStep s;
    s.kind = kind;
    s.at = pos;
    s.x = x;
    return s;
  };
  FusionPlan plan;
  std::vector<char> absorbed(static_cast<size_t>(n), 0);
  std::map<ValueId, FusedStep> placed;  // steps by the node at whose place they run

  // Gated activations of two products of one activation.
  for (int a = 0; a < n; ++a) {
    const Node& act = g.node(a);
    if (act.op != OpKind::GatedAct) continue;
    const ValueId gate = act.inputs[0], up = act.inputs[1];
    if (gate == up || !is_matvec(gate) || !is_matvec(up)) continue;
    if (g.node(gate).inputs[0] != g.node(up).inputs[0] || weight_dtype(gate) != weight_dtype(up)) continue;
    if (g.node(gate).shape != g.node(up).shape || !only_user(gate, a) || !only_user(up, a)) continue;
    FusedStep s = step(FusedStep::Kind::MatVec, a, g.node(gate).inputs[0]);
    s.products = {gate, up};
    s.gated = a;
    at(absorbed, gate) = at(absorbed, up) = 1;
    placed[a] = std::move(s);
  }

  // The other products, grouped by activation and weight dtype (-1: the mixable dtypes), in runs
  // of consecutive members of at most kMaxMatVecProducts. A run executes at its last member, so
  // every reader of every member must come after it; a run where that fails is cut short, its
  // first member running alone.
  std::map<std::pair<ValueId, int>, std::vector<ValueId>> groups;
  for (int m = 0; m < n; ++m) {
    if (!is_matvec(m) || at(absorbed, m)) continue;
    const DType dt = weight_dtype(m);
    groups[{g.node(m).inputs[0], mixable && mixable(dt) ? -1 : static_cast<int>(dt)}].push_back(m);
  }
  for (auto& [key, members] : groups) {
    for (size_t first = 0; first < members.size();) {
      size_t end = std::min(members.size(), first + kMaxMatVecProducts);
      const auto readers_after = [&](size_t stop) {
        const ValueId last = members[stop - 1];
        for (size_t i = first; i < stop; ++i)
          for (ValueId u : at(users, members[i]))
            if (u <= last) return false;
        return true;
      };
      while (end > first + 1 && !readers_after(end)) --end;
      const ValueId last = members[end - 1];
      for (size_t i = first; i < end; ++i) at(absorbed, members[i]) = members[i] != last;
      placed[last] = step(FusedStep::Kind::MatVec, last, key.first);
      placed[last].products.assign(members.begin() + static_cast<std::ptrdiff_t>(first),
                                   members.begin() + static_cast<std::ptrdiff_t>(end));
      first = end;
    }
  }

  // Norms read only by matrix-vector products: applied as those load their activation.
  for (int r = 0; r < n; ++r) {
    if (!is_row_norm(r) || at(is_output, r) || at(users, r).empty()) continue;
    const bool all_products = std::all_of(at(users, r).begin(), at(users, r).end(), [&](ValueId u) {
      return is_matvec(u) && g.node(u).inputs[0] == r;
    });
    if (!all_products) continue;
    at(absorbed, r) = 1;
    for (auto& [pos, s] : placed)
      if (s.kind == FusedStep::Kind::MatVec && s.x == r) {
        s.norm = r;
        s.x = g.node(r).inputs[0];
      }
  }

  // One-token attentions with the norms and ropes of their inputs (before NormRope, which they
  // supersede). An input chain may only be followed through values read by nothing else.
  for (int i = 0; attend && max_rows > 0 && i < n; ++i) {
    const Node& attn = g.node(i);
    if (attn.op != OpKind::Attention || attn.shape[0] != 1) continue;
    const auto& aa = std::get<AttentionAttrs>(attn.attrs);
    const ValueId positions = attn.inputs[3];
    const auto chain = [&](ValueId v, bool may_rotate) {
      AttendInput c;
      ValueId reader = i;
      if (may_rotate && g.node(v).op == OpKind::Rope && only_user(v, reader) && g.node(v).inputs[1] == positions &&
          std::get<RopeAttrs>(g.node(v).attrs).head_dim == aa.head_dim && std::get<RopeAttrs>(g.node(v).attrs).axes == 1) {
        c.rope = v;
        reader = v;
        v = g.node(v).inputs[0];
      }
      const Node& r = g.node(v);
      if (r.op == OpKind::RmsNorm && only_user(v, reader) && std::get<RmsNormAttrs>(r.attrs).dim == aa.head_dim) {
        c.norm = v;
        v = r.inputs[0];
      }
      c.src = v;
      return c;
    };
    FusedStep s = step(FusedStep::Kind::Attend, i, -1);
    s.q = chain(attn.inputs[0], true);
    s.k = chain(attn.inputs[1], true);
    s.v = chain(attn.inputs[2], false);
    for (const AttendInput* c : {&s.q, &s.k, &s.v}) {
      if (c->norm >= 0) at(absorbed, c->norm) = 1;
      if (c->rope >= 0) at(absorbed, c->rope) = 1;
    }
    placed[i] = std::move(s);
  }

  // a + rms_norm(b), and rope(rms_norm(x)) with one norm group per head.
  for (int i = 0; i < n; ++i) {
    const Node& node = g.node(i);
    if (node.op == OpKind::Add) {
      for (int side = 0; side < 2; ++side) {
        const ValueId r = node.inputs[static_cast<size_t>(side)];
        if (!is_row_norm(r) || at(absorbed, r) || !only_user(r, i)) continue;
        at(absorbed, r) = 1;
        placed[i] = step(FusedStep::Kind::NormAdd, i, g.node(r).inputs[0]);
        placed[i].norm = r;
        placed[i].residual = node.inputs[static_cast<size_t>(1 - side)];
        break;
      }
    } else if (node.op == OpKind::Rope) {
      const ValueId r = node.inputs[0];
      const Node& rn = g.node(r);
      if (at(absorbed, i) || rn.op != OpKind::RmsNorm || at(absorbed, r) || !only_user(r, i)) continue;
      if (std::get<RmsNormAttrs>(rn.attrs).dim != std::get<RopeAttrs>(node.attrs).head_dim) continue;
      if (std::get<RopeAttrs>(node.attrs).axes != 1) continue;  // the fused kernels rotate at one position per row
      at(absorbed, r) = 1;
      placed[i] = step(FusedStep::Kind::NormRope, i, rn.inputs[0]);
      placed[i].norm = r;
    }
  }

  // A NormAdd whose sum is read by a normed MatVec (its norm absorbed there) and otherwise only
  // after that MatVec: the MatVec computes and writes the sum itself.
  std::vector<ValueId> merged;
  for (auto& [pos, s] : placed) {
    if (s.kind != FusedStep::Kind::MatVec || s.norm < 0) continue;
    auto it = placed.find(s.x);
    if (it == placed.end() || it->second.kind != FusedStep::Kind::NormAdd) continue;
    const ValueId sum = s.x;
    const bool later = std::all_of(at(users, sum).begin(), at(users, sum).end(),
                                   [&](ValueId u) { return u == s.norm || u > pos; });
    if (!later) continue;
    s.pre_norm = it->second.norm;
    s.pre_in = it->second.x;
    s.pre_residual = it->second.residual;
    merged.push_back(sum);
  }
  for (ValueId sum : merged) {
    placed.erase(sum);
    at(absorbed, sum) = 1;
  }

  for (int i = 0; i < n; ++i) {
    auto it = placed.find(i);
    if (it != placed.end()) {
      FusedStep& s = it->second;
      if (s.x >= 0 && s.x < s.at) plan.moved_reads.push_back({s.x, s.at});
      if (s.residual >= 0) plan.moved_reads.push_back({s.residual, s.at});
      if (s.pre_in >= 0) plan.moved_reads.push_back({s.pre_in, s.at});
      if (s.pre_residual >= 0) plan.moved_reads.push_back({s.pre_residual, s.at});
      for (const AttendInput* c : {&s.q, &s.k, &s.v})
        if (c->src >= 0 && c->src < s.at) plan.moved_reads.push_back({c->src, s.at});
      plan.steps.push_back(std::move(s));
    } else if (!at(absorbed, i)) {
      plan.steps.push_back(step(FusedStep::Kind::Node, i, -1));
    }
  }
  return plan;
}

}  // namespace gemrt
