// Kernel fusion for few-row runs (decode): which nodes of a graph a backend may run as one
// launch. Pure graph analysis; the CUDA backend acts on it (backend/cuda), where a decode step is
// bound by launch latency as much as by weight bytes (issue 5).
//
// Fusions, each applied only where the nodes' values have no other reader:
//   MatVec    one launch for every matrix-vector product (rows <= max_rows) that reads the same
//             activation with weights of one dtype (q, k, v; up to kMaxMatVecProducts, and of
//             several dtypes where the backend mixes them); an RMSNorm (one group per row) whose
//             only readers are such products is applied as the activation is loaded, and never
//             written; a gated activation act(x Wg^T) * (x Wu^T) becomes one product that writes
//             act(g) * u, the gate and up values never written.
//   NormAdd   a + rms_norm(b) (Gemma 2/3's post-norms before the residual add).
//   PreAdd    a NormAdd whose sum is normalised and multiplied next (the residual stream into the
//             next block's input norm) runs inside that MatVec: it writes the sum (still read
//             later as the residual) and takes it as its activation, one launch instead of two.
//   NormRope  rope(rms_norm(x)) over heads (Gemma 3's q/k norms); plain RoPE only (axes = 1).
//   Attend    a one-token attention with the chains that make its q, k and v: each of them is
//             src -> [rms_norm per head] -> [rope, not axial] (any link may be missing), the norms and
//             ropes read by nothing else. One launch normalises and rotates q and the new key,
//             rounds the new key and value to the cache, stores them and attends.
// A fused step runs at the place of its last node; the values it reads there are listed as moved
// reads for the buffer plan (graph/plan.h), so they stay live until then.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "gemrt/graph/ir.h"
#include "gemrt/graph/plan.h"

namespace gemrt {

// One input of an Attend step: value `src`, then the RMSNorm `norm` (one group per head) and the
// Rope `rope` applied in that order; -1 where the link is missing.
struct AttendInput {
  ValueId src = -1, norm = -1, rope = -1;
};

struct FusedStep {
  enum class Kind : uint8_t { Node, MatVec, NormAdd, NormRope, Attend };
  Kind kind = Kind::Node;
  ValueId at = -1;  // Node: the node. Otherwise the node at whose place the step runs
  // MatVec: the activation read (the absorbed norm's input when norm >= 0); the products it
  // writes (nodes of OpKind::MatMul), or, when gated >= 0, that GatedAct node written from
  // products[0] = gate and products[1] = up.
  ValueId x = -1;
  ValueId norm = -1;  // MatVec / NormAdd / NormRope: the RmsNorm applied (never written)
  std::vector<ValueId> products;
  ValueId gated = -1;
  ValueId residual = -1;  // NormAdd: the value added to the normalised one
  // MatVec with an absorbed NormAdd (pre_norm >= 0): x is that Add node, which this step writes
  // as pre_residual + rms_norm_{pre_norm}(pre_in) before applying `norm` to it.
  ValueId pre_norm = -1, pre_in = -1, pre_residual = -1;
  // Attend: `at` is the Attention node; its q, k and v as chains from their sources.
  AttendInput q, k, v;
};

struct FusionPlan {
  std::vector<FusedStep> steps;       // in run order; every node not absorbed appears once
  std::vector<MovedRead> moved_reads;
};

// The most products one MatVec step holds (the CUDA MatVecJob's weights); more products of one
// activation run as consecutive steps of at most this many.
inline constexpr int kMaxMatVecProducts = 3;

// `max_rows`: products with more rows (prefill) are left alone. 0 disables MatVec fusions.
// `attend` false leaves one-token attentions and their inputs' chains unfused (Attend).
// `mixable(dtype)`: weight dtypes for which the backend runs products of different dtypes in one
// MatVec step (all mixable dtypes group together); empty: one dtype per step.
FusionPlan plan_fusions(const Graph& g, int64_t max_rows, bool attend = true,
                        const std::function<bool(DType)>& mixable = {});

}  // namespace gemrt
