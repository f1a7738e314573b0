#include "gemrt/backend/cuda/executable.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gemrt/backend/cuda/blas_lt.h"
#include "gemrt/backend/cuda/cuda_check.h"
#include "gemrt/backend/cuda/decode_attention.cuh"
#include "gemrt/backend/cuda/env_switch.h"
#include "gemrt/backend/cuda/flash_attention.cuh"
#include "gemrt/backend/cuda/fused_kernels.cuh"
#include "gemrt/backend/cuda/kernels.cuh"
#include "gemrt/backend/cuda/kv_cache.h"
#include "gemrt/backend/cuda/quant_matvec.cuh"
#include "gemrt/backend/cuda/step_profile.h"
#include "gemrt/backend/cuda/step_timeline.h"
#include "gemrt/backend/run_checks.h"
#include "gemrt/core/error.h"
#include "gemrt/graph/fusion.h"
#include "gemrt/graph/plan.h"

namespace gemrt::cuda {
namespace {

// A step's part in handing int8 codes to the next product (CudaExecutable::plan_handoffs).
// (CudaExecutable::plan_handoffs.)
struct Handoff {
  int in = -1;          // codes buffer its product reads, written by the step before; -1: none
  int out = -1;         // codes buffer it writes for the next step; -1: none
  int round_next = -1;  // a one-weight product writing `out` by its last block: the next step
};

class CudaExecutable final : public Executable {
 public:
  CudaExecutable(const Graph& g, std::shared_ptr<WeightStore> weights, Numerics numerics, cudaStream_t stream)
      : g_(g), fusion_(fusion_plan(g, numerics)), plan_(plan_buffers(g, fusion_.moved_reads)),
        weights_(std::move(weights)), numerics_(numerics), stream_(stream),
        arena_(plan_.arena_bytes, "cudaMalloc for the activation arena") {
    // Weights and per-op constant tables go to the device at compile time, not per run.
    dev_weights_.resize(static_cast<size_t>(g_.size()));
    int acquired = 0;  // weights held so far, given back if the upload fails part way
    try {
      for (int i = 0; i < g_.size(); ++i) {
        const Node& n = g_.node(i);
        if (n.op == OpKind::Weight) {
          dev_weights_[static_cast<size_t>(i)] = weights_->acquire(n.weight, stream_);
          acquired = i + 1;
        }
        if (n.op == OpKind::Rope) {
          const auto& a = std::get<RopeAttrs>(n.attrs);
          DeviceBuffer b(static_cast<int64_t>(a.inv_freq.size() * sizeof(float)), "cudaMalloc for a RoPE table");
          check(cudaMemcpyAsync(b.get(), a.inv_freq.data(), a.inv_freq.size() * sizeof(float), cudaMemcpyHostToDevice,
                                stream_),
                "copying a RoPE table");
          rope_tables_.emplace(i, std::move(b));
        }
      }
      int64_t fresh_bytes = 0;  // both halves, float32 (the widest KV dtype)
      for (const Node& n : g_.nodes())
        if (n.op == OpKind::Attention) {
          const auto& a = std::get<AttentionAttrs>(n.attrs);
          fresh_bytes = std::max<int64_t>(fresh_bytes, 2 * n.shape[0] * a.n_kv_heads * a.head_dim * 4);
        }
      fresh_ = DeviceBuffer(fresh_bytes, "cudaMalloc for attention scratch");
      int64_t top_k_bytes = 0;
      for (const Node& n : g_.nodes())
        if (n.op == OpKind::TopK) {
          const Shape& s = g_.node(n.inputs[0]).shape;
          top_k_bytes = std::max(top_k_bytes, cuda::top_k_scratch_bytes(s[0], s[1], std::get<TopKAttrs>(n.attrs).k));
        }
      top_k_scratch_ = DeviceBuffer(top_k_bytes, "cudaMalloc for top-k candidates");
      int64_t moe_floats = 0;
      for (const Node& n : g_.nodes())
        if (n.op == OpKind::MoE)
          moe_floats = std::max(moe_floats, cuda::moe_scratch_floats(n.shape[0], std::get<MoeAttrs>(n.attrs).top_k,
                                                                      g_.node(n.inputs[2]).shape[1] / 2));
      moe_scratch_ = DeviceBuffer(moe_floats * 4, "cudaMalloc for MoE routing and expert activations");
      reserve_gemm_scratch();
      reserve_rounded_scratch();
      plan_handoffs();
      if (StepTimeline::enabled()) timeline_ = std::make_unique<StepTimeline>(fusion_.steps.size());
      check(cudaStreamSynchronize(stream_), "uploading weights");
    } catch (...) {
      cudaStreamSynchronize(stream_);
      for (int i = 0; i < acquired; ++i)
        if (g_.node(i).op == OpKind::Weight) weights_->release(g_.node(i).weight);
      throw;
    }
  }

  ~CudaExecutable() override {
    cudaStreamSynchronize(stream_);  // nothing of this graph may still be running when its buffers go
    if (profiler_) profiler_->report(str("graph of ", g_.size(), " nodes, ", fusion_.steps.size(), " steps"));
    if (timeline_) {
      std::vector<std::string> labels;
      for (const FusedStep& s : fusion_.steps) labels.push_back(launches_kernels(s) ? step_label(s) : std::string());
      timeline_->report(labels, str("graph of ", g_.size(), " nodes, ", fusion_.steps.size(), " steps"));
    }
    if (graph_) cudaGraphExecDestroy(graph_);
    for (const Node& n : g_.nodes())
      if (n.op == OpKind::Weight) weights_->release(n.weight);
  }
  CudaExecutable(const CudaExecutable&) = delete;
  CudaExecutable& operator=(const CudaExecutable&) = delete;

