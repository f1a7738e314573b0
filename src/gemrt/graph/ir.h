// The graph IR: a list of nodes in topological order, each producing one value.
//
// Values are identified by the index of the node that produces them (ValueId). Activations are
// float32 row-major [rows, cols] tensors; `Input` nodes carry int32 data (token ids, positions)
// or float32 data (media: pixel patches, audio frames, embedding rows) supplied per run;
// `Weight` nodes reference a TensorView in its stored dtype, which
// the backend reads in place. Ops carry typed attributes (one struct per op kind).
//
// Shapes use the row convention of the decoder: activations are [T, width], where T is the
// number of tokens of this run; per-head tensors are [T, heads * head_dim].
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "gemrt/core/host_device.h"
#include "gemrt/core/tensor.h"

namespace gemrt {

using ValueId = int32_t;

enum class OpKind : uint8_t {
  Input,        // runtime int32 or float32 data, shape given at build time
  Weight,       // a stored tensor (any float dtype), read in place
  Embed,        // gather rows of a [V, D] table by int32 ids, times a scale -> [T, D]
  MatMul,       // x [T, K] @ W^T with W [N, K] (HF nn.Linear layout) -> [T, N]
  RmsNorm,      // RMSNorm over groups of `dim` values, optional weight with offset
  Rope,         // rotate-half RoPE on [T, heads * head_dim] at int32 positions [T] (or [T, axes]: axial)
  Attention,    // causal / sliding attention of q over (KV cache + this run's k, v), optional bidirectional blocks
  GatedAct,     // act(gate) * up, elementwise
  Add,          // a + b, elementwise
  SoftCap,      // cap * tanh(x / cap)
  LastRow,      // the last row of [T, D] -> [1, D]
  TopK,         // the k largest of each row of [T, D] -> [T, 2k]: values, then their indices
  Scale,        // x * factor, elementwise (a float32 constant)
  SliceCols,    // columns [offset, offset + width) of [T, D] -> [T, width]
  MoE,          // mixture of experts: x [T, H], router logits [T, E], stacked expert weights -> [T, H]
  Combine,      // per-row weighted sum of [T, D] inputs, weights from a coefficient matrix (AltUp)
  RmsRescale,   // x [T, D] rescaled per row to the root mean square of a reference [T, D]
  MulVec,       // x [T, D] * w [D] (a weight broadcast over rows)
  GaussianTopK, // max(0, x - (mean + z * std)) per row: Gemma 3n activation sparsity
  LayerNorm,    // (x - mean) / sqrt(var + eps) * w + b per row (torch LayerNorm)
  AddVec,       // x [T, D] + w [D] (a bias broadcast over rows)
  ReplaceRows,  // x [T, D] with row t replaced by rows[index[t]] where index[t] >= 0 (media splice)
  Act,          // act(x), elementwise (an encoder's ungated MLP)
  AvgPool,      // mean over k x k squares of a rows x cols grid of rows [rows*cols, D] -> [(rows/k)*(cols/k), D]
  Clamp,        // min(max(x, lo), hi), elementwise (Gemma 4's clippable linears)
  Conv2d,       // a 2-D convolution over a rows x cols grid of channel rows [rows*cols, Cin] (audio subsampling)
  DepthwiseConv1d,  // a causal per-channel convolution along the rows of [T, D] (audio conformer)
  LocalAttention,   // sliding-window self-attention with a relative-position term (audio conformer)
  Reshape,      // the same values in row-major order under another 2-D shape (a copy)
};

const char* op_name(OpKind k);

struct EmbedAttrs {
  float scale = 1.0f;  // multiplies every gathered row (Gemma: sqrt(hidden), rounded per spec §1.2)
  // -1: an id outside [0, V) is an error. Else such ids read this row instead (Gemma 3n's
  // per-layer embeddings of the multimodal ids beyond their table: row 0, spec §5.3 step 1).
  int64_t fallback_row = -1;
};

struct RmsNormAttrs {
  int64_t dim = 0;             // normalised group width (hidden size, or head_dim for q/k norms)
  float eps = 1e-6f;
  float weight_offset = 0.0f;  // y = x * rsqrt(mean(x^2) + eps) * (offset + w); 1 for Gemma 1-3
  bool has_weight = true;      // false: y = x * rsqrt(mean(x^2) + eps)
};

// A RoPE table that is geometric, inv_freq[i] = freq_scale / base^(2i / head_dim) (Gemma 1-3):
// recorded so fast numerics can form the angles as llama.cpp does. base == 0: not geometric.
struct GeometricRope {
  float base = 0.0f;
  float freq_scale = 1.0f;
};

struct RopeAttrs {
  int n_heads = 0;
  int head_dim = 0;
  // Per-pair inverse frequencies, head_dim / 2 entries (see rope.h). Pair i rotates elements
  // i and i + head_dim/2 of each head by angle position * inv_freq[i]; a zero entry is identity.
  std::vector<float> inv_freq;
  GeometricRope geometric;  // the same table described by its parameters, when it has them
  // Axial RoPE (Gemma 4's vision tower, spec §6.6): with axes = A > 1 the positions are int32
  // [T, A] and every head is cut into A equal sections of s = head_dim / A values, each rotated
  // rotate-half style on its own (pair j < s/2 of section a: elements a*s + j and a*s + j + s/2)
  // by angle positions[t, a] * inv_freq[a * s/2 + j]. axes = 1 is the plain RoPE above. An axial
  // table has no geometric description (geometric.base = 0).
  int axes = 1;
};

struct AttentionAttrs {
  int n_heads = 0;
  int n_kv_heads = 0;      // query head h reads kv head h / (n_heads / n_kv_heads)
  int head_dim = 0;
  float scale = 1.0f;      // scores = q.k * scale
  float softcap = 0.0f;    // 0 = none; else scores = softcap * tanh(scores / softcap), before the mask
  int window = 0;          // 0 = unbounded (causal); else key visible iff q_pos - k_pos < window
  int kv_slot = 0;         // which KvCache layer this op appends to and reads from
  // With a fifth input, blocks int32 [T, 2]: row t's bidirectional block [begin, end) in absolute
  // positions (begin == end: none). Key j is then also visible to query t when begin <= j < end
  // (transformers' blockwise overlay OR-ed onto the causal / sliding mask, spec §7.2: the tokens of
  // one image attend to each other). A block must contain its query and lie inside this run.
  // window_limits_blocks: the window then also bounds the block's earlier keys (Gemma 3's
  // AND(window, OR(causal, block)) for sliding layers; Gemma 4 unified ORs the block after the
  // window: false).
  bool window_limits_blocks = false;
  // Whether this op appends the run's k and v rows to the slot (and advances its position). KV
  // sharing (Gemma 3n / 4): several layers attend over one slot with the same k, v inputs; only
  // the last of them appends, so that every reader sees the slot as it was before the run (a
  // ring shorter than the run would otherwise lose rows an earlier query of the run still needs).
  bool append = true;
};

// Silu x * sigmoid(x), Relu max(x, 0), Sigmoid 1 / (1 + exp(-x)): Gemma 4's audio tower (its
// feed-forwards, GLU and conv stack); all in float32.
enum class Activation : uint8_t { GeluTanh, GeluErf, Silu, Relu, Sigmoid };
struct GatedActAttrs {
  Activation act = Activation::GeluTanh;
};

struct SoftCapAttrs {
  float cap = 0.0f;
};

// TopK: row r of the output holds the k largest values of row r in descending order (ties: the
// lower index first, as a stable sort; NaN ranks below every number), then their column indices
// as float32 integers (exact: rows are shorter than 2^24). What a sampler needs of a logits row
// without copying the whole row to the host.
struct TopKAttrs {
  int k = 0;
};

struct ScaleAttrs {
  float factor = 1.0f;
};

struct SliceColsAttrs {
  int64_t offset = 0, width = 0;
};

// MoE (Gemma 4 26B-A4B, spec §6.4): inputs x [T, H], logits [T, E], gate_up [E, 2I, H] (gate rows
// first), down [E, H, I], expert_scale [E] (F32). Per token: p = softmax(logits) in float32, the
// top_k largest (ties: the lower expert first), renormalised to sum 1 and times expert_scale;
// out = sum over the chosen experts, in ascending expert order, of
// w_e * down_e(act(gate_e x) * up_e x).
struct MoeAttrs {
  int top_k = 0;
  Activation act = Activation::GeluTanh;
};

// Combine (Gemma 3n AltUp predict / correct, spec §5.3 steps 6 and 12): inputs x_0 .. x_{n-1}
// [T, D], then coefs [T, C] when some cols[i] >= 0. Per row t, in float32 and input order:
//   out[t, :] = sum_i (bias[i] + (cols[i] >= 0 ? coefs[t, cols[i]] : 0)) * x_i[t, :]
struct CombineAttrs {
  std::vector<int> cols;
  std::vector<float> bias;
};

// RmsRescale (spec §5.3 steps 4 and 15): inputs x, ref [T, D]; per row
//   out = x * sqrt(mean(ref^2)) / sqrt(max(mean(x^2), eps))
struct RmsRescaleAttrs {
  float eps = 1e-5f;
};

// GaussianTopK (spec §5.3 step 11, P15): per row, out = max(0, x - (mean + std * z)) with the
// population standard deviation; z = Phi^-1(target sparsity).
struct GaussianTopKAttrs {
  float z = 0.0f;
};

// LayerNorm (spec §7.3): inputs x [T, D], weight [D], bias [D]; per row, with the population
// variance, out = (x - mean) / sqrt(var + eps) * weight + bias.
struct LayerNormAttrs {
  float eps = 1e-5f;  // torch.nn.LayerNorm's default
};

// AvgPool (Gemma 3's multimodal projector, spec §4.5; Gemma 4's vision pooler, §6.6): rows of
// x [rows * cols, D] are a rows x cols grid in row-major order; output row (i, j) of the
// (rows / kernel) x (cols / kernel) grid, row-major, is the mean of the kernel x kernel square at
// (i * kernel, j * kernel), summed in row-major order in float32 and divided by kernel^2 (torch's
// AvgPool2d).
struct AvgPoolAttrs {
  int rows = 0, cols = 0;
  int kernel = 1;
};

// Clamp (Gemma 4's Gemma4ClippableLinear, spec §6.6): out = min(max(x, lo), hi) elementwise in
// float32, as torch.clamp (a NaN stays NaN; lo = -inf or hi = +inf leaves that side open).
struct ClampAttrs {
  float lo = 0.0f, hi = 0.0f;
};

// Conv2d (Gemma 4's audio subsampling, spec §6.7; torch Conv2d without bias, channels last):
// inputs x [rows * cols, Cin] (row-major grid, y major), weight [Cout, Cin, kernel, kernel] (torch
// layout), row_mask float32 [rows] (1 keeps grid row r, 0 zeroes it before the convolution: HF
// multiplies the features by the frame mask). Output [orows * ocols, Cout] with
// orows = (rows + 2 pad - kernel) / stride + 1 (cols alike); out[(i, j), o] = sum over c, dy, dx of
// w[o, c, dy, dx] * x[(i stride + dy - pad, j stride + dx - pad), c], outside the grid 0; float32
// sums in (c, dy, dx) order.
struct Conv2dAttrs {
  int rows = 0, cols = 0;
  int kernel = 3, stride = 2, pad = 1;
  int out_rows() const { return (rows + 2 * pad - kernel) / stride + 1; }
  int out_cols() const { return (cols + 2 * pad - kernel) / stride + 1; }
};

// DepthwiseConv1d (Gemma4AudioCausalConv1d, groups = channels, no bias): x [T, D], weight
// [D, 1, K]; out[t, d] = sum_{k < K} w[d, 0, k] * x[t - (K - 1) + k, d], rows before 0 read 0
// (left padding K - 1), float32 sums in k order. No attributes.

// LocalAttention (Gemma4AudioAttention, spec §6.7): inputs q, k, v [T, H * D] (q already scaled
// per dim, k scaled), rel_k [P, H * D] (a weight: relative_k_proj of the sinusoidal position
// table, row p for context offset p), key_mask float32 [T] (1 valid). Query i sees key j iff
// key_mask[j] != 0 and (0 <= i - j < left or 0 < j - i < right). Its logit
//   s = q_i . k_j + (p < P ? q_i . rel_k[p] : 0),  p = max_past + j - i,
// then s = softcap tanh(s / softcap); masked keys take `invalid` (HF's
// attention_invalid_logits_value), and the softmax over the max_past + chunk + right context
// keys of the query's chunk (HF's blocked layout; the keys outside the sequence count as masked)
// weighs v. HF's chunked layout sees the same keys: every visible key lies in the chunk's context.
// A query with no visible key averages the v of its context (every logit `invalid`), as HF.
// eager_mask: transformers 5.17's eager attention instead, whose float mask is read inverted
// (Gemma4AudioModel's blocked mask pads a float 0 / min mask with False = 0, then masked_fill
// masks where it is 0): query i sees exactly the keys j of its chunk's context inside the
// sequence that the rule above hides. The sdpa / default path is the rule above. The
// relative term is then also read for p < 0 or p >= P: 0 there (HF's shift reads its zero
// padding when max_past + right + 2 >= P, which the builder checks).
struct LocalAttentionAttrs {
  int n_heads = 0, head_dim = 0;
  int chunk = 0;     // attention_chunk_size
  int max_past = 0;  // attention_context_left - 1: the context's keys before the chunk
  int left = 0;      // the sliding window's left extent (HF: attention_context_left - 1)
  int right = 0;     // attention_context_right
  float softcap = 0.0f;
  float invalid = -1e9f;
  bool eager_mask = false;

