#include "gemrt/backend/cpu/cpu_backend.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "gemrt/backend/cpu/kernels.h"
#include "gemrt/backend/cpu/kv_cache.h"
#include "gemrt/backend/run_checks.h"
#include "gemrt/core/error.h"
#include "gemrt/graph/plan.h"

namespace gemrt::cpu {
namespace {

class CpuExecutable final : public Executable {
 public:
  CpuExecutable(const Graph& g, std::shared_ptr<ThreadPool> pool, Numerics numerics)
      : g_(g), plan_(plan_buffers(g)), pool_(std::move(pool)), numerics_(numerics) {
    arena_.resize(static_cast<size_t>(plan_.arena_bytes / 4 + 16));
  }

  int64_t arena_bytes() const override { return plan_.arena_bytes; }

  void run(const RunInputs& inputs, KvCache* kv, RunOutputs* outputs) override {
    for (int i = 0; i < g_.size(); ++i) {
      const Node& n = g_.node(i);
      if (n.op == OpKind::Weight) continue;
      if (n.op == OpKind::Input) {
        bind_input(i, n, inputs);
        continue;
      }
      if (const int last = run_row_products(i); last >= 0) {
        if (dump_dir_)
          for (int j = i; j <= last; ++j)
            if (g_.node(j).op == OpKind::MatMul) dump(g_.node(j), j);
        i = last;
        continue;
      }
      execute(i, n, kv);
      if (dump_dir_) dump(n, i);
    }
    ++runs_;
    if (outputs) {
      for (const auto& o : g_.outputs()) {
        const Node& n = g_.node(o.value);
        if (n.dtype != DType::F32) fail("cpu backend: output '", o.name, "' is not float32");
        const float* src = f32(o.value);
        (*outputs)[o.name].assign(src, src + n.shape.numel());
      }
    }
  }

 private:
  // GEMRT_DUMP_DIR (a debugging aid for parity work): every float32 node value of every run is
  // written raw to DIR/<run>-<node>.f32, with its shape in the name.
  void dump(const Node& n, ValueId i) {
    if (n.dtype != DType::F32) return;
    std::string path = std::string(dump_dir_) + "/" + std::to_string(runs_) + "-" + n.name;
    for (int64_t d : n.shape.dims()) path += "_" + std::to_string(d);
    path += ".f32";
    if (std::FILE* f = std::fopen(path.c_str(), "wb")) {
      std::fwrite(f32(i), sizeof(float), static_cast<size_t>(n.shape.numel()), f);
      std::fclose(f);
    }
  }

  std::byte* at(ValueId v) {
    return reinterpret_cast<std::byte*>(arena_.data()) + plan_.offset[static_cast<size_t>(v)];
  }
  float* f32(ValueId v) { return reinterpret_cast<float*>(at(v)); }
  int32_t* i32(ValueId v) { return reinterpret_cast<int32_t*>(at(v)); }
  const TensorView& weight(ValueId v) const {
    const Node& n = g_.node(v);
    if (n.op != OpKind::Weight) fail("cpu backend: node '", n.name, "' expects a weight input");
    return n.weight;
  }

  // Fast numerics, one activation row: node i and the MatMul nodes right after it (weights
  // between them aside) that read the same activation run as one parallel loop (q/k/v, gate/up;
  // matmul_fast_row). They are consecutive in run order, so the buffer plan keeps the activation
  // and every earlier output of the run live (graph/plan.h) and running them together is the
  // same as running them in turn. Returns the last node run, or -1 if node i was not run.
  int run_row_products(int i) {
    const Node& n = g_.node(i);
    if (numerics_ != Numerics::Fast || n.op != OpKind::MatMul || n.shape[0] != 1) return -1;
    row_weights_.clear();
    row_outs_.clear();
    int last = i;
    for (int j = i; j < g_.size(); ++j) {
      const Node& m = g_.node(j);
      if (m.op == OpKind::Weight) continue;
      if (m.op != OpKind::MatMul || m.inputs[0] != n.inputs[0] || m.shape[0] != 1) break;
      row_weights_.push_back(&weight(m.inputs[1]));
      row_outs_.push_back(f32(j));
      last = j;
    }
    if (row_weights_.size() < 2) return -1;
    return matmul_fast_row(f32(n.inputs[0]), row_weights_, row_outs_, *pool_, act_scratch_) ? last : -1;
  }