  int64_t arena_bytes() const override { return plan_.arena_bytes; }

  // 1. inputs to the device (kept on the host too, for the checks); 2. every op's host-side
  // checks, before anything runs; 3. the kernels: launched one by one on the first run, captured
  // into a CUDA graph on the second and replayed from then on (every address is fixed at compile
  // time and positions are read on the device, so one launch sequence serves every run; a new KV
  // cache means a new capture); 4. the KV slots advance; 5. outputs to the host.
  void run(const RunInputs& inputs, KvCache* kv, RunOutputs* outputs) override {
    for (int i = 0; i < g_.size(); ++i)
      if (g_.node(i).op == OpKind::Input) bind_input(i, g_.node(i), inputs);
    auto* cache = dynamic_cast<CudaKvCache*>(kv);
    advance_.clear();
    for (int i = 0; i < g_.size(); ++i) check_op(g_.node(i), cache, &advance_);

    reserve_partials(cache);
    if (profiler_) {
      profiler_->begin_run();
      launch_all(cache);
      profiler_->end_run(stream_);
    } else if (runs_ == 0 || !use_graphs_) {
      launch_all(cache);
    } else {
      if (!graph_ || graph_kv_ != cache) capture(cache);
      check(cudaGraphLaunch(graph_, stream_), "cudaGraphLaunch");
    }
    ++runs_;
    for (const auto& [slot, next] : advance_) cache->set_next_position(slot, next);

    // Outputs come back through pinned memory (a copy from pageable memory is staged and
    // synchronous in the driver, several times slower for the 1 MB of a decode step's logits).
    if (outputs && !pinned_) {
      int64_t floats = 0;
      for (const auto& o : g_.outputs()) floats += g_.node(o.value).shape.numel();
      void* p = nullptr;
      check(cudaMallocHost(&p, static_cast<size_t>(std::max<int64_t>(floats, 1)) * sizeof(float)),
            "cudaMallocHost for graph outputs");
      pinned_.reset(static_cast<float*>(p));
    }
    int64_t offset = 0;
    if (outputs) {
      for (const auto& o : g_.outputs()) {
        const Node& n = g_.node(o.value);
        if (n.dtype != DType::F32) fail("cuda backend: output '", o.name, "' is not float32");
        check(cudaMemcpyAsync(pinned_.get() + offset, f32(o.value), static_cast<size_t>(n.shape.numel()) * sizeof(float),
                              cudaMemcpyDeviceToHost, stream_),
              "copying an output to the host");
        offset += n.shape.numel();
      }
    }
    check(cudaStreamSynchronize(stream_), "running the graph");
    if (timeline_) timeline_->fetch(stream_);
    if (outputs) {
      offset = 0;
      for (const auto& o : g_.outputs()) {
        const int64_t numel = g_.node(o.value).shape.numel();
        (*outputs)[o.name].assign(pinned_.get() + offset, pinned_.get() + offset + numel);
        offset += numel;
      }
    }
  }

 private:
  std::byte* at(ValueId v) const {
    return static_cast<std::byte*>(arena_.get()) + plan_.offset[static_cast<size_t>(v)];
  }
  float* f32(ValueId v) const { return reinterpret_cast<float*>(at(v)); }
  int32_t* i32(ValueId v) const { return reinterpret_cast<int32_t*>(at(v)); }
  const DeviceWeight& weight(ValueId v) const {
    const Node& n = g_.node(v);
    if (n.op != OpKind::Weight) fail("cuda backend: node '", n.name, "' expects a weight input");
    return dev_weights_[static_cast<size_t>(v)];
  }
  // Run-time int32 inputs are also kept on the host: token ids are checked against the vocabulary
  // and positions against the KV cache before any kernel reads them.
  std::span<const int32_t> host_input(ValueId v) const {
    if (g_.node(v).op != OpKind::Input) fail("cuda backend: node '", g_.node(v).name, "' must be a graph input");
    return host_inputs_[static_cast<size_t>(v)];
  }

  void bind_input(ValueId i, const Node& n, const RunInputs& inputs) {
    const InputData values = graph_input(inputs, n);
    if (values.dtype() == DType::I32) host_inputs_[static_cast<size_t>(i)] = values.i32();
    check(cudaMemcpyAsync(at(i), values.data(), values.size_bytes(), cudaMemcpyHostToDevice, stream_),
          "copying a graph input to the device");
  }

  // Host-side checks of one op; attention ops also record where their slot will continue.
  void check_op(const Node& n, CudaKvCache* cache, std::vector<std::pair<int, int64_t>>* advance) const {
    if (n.op == OpKind::Embed) {
      if (std::get<EmbedAttrs>(n.attrs).fallback_row < 0)
        check_token_ids(g_.node(n.inputs[0]).weight, host_input(n.inputs[1]));
    } else if (n.op == OpKind::ReplaceRows) {
      check_row_index(host_input(n.inputs[2]), g_.node(n.inputs[1]).shape[0], n.name);
    } else if (n.op == OpKind::Attention) {
      if (!cache) fail("cuda backend: attention op '", n.name, "' needs a KV cache from the CUDA backend");
      const auto& a = std::get<AttentionAttrs>(n.attrs);
      const KvSlotLayout& slot = cache->slot(a.kv_slot);
      const auto positions = host_input(n.inputs[3]);
      check_attention_run(a, slot, cache->next_position(a.kv_slot), positions);
      if (n.inputs.size() > 4) check_attention_blocks(positions, host_input(n.inputs[4]));
      if (!positions.empty()) advance->emplace_back(a.kv_slot, positions[0] + static_cast<int64_t>(positions.size()));
    }
  }