  // Whether query i of t sees key j (the rule above; key_mask[j] != 0: a valid frame). One
  // definition for the CPU and CUDA kernels.
  GEMRT_HOST_DEVICE bool sees(int64_t i, int64_t j, int64_t t, const float* key_mask) const {
    const bool inside = j >= 0 && j < t;
    const bool in_rule = inside && key_mask[j] != 0.0f && ((i - j >= 0 && i - j < left) || (j - i > 0 && j - i < right));
    return inside && (eager_mask ? !in_rule : in_rule);
  }
};

using OpAttrs = std::variant<std::monostate, EmbedAttrs, RmsNormAttrs, RopeAttrs, AttentionAttrs, GatedActAttrs,
                             SoftCapAttrs, TopKAttrs, ScaleAttrs, SliceColsAttrs, MoeAttrs, CombineAttrs,
                             RmsRescaleAttrs, GaussianTopKAttrs, LayerNormAttrs, AvgPoolAttrs, ClampAttrs,
                             Conv2dAttrs, LocalAttentionAttrs>;

struct Node {
  OpKind op = OpKind::Input;
  std::vector<ValueId> inputs;
  Shape shape;                 // output shape
  DType dtype = DType::F32;    // output dtype (I32 for Input, stored dtype for Weight)
  OpAttrs attrs;
  std::string name;            // Input: the run-time input name; Weight: tensor name; else a label
  TensorView weight;           // Weight nodes only
};

struct GraphOutput {
  std::string name;
  ValueId value;
};

class Graph {
 public:
  ValueId add(Node n);
  void mark_output(std::string name, ValueId v);

  const Node& node(ValueId v) const { return nodes_.at(static_cast<size_t>(v)); }
  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<GraphOutput>& outputs() const { return outputs_; }
  int size() const { return static_cast<int>(nodes_.size()); }

  // Whether `v` is produced by the backend at run time (not an Input or a Weight).
  bool is_activation(ValueId v) const;

  // One line per node, for debugging and `gemrt inspect`.
  std::string to_string() const;

 private:
  std::vector<Node> nodes_;
  std::vector<GraphOutput> outputs_;
};

}  // namespace gemrt