  void bind_input(ValueId i, const Node& n, const RunInputs& inputs) {
    const InputData values = graph_input(inputs, n);
    std::memcpy(at(i), values.data(), values.size_bytes());
  }

  void execute(ValueId i, const Node& n, KvCache* kv) {
    const auto& in = n.inputs;
    float* out = f32(i);
    const int64_t numel = n.shape.numel();
    switch (n.op) {
      case OpKind::Embed:
        embed(weight(in[0]), i32(in[1]), n.shape[0], std::get<EmbedAttrs>(n.attrs).scale,
              std::get<EmbedAttrs>(n.attrs).fallback_row, out, *pool_);
        break;
      case OpKind::MatMul:
        if (numerics_ == Numerics::Fast)
          matmul_fast(f32(in[0]), n.shape[0], weight(in[1]), out, *pool_, act_scratch_);
        else
          matmul(f32(in[0]), n.shape[0], weight(in[1]), out, *pool_);
        break;
      case OpKind::RmsNorm: {
        const auto& a = std::get<RmsNormAttrs>(n.attrs);
        rms_norm(f32(in[0]), numel, a.has_weight ? &weight(in[1]) : nullptr, a, out, *pool_);
        break;
      }
      case OpKind::Rope:
        rope(f32(in[0]), i32(in[1]), n.shape[0], std::get<RopeAttrs>(n.attrs), numerics_, out);
        break;
      case OpKind::Attention: {
        auto* cache = dynamic_cast<CpuKvCache*>(kv);
        if (!cache) fail("cpu backend: attention op '", n.name, "' needs a KV cache from the CPU backend");
        attention(f32(in[0]), f32(in[1]), f32(in[2]), i32(in[3]), in.size() > 4 ? i32(in[4]) : nullptr, n.shape[0],
                  std::get<AttentionAttrs>(n.attrs), *cache, numerics_, out, *pool_);
        break;
      }
      case OpKind::GatedAct:
        gated_act(f32(in[0]), f32(in[1]), numel, std::get<GatedActAttrs>(n.attrs).act, numerics_, out, *pool_);
        break;
      case OpKind::Add:
        add(f32(in[0]), f32(in[1]), numel, out);
        break;
      case OpKind::SoftCap:
        soft_cap(f32(in[0]), numel, std::get<SoftCapAttrs>(n.attrs).cap, out);
        break;
      case OpKind::LastRow: {
        const Shape& s = g_.node(in[0]).shape;
        std::memcpy(out, f32(in[0]) + (s[0] - 1) * s[1], static_cast<size_t>(s[1]) * sizeof(float));
        break;
      }
      case OpKind::TopK: {
        const Shape& s = g_.node(in[0]).shape;
        top_k(f32(in[0]), s[0], s[1], std::get<TopKAttrs>(n.attrs).k, out);
        break;
      }
      case OpKind::Scale:
        scale(f32(in[0]), numel, std::get<ScaleAttrs>(n.attrs).factor, out);
        break;
      case OpKind::MoE: {
        const auto& a = std::get<MoeAttrs>(n.attrs);
        moe(f32(in[0]), f32(in[1]), n.shape[0], weight(in[2]), weight(in[3]), weight(in[4]), a.top_k, a.act, numerics_,
            out, *pool_, act_scratch_);
        break;
      }
      case OpKind::SliceCols: {
        const auto& a = std::get<SliceColsAttrs>(n.attrs);
        slice_cols(f32(in[0]), n.shape[0], g_.node(in[0]).shape[1], a.offset, a.width, out);
        break;
      }
      case OpKind::Combine: {
        const auto& a = std::get<CombineAttrs>(n.attrs);
        combine_inputs_.clear();
        for (size_t j = 0; j < a.cols.size(); ++j) combine_inputs_.push_back(f32(in[j]));
        const bool coefs = in.size() > a.cols.size();
        combine(combine_inputs_, coefs ? f32(in.back()) : nullptr, n.shape[0], n.shape[1],
                coefs ? g_.node(in.back()).shape[1] : 0, a, out);
        break;
      }
      case OpKind::RmsRescale:
        rms_rescale(f32(in[0]), f32(in[1]), n.shape[0], n.shape[1], std::get<RmsRescaleAttrs>(n.attrs).eps, out);
        break;
      case OpKind::MulVec:
        mul_vec(f32(in[0]), n.shape[0], weight(in[1]), out);
        break;
      case OpKind::GaussianTopK:
        gaussian_top_k(f32(in[0]), n.shape[0], n.shape[1], std::get<GaussianTopKAttrs>(n.attrs).z, out, *pool_);
        break;
      case OpKind::LayerNorm:
        layer_norm(f32(in[0]), n.shape[0], weight(in[1]), weight(in[2]), std::get<LayerNormAttrs>(n.attrs).eps, out,
                   *pool_);
        break;
      case OpKind::AddVec:
        add_vec(f32(in[0]), n.shape[0], weight(in[1]), out);
        break;
      case OpKind::Act:
        act(f32(in[0]), numel, std::get<GatedActAttrs>(n.attrs).act, out);
        break;
      case OpKind::AvgPool: {
        const auto& a = std::get<AvgPoolAttrs>(n.attrs);
        avg_pool(f32(in[0]), a.rows, a.cols, a.kernel, n.shape[1], out);
        break;
      }
      case OpKind::Clamp: {
        const auto& a = std::get<ClampAttrs>(n.attrs);
        clamp(f32(in[0]), numel, a.lo, a.hi, out);
        break;
      }
      case OpKind::Reshape:
        std::memcpy(out, f32(in[0]), static_cast<size_t>(numel) * sizeof(float));
        break;
      case OpKind::Conv2d:
        conv2d(f32(in[0]), weight(in[1]), f32(in[2]), g_.node(in[0]).shape[1], std::get<Conv2dAttrs>(n.attrs), out,
               *pool_);
        break;
      case OpKind::DepthwiseConv1d:
        depthwise_conv1d(f32(in[0]), n.shape[0], weight(in[1]), out);
        break;
      case OpKind::LocalAttention:
        local_attention(f32(in[0]), f32(in[1]), f32(in[2]), weight(in[3]), f32(in[4]), n.shape[0],
                        std::get<LocalAttentionAttrs>(n.attrs), out);
        break;
      case OpKind::ReplaceRows:
        check_row_index(std::span<const int32_t>(i32(in[2]), static_cast<size_t>(n.shape[0])), g_.node(in[1]).shape[0],
                        n.name);
        replace_rows(f32(in[0]), f32(in[1]), i32(in[2]), n.shape[0], n.shape[1], out);
        break;
      case OpKind::Input:
      case OpKind::Weight:
        break;
    }
  }

  Graph g_;
  BufferPlan plan_;
  std::shared_ptr<ThreadPool> pool_;
  Numerics numerics_;
  std::vector<float> arena_;
  const char* dump_dir_ = std::getenv("GEMRT_DUMP_DIR");
  int runs_ = 0;
  std::vector<const TensorView*> row_weights_;  // run_row_products' operands, reused
  std::vector<float*> row_outs_;
  std::vector<const float*> combine_inputs_;  // Combine's input rows, reused
  std::vector<std::byte> act_scratch_;  // rounded activations of the fast matmul, reused  // float storage keeps every 64-byte-aligned offset 4-byte aligned
};

}  // namespace

CpuBackend::CpuBackend(int n_threads, Numerics numerics)
    : pool_(std::make_shared<ThreadPool>(n_threads)), numerics_(numerics) {}

std::unique_ptr<Executable> CpuBackend::compile(const Graph& g) {
  return std::make_unique<CpuExecutable>(g, pool_, numerics_);
}

std::unique_ptr<KvCache> CpuBackend::allocate_kv(const KvLayout& layout) { return std::make_unique<CpuKvCache>(layout); }

}  // namespace gemrt::cpu