  // Scratch for split attention, sized by the KV slots' capacities (known once a cache is given);
  // allocated before any capture (no allocation inside a CUDA graph), which a reallocation voids.
  void reserve_partials(const CudaKvCache* cache) {
    if (!cache) return;
    int64_t floats = 0, counters = 0;
    for (const FusedStep& s : fusion_.steps) {
      const Node& n = g_.node(s.at);
      if (n.op != OpKind::Attention) continue;
      const auto& a = std::get<AttentionAttrs>(n.attrs);
      const int64_t cap = cache->slot(a.kv_slot).capacity;
      if (s.kind == FusedStep::Kind::Attend) {
        floats = std::max(floats, cuda::decode_attention_partial_floats(a, cap));
        counters = std::max<int64_t>(counters, a.n_kv_heads);
      } else {
        floats = std::max(floats, cuda::attention_partial_floats(n.shape[0], a, cap));
      }
    }
    if (floats <= partial_floats_ && counters <= counter_count_) return;
    if (floats > partial_floats_) {
      partial_ = DeviceBuffer(floats * 4, "cudaMalloc for attention partials");
      partial_floats_ = floats;
    }
    if (counters > counter_count_) {
      // Zero once; every decode attention launch leaves them zero again.
      counters_ = DeviceBuffer(counters * 4, "cudaMalloc for attention split counters");
      check(cudaMemsetAsync(counters_.get(), 0, static_cast<size_t>(counters) * 4, stream_), "zeroing split counters");
      counter_count_ = counters;
    }
    if (graph_) {
      cudaGraphExecDestroy(graph_);
      graph_ = nullptr;
    }
  }

  // The fused steps of graph/fusion.h (GEMRT_CUDA_FUSION=0: every node alone, for debugging and
  // for measuring what fusion gains; GEMRT_CUDA_ATTEND=0: all but the one-token attention's).
  // Products of the K-quant formats share a step (quant_matvec.cuh mixes pairs of them in one
  // launch: Q4_K_M's q / k and v), except with GEMRT_CUDA_QGLOBAL=0 (session 14's way).
  static FusionPlan fusion_plan(const Graph& g, Numerics numerics) {
    const auto off = [](const char* name) { return env_is(name, "0"); };
    const auto mixable = [](DType t) { return t == DType::Q4_K || t == DType::Q5_K || t == DType::Q6_K; };
    if (!off("GEMRT_CUDA_FUSION"))
      return plan_fusions(g, cuda::kMatVecMaxRows, !off("GEMRT_CUDA_ATTEND"),
                          int8_on(numerics) && cuda::quant_round_once() ? std::function<bool(DType)>(mixable)
                                                                        : nullptr);
    FusionPlan p;
    p.steps.resize(static_cast<size_t>(g.size()));
    for (int i = 0; i < g.size(); ++i) p.steps[static_cast<size_t>(i)].at = i;
    return p;
  }

  // Whether a step launches anything (inputs and weights are in place before a run).
  bool launches_kernels(const FusedStep& s) const {
    const OpKind op = g_.node(s.at).op;
    return s.kind != FusedStep::Kind::Node || (op != OpKind::Input && op != OpKind::Weight);
  }

  // "q_proj+k_proj+v_proj matvec+norm", "attention", ... (layer prefixes dropped, so that the
  // profile sums a step over the layers).
  std::string step_label(const FusedStep& s) const {
    const auto bare = [&](ValueId v) {
      const std::string& name = g_.node(v).name;
      const size_t dot = name.find('.');
      return dot == std::string::npos ? name : name.substr(dot + 1);
    };
    const Node& n = g_.node(s.at);
    switch (s.kind) {
      case FusedStep::Kind::Node:
        if (n.op == OpKind::MatMul) return bare(s.at) + (uses_gemm(n) ? " gemm" : " matmul");
        return bare(s.at);
      case FusedStep::Kind::MatVec: {
        std::string label = s.pre_norm >= 0 ? bare(s.pre_norm) + "+add+" : "";
        for (ValueId m : s.products) {
          if (!label.empty() && label.back() != '+') label += '+';
          label += bare(m);
        }
        if (s.gated >= 0) label += "+act";
        label += " matvec";
        if (s.norm >= 0) label += "+norm";
        return label;
      }
      case FusedStep::Kind::NormAdd: return bare(s.norm) + "+add";
      case FusedStep::Kind::NormRope: return bare(s.norm) + "+rope";
      case FusedStep::Kind::Attend: return "qk_norm+rope+kv_store+attention";
    }
    return "?";
  }

  void launch_all(CudaKvCache* cache) {
    if (timeline_) timeline_->reset(stream_);
    for (size_t i = 0; i < fusion_.steps.size(); ++i) {
      const FusedStep& s = fusion_.steps[i];
      if (!skipped_.empty() && skipped_.count(step_label(s))) continue;
      const bool timed = profiler_ && launches_kernels(s);
      if (timed) profiler_->begin_step(stream_);
      launch_step(s, handoff_[i], timeline_ ? timeline_->slots(i) : nullptr, cache);
      if (timed) profiler_->end_step(step_label(s), stream_);
    }
  }

