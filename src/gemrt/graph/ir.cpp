#include "gemrt/graph/ir.h"

#include "gemrt/core/error.h"

namespace gemrt {

const char* op_name(OpKind k) {
  switch (k) {
    case OpKind::Input: return "input";
    case OpKind::Weight: return "weight";
    case OpKind::Embed: return "embed";
    case OpKind::MatMul: return "matmul";
    case OpKind::RmsNorm: return "rms_norm";
    case OpKind::Rope: return "rope";
    case OpKind::Attention: return "attention";
    case OpKind::GatedAct: return "gated_act";
    case OpKind::Add: return "add";
    case OpKind::SoftCap: return "soft_cap";
    case OpKind::LastRow: return "last_row";
    case OpKind::TopK: return "top_k";
    case OpKind::Scale: return "scale";
    case OpKind::SliceCols: return "slice_cols";
    case OpKind::MoE: return "moe";
    case OpKind::Combine: return "combine";
    case OpKind::RmsRescale: return "rms_rescale";
    case OpKind::MulVec: return "mul_vec";
    case OpKind::GaussianTopK: return "gaussian_top_k";
    case OpKind::LayerNorm: return "layer_norm";
    case OpKind::AddVec: return "add_vec";
    case OpKind::ReplaceRows: return "replace_rows";
    case OpKind::Act: return "act";
    case OpKind::AvgPool: return "avg_pool";
    case OpKind::Clamp: return "clamp";
    case OpKind::Conv2d: return "conv2d";
    case OpKind::DepthwiseConv1d: return "depthwise_conv1d";
    case OpKind::LocalAttention: return "local_attention";
    case OpKind::Reshape: return "reshape";
  }
  return "?";
}

ValueId Graph::add(Node n) {
  for (ValueId in : n.inputs)
    if (in < 0 || in >= size()) fail("graph: node '", n.name, "' uses value ", in, " that is not defined yet");
  nodes_.push_back(std::move(n));
  return static_cast<ValueId>(nodes_.size() - 1);
}

void Graph::mark_output(std::string name, ValueId v) {
  if (v < 0 || v >= size()) fail("graph: output '", name, "' refers to undefined value ", v);
  outputs_.push_back({std::move(name), v});
}

bool Graph::is_activation(ValueId v) const {
  const OpKind k = node(v).op;
  return k != OpKind::Input && k != OpKind::Weight;
}

std::string Graph::to_string() const {
  std::string s;
  for (int i = 0; i < size(); ++i) {
    const Node& n = nodes_[static_cast<size_t>(i)];
    s += str("%", i, " = ", op_name(n.op), "(");
    for (size_t j = 0; j < n.inputs.size(); ++j) s += str(j ? ", %" : "%", n.inputs[j]);
    s += str(") ", dtype_name(n.dtype), n.shape.to_string(), "  ", n.name, "\n");
  }
  for (const auto& o : outputs_) s += str("output ", o.name, " = %", o.value, "\n");
  return s;
}

}  // namespace gemrt