  // stamps: the step's 6 timeline slots (GEMRT_CUDA_TIMELINE), or null.
  void launch_step(const FusedStep& s, const Handoff& handoff, unsigned long long* stamps, CudaKvCache* cache) {
    switch (s.kind) {
      case FusedStep::Kind::Node: launch(s.at, g_.node(s.at), cache); break;
      case FusedStep::Kind::MatVec: launch_matvec(s, handoff, stamps); break;
      case FusedStep::Kind::NormAdd: {
        const Node& add = g_.node(s.at);
        const NormSpec norm = norm_spec(s.norm);
        cuda::norm_add(f32(s.x), f32(s.residual), add.shape[0], add.shape[1], norm, f32(s.at), stream_);
        break;
      }
      case FusedStep::Kind::NormRope: {
        const Node& rope = g_.node(s.at);
        const auto& a = std::get<RopeAttrs>(rope.attrs);
        const NormSpec norm = norm_spec(s.norm);
        cuda::norm_rope(f32(s.x), i32(rope.inputs[1]), rope.shape[0], a.n_heads, a.head_dim, norm,
                        static_cast<const float*>(rope_tables_.at(s.at).get()), f32(s.at), stream_);
        break;
      }
      case FusedStep::Kind::Attend: launch_attend(s, handoff, stamps, *cache); break;
    }
  }

  // The Attend step (one token): norms, ropes, the KV row store and the attention in one launch.
  void launch_attend(const FusedStep& s, const Handoff& handoff, unsigned long long* stamps, CudaKvCache& kv) {
    const Node& n = g_.node(s.at);
    const auto& a = std::get<AttentionAttrs>(n.attrs);
    const auto source = [&](const AttendInput& in) {
      AttendSource src;
      src.x = f32(in.src);
      src.normed = in.norm >= 0;
      if (src.normed) src.norm = norm_spec(in.norm);
      if (in.rope >= 0) src.inv_freq = static_cast<const float*>(rope_tables_.at(in.rope).get());
      return src;
    };
    DecodeAttentionJob job;
    job.q = source(s.q);
    job.k = source(s.k);
    job.v = source(s.v);
    job.positions = i32(n.inputs[3]);
    job.kv_dtype = kv.layout().dtype;
    job.ring_k = kv.keys(a.kv_slot);
    job.ring_v = kv.values(a.kv_slot);
    job.cap = kv.slot(a.kv_slot).capacity;
    job.kv_w = kv.slot(a.kv_slot).row_width();
    job.attrs = a;
    job.out = f32(s.at);
    if (handoff.out >= 0) job.codes_out = codes_[static_cast<size_t>(handoff.out)].get();
    if (stamps) job.stamps = stamps + 3;  // the main kernel's slots
    cuda::decode_attention(job, static_cast<float*>(partial_.get()), static_cast<int*>(counters_.get()), stream_);
  }

  NormSpec norm_spec(ValueId norm) const {
    const Node& n = g_.node(norm);
    const auto& a = std::get<RmsNormAttrs>(n.attrs);
    NormSpec spec;
    spec.eps = a.eps;
    spec.offset = a.weight_offset;
    if (a.has_weight) {
      const DeviceWeight& w = weight(n.inputs[1]);
      if (w.dtype != DType::F32 && w.dtype != DType::F16 && w.dtype != DType::BF16)
        fail("cuda backend: norm '", n.name, "' has a ", dtype_name(w.dtype), " gain (F32, F16 or BF16 expected)");
      spec.gain = w.data;
      spec.gain_dtype = w.dtype;
    }
    return spec;
  }

  // A MatVec step's job, pointing at *norm and *pre (filled here where the step has them).
  MatVecJob matvec_job(const FusedStep& s, NormSpec* norm, PreAdd* pre) const {
    MatVecJob job;
    job.x = f32(s.x);
    job.t = g_.node(s.products[0]).shape[0];
    job.k = g_.node(s.x).shape[1];
    if (s.norm >= 0) {
      *norm = norm_spec(s.norm);
      job.norm = norm;
    }
    if (s.pre_norm >= 0) {
      pre->in = f32(s.pre_in);
      pre->residual = f32(s.pre_residual);
      pre->norm = norm_spec(s.pre_norm);
      pre->sum = f32(s.x);
      job.pre = pre;
    }
    job.n_weights = static_cast<int>(s.products.size());
    for (int m = 0; m < job.n_weights; ++m) {
      job.w[m] = weight(g_.node(s.products[static_cast<size_t>(m)]).inputs[1]);
      job.out[m] = f32(s.products[static_cast<size_t>(m)]);
    }
    if (s.gated >= 0) {
      job.gated = true;
      job.act = std::get<GatedActAttrs>(g_.node(s.gated).attrs).act;
      job.out[0] = f32(s.gated);
    }
    job.int8_activation = int8_activations();
    job.rounded = rounded_.get();
    job.rounded_bytes = rounded_bytes_;
    return job;
  }

  void launch_matvec(const FusedStep& s, const Handoff& handoff, unsigned long long* stamps) {
    NormSpec norm, next_norm;
    PreAdd pre, next_pre;
    MatVecJob job = matvec_job(s, &norm, &pre);
    read_codes(job, handoff.in);
    if (handoff.round_next >= 0)
      round_next_into(job, fusion_.steps[static_cast<size_t>(handoff.round_next)], &next_norm, &next_pre, handoff.out);
    else if (handoff.out >= 0)
      job.codes_out = codes_[static_cast<size_t>(handoff.out)].get();
    job.stamps = stamps;
    cuda::matvec(job, stream_);
  }

  void capture(CudaKvCache* cache) {
    if (graph_) {
      cudaGraphExecDestroy(graph_);
      graph_ = nullptr;
    }
    check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    cudaGraph_t g = nullptr;
    try {
      launch_all(cache);
    } catch (...) {
      cudaStreamEndCapture(stream_, &g);
      if (g) cudaGraphDestroy(g);
      throw;
    }
    check(cudaStreamEndCapture(stream_, &g), "cudaStreamEndCapture");
    const cudaError_t e = cudaGraphInstantiate(&graph_, g, 0);
    cudaGraphDestroy(g);
    check(e, "cudaGraphInstantiate");
    graph_kv_ = cache;
  }

  void launch(ValueId i, const Node& n, CudaKvCache* cache) {
    const auto& in = n.inputs;
    float* out = f32(i);
    const int64_t numel = n.shape.numel();
    switch (n.op) {
      case OpKind::Embed:
        cuda::embed(weight(in[0]), i32(in[1]), n.shape[0], std::get<EmbedAttrs>(n.attrs).scale,
                    std::get<EmbedAttrs>(n.attrs).fallback_row, out, stream_);
        break;
      case OpKind::MatMul:
        if (uses_gemm(n)) gemm(f32(in[0]), n.shape[0], weight(in[1]), out);
        else
          cuda::matmul(f32(in[0]), n.shape[0], weight(in[1]), out, stream_, int8_activations(), rounded_.get(),
                       rounded_bytes_);
        break;
      case OpKind::RmsNorm: {
        const auto& a = std::get<RmsNormAttrs>(n.attrs);
        cuda::rms_norm(f32(in[0]), numel, a.has_weight ? &weight(in[1]) : nullptr, a, out, stream_);
        break;
      }
      case OpKind::Rope: {
        const auto& a = std::get<RopeAttrs>(n.attrs);
        cuda::rope(f32(in[0]), i32(in[1]), n.shape[0], a.n_heads, a.head_dim, a.axes,
                   static_cast<const float*>(rope_tables_.at(i).get()), out, stream_);
        break;
      }
      case OpKind::Attention:
        attention(i, n, *cache);
        break;
      case OpKind::GatedAct:
        cuda::gated_act(f32(in[0]), f32(in[1]), numel, std::get<GatedActAttrs>(n.attrs).act, out, stream_);
        break;
      case OpKind::Add:
        cuda::add(f32(in[0]), f32(in[1]), numel, out, stream_);
        break;
      case OpKind::SoftCap:
        cuda::soft_cap(f32(in[0]), numel, std::get<SoftCapAttrs>(n.attrs).cap, out, stream_);
        break;
      case OpKind::Scale:
        cuda::scale(f32(in[0]), numel, std::get<ScaleAttrs>(n.attrs).factor, out, stream_);
        break;
      case OpKind::MoE: {
        const auto& a = std::get<MoeAttrs>(n.attrs);
        const Shape& gu = g_.node(in[2]).shape;  // [E, 2I, H]
        cuda::moe(f32(in[0]), f32(in[1]), n.shape[0], weight(in[2]), weight(in[3]), weight(in[4]), gu[0], gu[1] / 2,
                  gu[2], a.top_k, a.act, static_cast<float*>(moe_scratch_.get()), out, stream_);
        break;
      }
      case OpKind::SliceCols: {
        const auto& a = std::get<SliceColsAttrs>(n.attrs);
        cuda::slice_cols(f32(in[0]), n.shape[0], g_.node(in[0]).shape[1], a.offset, a.width, out, stream_);
        break;
      }
      case OpKind::TopK: {
        const Shape& s = g_.node(in[0]).shape;
        cuda::top_k(f32(in[0]), s[0], s[1], std::get<TopKAttrs>(n.attrs).k, out, top_k_scratch_.get(), stream_);
        break;
      }
      case OpKind::LastRow: {
        const Shape& s = g_.node(in[0]).shape;
        check(cudaMemcpyAsync(out, f32(in[0]) + (s[0] - 1) * s[1], static_cast<size_t>(s[1]) * sizeof(float),
                              cudaMemcpyDeviceToDevice, stream_),
              "last_row");
        break;
      }
      case OpKind::Combine: {
        const auto& a = std::get<CombineAttrs>(n.attrs);
        const float* xs[cuda::kCombineMax] = {};
        if (a.cols.size() > static_cast<size_t>(cuda::kCombineMax))
          fail("cuda backend: combine '", n.name, "' has ", a.cols.size(), " inputs (at most ", cuda::kCombineMax, ")");
        for (size_t j = 0; j < a.cols.size(); ++j) xs[j] = f32(in[j]);
        const bool coefs = in.size() > a.cols.size();
        cuda::combine(xs, coefs ? f32(in.back()) : nullptr, n.shape[0], n.shape[1],
                      coefs ? g_.node(in.back()).shape[1] : 0, a, out, stream_);
        break;
      }
      case OpKind::RmsRescale:
        cuda::rms_rescale(f32(in[0]), f32(in[1]), n.shape[0], n.shape[1], std::get<RmsRescaleAttrs>(n.attrs).eps, out,
                          stream_);
        break;
      case OpKind::MulVec:
        cuda::mul_vec(f32(in[0]), n.shape[0], weight(in[1]), out, stream_);
        break;
      case OpKind::GaussianTopK:
        cuda::gaussian_top_k(f32(in[0]), n.shape[0], n.shape[1], std::get<GaussianTopKAttrs>(n.attrs).z, out, stream_);
        break;
      case OpKind::Act:
        cuda::act(f32(in[0]), numel, std::get<GatedActAttrs>(n.attrs).act, out, stream_);
        break;
      case OpKind::AvgPool: {
        const auto& a = std::get<AvgPoolAttrs>(n.attrs);
        cuda::avg_pool(f32(in[0]), a.rows, a.cols, a.kernel, n.shape[1], out, stream_);
        break;
      }
      case OpKind::Clamp: {
        const auto& a = std::get<ClampAttrs>(n.attrs);
        cuda::clamp(f32(in[0]), numel, a.lo, a.hi, out, stream_);
        break;
      }
      case OpKind::LayerNorm:
        cuda::layer_norm(f32(in[0]), n.shape[0], weight(in[1]), weight(in[2]), std::get<LayerNormAttrs>(n.attrs).eps,
                         out, stream_);
        break;
      case OpKind::AddVec:
        cuda::add_vec(f32(in[0]), n.shape[0], weight(in[1]), out, stream_);
        break;
      case OpKind::Reshape:
        check(cudaMemcpyAsync(out, f32(in[0]), static_cast<size_t>(numel) * sizeof(float), cudaMemcpyDeviceToDevice,
                              stream_),
              "reshape");
        break;
      case OpKind::Conv2d:
        cuda::conv2d(f32(in[0]), weight(in[1]), f32(in[2]), g_.node(in[0]).shape[1], n.shape[1],
                     std::get<Conv2dAttrs>(n.attrs), out, stream_);
        break;
      case OpKind::DepthwiseConv1d:
        cuda::depthwise_conv1d(f32(in[0]), n.shape[0], n.shape[1], g_.node(in[1]).shape[2], weight(in[1]), out, stream_);
        break;
      case OpKind::LocalAttention:
        cuda::local_attention(f32(in[0]), f32(in[1]), f32(in[2]), weight(in[3]), f32(in[4]), n.shape[0],
                              std::get<LocalAttentionAttrs>(n.attrs), out, stream_);
        break;
      case OpKind::ReplaceRows:
        cuda::replace_rows(f32(in[0]), f32(in[1]), i32(in[2]), n.shape[0], n.shape[1], out, stream_);
        break;
      case OpKind::Input:
      case OpKind::Weight:
        break;
    }
  }

  // Fast numerics' block-format decode products take int8 activations (quant_matvec.cuh);
  // GEMRT_CUDA_INT8=0 keeps them on float32 activations (to measure what the rounding gains).
  static bool int8_on(Numerics numerics) {
    static const bool off = env_is("GEMRT_CUDA_INT8", "0");
    return numerics == Numerics::Fast && !off;
  }
  bool int8_activations() const { return int8_on(numerics_); }

  // The int8 products' rounded activation: the widest of this graph's decode products.
  void reserve_rounded_scratch() {
    if (!int8_activations() || !cuda::quant_round_once()) return;
    int64_t bytes = 0;
    for (const Node& n : g_.nodes())
      if (n.op == OpKind::MatMul && n.shape[0] <= cuda::kMatVecMaxRows)
        bytes = std::max(bytes, cuda::quant_rounded_bytes(n.shape[0], g_.node(n.inputs[0]).shape[1]));
    if (bytes == 0) return;
    rounded_ = DeviceBuffer(bytes, "cudaMalloc for the rounded decode activation");
    rounded_bytes_ = bytes;
  }

  // Steps that hand their output to the next step's product as int8 codes (fast numerics, the
  // activation rounded once), so that product launches no rounding of its own:
  //   * a one-token attention (into o_proj) or a gated int8 product (into down_proj) whose output
  //     the next launching step multiplies as it is, no norm, no NormAdd: it writes its output's
  //     codes too (session 16; two launches fewer per layer);
  //   * with GEMRT_CUDA_ROUND_NEXT=1 (an experiment, off by default), a one-weight int8 product
  //     (o_proj, down_proj) whose output the next product takes through its NormAdd: the
  //     product's last block to finish runs that NormAdd and norm and rounds (quant_matvec.cuh,
  //     next_codes; the other two launches).
  // Links alternate between two buffers (codes_[0], codes_[1]), so a step that reads codes writes
  // the next ones elsewhere; each link's codes are read by the next launching step before the
  // link after next writes that buffer again. GEMRT_CUDA_HANDOFF=0: none (measuring what it gains).
  void plan_handoffs() {
    handoff_.assign(fusion_.steps.size(), Handoff{});
    if (!rounded_.get() || env_is("GEMRT_CUDA_HANDOFF", "0")) return;
    const bool round_next = env_is("GEMRT_CUDA_ROUND_NEXT", "1");
    // Sized as the rounded activation (the widest decode product), so every check below sees the
    // buffers it will run with.
    for (DeviceBuffer& b : codes_) b = DeviceBuffer(rounded_bytes_, "cudaMalloc for the int8 codes handed between decode steps");
    if (round_next) {
      counter_ = DeviceBuffer(sizeof(int), "cudaMalloc for the last-block counter");
      check(cudaMemsetAsync(counter_.get(), 0, sizeof(int), stream_), "zeroing the last-block counter");
    }
    int buffer = 0;
    for (size_t i = 0; i < fusion_.steps.size(); ++i) {
      const FusedStep& from = fusion_.steps[i];
      size_t j = i + 1;
      while (j < fusion_.steps.size() && !launches_kernels(fusion_.steps[j])) ++j;
      if (j == fusion_.steps.size()) break;
      const FusedStep& to = fusion_.steps[j];
      if (to.kind != FusedStep::Kind::MatVec) continue;
      const bool attend = from.kind == FusedStep::Kind::Attend;
      const bool gated = from.kind == FusedStep::Kind::MatVec && from.gated >= 0;
      const bool plain = from.kind == FusedStep::Kind::MatVec && from.gated < 0 && from.products.size() == 1;
      const bool as_is = (attend || gated) && to.norm < 0 && to.pre_norm < 0 && to.gated < 0 &&
                         to.x == (attend ? from.at : from.gated);
      const bool through_norm = round_next && plain && to.pre_norm >= 0 && to.pre_in == from.products[0];
      if (!as_is && !through_norm) continue;
      const int out = handoff_[i].in == buffer ? 1 - buffer : buffer;
      NormSpec norm, next_norm;
      PreAdd pre, next_pre;
      MatVecJob next = matvec_job(to, &next_norm, &next_pre);
      read_codes(next, out);
      if (!next.int8_activation || !cuda::quant_matvec_supports(next)) continue;
      if (attend && !cuda::decode_attention_hands_on_codes(std::get<AttentionAttrs>(g_.node(from.at).attrs))) continue;
      MatVecJob job;  // the producer's, as launch_matvec will run it
      if (!attend) {
        job = matvec_job(from, &norm, &pre);
        read_codes(job, handoff_[i].in);
      }
      if (gated && !cuda::quant_matvec_hands_on_codes(job)) continue;
      if (through_norm) {
        round_next_into(job, to, &next_norm, &next_pre, out);
        if (!cuda::quant_matvec_rounds_next(job)) continue;
        handoff_[i].round_next = static_cast<int>(j);
      }
      handoff_[i].out = out;
      handoff_[j].in = out;
      buffer = 1 - out;
    }
  }

  // Points `job` at codes_[in], written by the step before (Handoff::in; none for -1).
  void read_codes(MatVecJob& job, int in) const {
    if (in < 0) return;
    job.rounded = codes_[static_cast<size_t>(in)].get();
    job.rounded_ready = true;
  }

  // Points `job` (a one-weight product) at the next step's NormAdd and norm (filled into *norm and
  // *pre) and at codes_[out], for its last block to round them (plan_handoffs).
  void round_next_into(MatVecJob& job, const FusedStep& next, NormSpec* norm, PreAdd* pre, int out) const {
    MatVecJob n = matvec_job(next, norm, pre);
    job.next_pre = n.pre;
    job.next_norm = n.norm;
    job.next_codes = codes_[static_cast<size_t>(out)].get();
    job.next_counter = static_cast<int*>(counter_.get());
  }

  // Fast numerics run products of more than a few rows on tensor cores (cuBLASLt, bf16 inputs,
  // float32 sums); fewer rows (decode) stay on the matrix-vector kernels, which read the stored
  // weights once and are bound by that read.
  bool uses_gemm(const Node& n) const { return numerics_ == Numerics::Fast && n.shape[0] > cuda::kMatVecMaxRows; }

  // Rows of a weight that is not bfloat16 are converted in chunks of about kDequantChunkBytes, a
  // multiple of kChunkRowAlign rows: each chunk's product writes its columns of the output at
  // out + r0, and an odd r0 (8738 rows of a 12B-shaped weight before) gives cuBLASLt an output
  // pointer that is only 8-byte aligned and a width that is no multiple of 8, which rules out its
  // kernels that need 16-byte alignment (the suspected cause of a 12B Q4_K_M / F16 prefill at
  // 0.62x / 0.64x the bf16 one, where 4B matrices fit one chunk; bench/RESULTS.md, session 14).
  int64_t dequant_chunk_rows(const DeviceWeight& w) const {
    const int64_t fit = kDequantChunkBytes / std::max<int64_t>(1, 2 * w.cols);
    const int64_t aligned = std::max(kChunkRowAlign, fit / kChunkRowAlign * kChunkRowAlign);
    return std::clamp<int64_t>(aligned, 1, w.rows);
  }

  void reserve_gemm_scratch() {
    int64_t act = 0, deq = 0;
    bool any = false;
    for (const Node& n : g_.nodes()) {
      if (n.op != OpKind::MatMul || !uses_gemm(n)) continue;
      any = true;
      const DeviceWeight& w = weight(n.inputs[1]);
      act = std::max(act, 2 * n.shape[0] * w.cols);
      if (w.dtype != DType::BF16) deq = std::max(deq, 2 * dequant_chunk_rows(w) * w.cols);
    }
    if (!any) return;
    act16_ = DeviceBuffer(act, "cudaMalloc for bfloat16 activations");
    dequant_ = DeviceBuffer(deq, "cudaMalloc for bfloat16 weight rows");
    workspace_ = DeviceBuffer(static_cast<int64_t>(cuda::kBlasWorkspaceBytes), "cudaMalloc for the cuBLASLt workspace");
  }

  // out [t, n] = x [t, k] @ w^T with x and w rounded to bfloat16; w converted chunk by chunk
  // unless it is stored as bfloat16 already (packed formats stay packed in memory).
  void gemm(const float* x, int64_t t, const DeviceWeight& w, float* out) {
    cuda::cast_f32(x, t * w.cols, DType::BF16, act16_.get(), stream_);
    if (w.dtype == DType::BF16) {
      cuda::gemm_half(DType::BF16, act16_.get(), w.data, t, w.rows, w.cols, w.cols, out, w.rows, workspace_.get(),
                      stream_);
      return;
    }
    const int64_t chunk = dequant_chunk_rows(w);
    for (int64_t r0 = 0; r0 < w.rows; r0 += chunk) {
      const int64_t rows = std::min(chunk, w.rows - r0);
      cuda::weight_rows_to_bf16(w, r0, rows, dequant_.get(), stream_);
      cuda::gemm_half(DType::BF16, act16_.get(), dequant_.get(), t, rows, w.cols, w.cols, out + r0, w.rows,
                      workspace_.get(), stream_);
    }
  }

  // The CPU backend's ring discipline (backend/cpu/attention.cpp): this run's keys and values are
  // rounded to the cache dtype, attended to, then appended. Checked beforehand by check_op.
  void attention(ValueId i, const Node& n, CudaKvCache& kv) {
    const auto& a = std::get<AttentionAttrs>(n.attrs);
    const KvSlotLayout& slot = kv.slot(a.kv_slot);
    const int64_t t = n.shape[0];
    if (t == 0) return;
    const int64_t kv_w = slot.row_width();
    const DType dt = kv.layout().dtype;
    std::byte* fk = static_cast<std::byte*>(fresh_.get());
    std::byte* fv = fk + dtype_bytes(dt, t * kv_w);
    KvView view;
    view.dtype = dt;
    view.fresh_k = fk;
    view.fresh_v = fv;
    view.ring_k = kv.keys(a.kv_slot);
    view.ring_v = kv.values(a.kv_slot);
    view.positions = i32(n.inputs[3]);
    if (n.inputs.size() > 4) view.blocks = i32(n.inputs[4]);
    view.cap = slot.capacity;
    view.kv_w = kv_w;
    if (t == 1) {
      // One token: its row goes to the ring first (it overwrites position p - cap, which no query
      // of this run sees: a sliding ring holds the window, a global one the whole budget), and
      // the attention reads every key from the ring. One launch instead of three. Every reader of
      // a shared slot (AttentionAttrs::append) stores the same row: harmless, and no reader can
      // see the slot without it.
      view.ring_only = true;
      cuda::store_kv_row(f32(n.inputs[1]), f32(n.inputs[2]), view, kv.keys(a.kv_slot), kv.values(a.kv_slot), stream_);
      cuda::attention(f32(n.inputs[0]), view, t, a, f32(i), static_cast<float*>(partial_.get()), stream_);
      return;
    }
    cuda::cast_f32(f32(n.inputs[1]), t * kv_w, dt, fk, stream_);
    cuda::cast_f32(f32(n.inputs[2]), t * kv_w, dt, fv, stream_);
    if (numerics_ == Numerics::Fast && cuda::flash_attention_supports(a, dt))
      cuda::flash_attention(f32(n.inputs[0]), view, t, a, f32(i), stream_);  // tensor cores (bf16 mode)
    else
      cuda::attention(f32(n.inputs[0]), view, t, a, f32(i), static_cast<float*>(partial_.get()), stream_);
    if (a.append) cuda::append_kv(view, t, kv.keys(a.kv_slot), kv.values(a.kv_slot), stream_);
  }

  static constexpr int64_t kDequantChunkBytes = int64_t{64} << 20;
  static constexpr int64_t kChunkRowAlign = 256;

  Graph g_;
  FusionPlan fusion_;
  BufferPlan plan_;
  std::shared_ptr<WeightStore> weights_;
  Numerics numerics_;
  cudaStream_t stream_;
  DeviceBuffer arena_;
  DeviceBuffer fresh_;  // this run's keys and values in the cache dtype (sized for float32)
  DeviceBuffer top_k_scratch_;  // candidates between top-k passes
  DeviceBuffer moe_scratch_;    // MoE routing and the chosen experts' gated activations
  DeviceBuffer partial_;  // split attention's partial results
  DeviceBuffer counters_;  // the decode attention's arrival counter per KV head
  int64_t counter_count_ = 0;
  DeviceBuffer act16_, dequant_, workspace_;  // fast numerics' tensor-core products
  DeviceBuffer rounded_;  // the int8 decode products' rounded activation (reserve_rounded_scratch)
  int64_t rounded_bytes_ = 0;
  DeviceBuffer codes_[2];        // int8 codes one step hands to the next (plan_handoffs), rounded_bytes_ each
  DeviceBuffer counter_;         // the last-block counter of GEMRT_CUDA_ROUND_NEXT's products (zero between launches)
  std::vector<Handoff> handoff_;  // per step of fusion_
  struct PinnedFree {
    void operator()(float* p) const { cudaFreeHost(p); }
  };
  std::unique_ptr<float, PinnedFree> pinned_;  // the outputs on their way to the host
  int64_t partial_floats_ = 0;
  cudaGraphExec_t graph_ = nullptr;
  const CudaKvCache* graph_kv_ = nullptr;  // the cache the graph was captured with
  int64_t runs_ = 0;
  std::unique_ptr<StepProfiler> profiler_ = StepProfiler::enabled() ? std::make_unique<StepProfiler>() : nullptr;
  std::unique_ptr<StepTimeline> timeline_;  // GEMRT_CUDA_TIMELINE=1 (step_timeline.h)
  bool use_graphs_ = !env_is("GEMRT_CUDA_GRAPHS", "0");  // 0: launch kernels one by one (debugging)
  // GEMRT_CUDA_SKIP=label,label,...: steps of these kinds (step_label, as GEMRT_CUDA_PROFILE
  // prints them) are left out of every run. A measuring aid only, its outputs are meaningless:
  // a timed run without a step kind against one with it gives what that kind costs inside the
  // captured graph, gaps included (bench/skip_costs_on_device.sh).
  std::set<std::string> skipped_ = [] {
    std::set<std::string> labels;
    const char* e = std::getenv("GEMRT_CUDA_SKIP");
    for (std::string rest = e ? e : ""; !rest.empty();) {
      const size_t comma = rest.find(',');
      if (comma != 0) labels.insert(rest.substr(0, comma));
      rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
    }
    return labels;
  }();
  std::vector<DeviceWeight> dev_weights_;
  std::map<ValueId, DeviceBuffer> rope_tables_;
  std::vector<std::span<const int32_t>> host_inputs_ = std::vector<std::span<const int32_t>>(static_cast<size_t>(g_.size()));  // by node
  std::vector<std::pair<int, int64_t>> advance_;  // (KV slot, next position) per attention op of this run
};

}  // namespace

std::unique_ptr<Executable> make_executable(const Graph& g, std::shared_ptr<WeightStore> weights, Numerics numerics,
                                            cudaStream_t stream) {
  return std::make_unique<CudaExecutable>(g, std::move(weights), numerics, stream);
}

}  // namespace gemrt::cuda
