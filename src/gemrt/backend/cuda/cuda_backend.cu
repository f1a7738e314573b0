#include "gemrt/backend/cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "gemrt/backend/cuda/cuda_check.h"
#include "gemrt/backend/cuda/kernels.cuh"
#include "gemrt/backend/run_checks.h"
#include "gemrt/core/error.h"
#include "gemrt/graph/plan.h"

namespace gemrt::cuda {
namespace {

// Device memory owned by one object (cudaMalloc / cudaFree).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(int64_t bytes, const char* what) {
    if (bytes > 0) check(cudaMalloc(&ptr_, static_cast<size_t>(bytes)), what);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_) { o.ptr_ = nullptr; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(ptr_, o.ptr_);
    return *this;
  }
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }
  void* get() const { return ptr_; }

 private:
  void* ptr_ = nullptr;
};

// Weights on the device, shared by every graph of a backend that reads them (all graphs of a
// model reference the same mapped bytes): uploaded by the first executable that needs a tensor,
// freed when the last one holding it is destroyed. Keyed by host address and size, which are
// stable while any executable holds them (the model's mapping outlives its graphs); a later
// model mapped at the same address after all its graphs died gets a fresh upload.
class WeightStore {
 public:
  using Key = std::pair<const std::byte*, int64_t>;
  static Key key(const TensorView& w) { return {w.data, w.nbytes()}; }

  DeviceWeight acquire(const TensorView& w, cudaStream_t stream) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = weights_.find(key(w));
    if (it == weights_.end()) {
      if (!dtype_info(w.dtype).is_float)
        fail("cuda backend: weight ", w.name, " has dtype ", dtype_name(w.dtype), ", not a real-number format");
      DeviceBuffer buf(w.nbytes(), ("cudaMalloc for weight " + w.name).c_str());
      check(cudaMemcpyAsync(buf.get(), w.data, static_cast<size_t>(w.nbytes()), cudaMemcpyHostToDevice, stream),
            "copying a weight to the device");
      it = weights_.emplace(key(w), Entry{std::move(buf), 0}).first;
    }
    ++it->second.holders;
    DeviceWeight d;
    d.dtype = w.dtype;
    d.data = it->second.buffer.get();
    d.rows = w.shape.rank() >= 2 ? w.shape[0] : 1;
    d.cols = w.shape.rank() >= 2 ? w.shape.numel() / d.rows : w.shape.numel();
    d.row_bytes = dtype_bytes(w.dtype, d.cols);
    return d;
  }

  void release(const TensorView& w) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = weights_.find(key(w));
    if (it != weights_.end() && --it->second.holders == 0) weights_.erase(it);
  }

 private:
  struct Entry {
    DeviceBuffer buffer;
    int holders = 0;
  };
  std::mutex mu_;
  std::map<Key, Entry> weights_;
};

class CudaKvCache final : public KvCache {
 public:
  explicit CudaKvCache(const KvLayout& layout) : layout_(layout), next_(layout.slots.size(), 0) {
    if (layout.dtype != DType::F32 && layout.dtype != DType::F16 && layout.dtype != DType::BF16)
      fail("cuda backend: KV cache dtype ", dtype_name(layout.dtype), " is not supported (F32, F16 or BF16)");
    for (const KvSlotLayout& s : layout.slots) {
      const int64_t bytes = dtype_bytes(layout.dtype, int64_t{s.capacity} * s.row_width());
      k_.emplace_back(bytes, "cudaMalloc for the KV cache");
      v_.emplace_back(bytes, "cudaMalloc for the KV cache");
      bytes_ += 2 * bytes;
    }
  }
  const KvLayout& layout() const override { return layout_; }
  int64_t next_position(int slot) const override { return next_.at(static_cast<size_t>(slot)); }
  void reset() override { std::fill(next_.begin(), next_.end(), 0); }
  int64_t bytes() const override { return bytes_; }

  const KvSlotLayout& slot(int s) const {
    if (s < 0 || s >= static_cast<int>(layout_.slots.size()))
      fail("cuda backend: KV slot ", s, " does not exist (the cache has ", layout_.slots.size(), ")");
    return layout_.slots[static_cast<size_t>(s)];
  }
  void* keys(int s) { return k_[static_cast<size_t>(s)].get(); }
  void* values(int s) { return v_[static_cast<size_t>(s)].get(); }
  void set_next_position(int s, int64_t p) { next_[static_cast<size_t>(s)] = p; }

 private:
  KvLayout layout_;
  std::vector<DeviceBuffer> k_, v_;
  std::vector<int64_t> next_;
  int64_t bytes_ = 0;
};

class CudaExecutable final : public Executable {
 public:
  CudaExecutable(const Graph& g, std::shared_ptr<WeightStore> weights, cudaStream_t stream)
      : g_(g), plan_(plan_buffers(g)), weights_(std::move(weights)), stream_(stream),
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
    if (runs_ == 0 || !use_graphs_) {
      launch_all(cache);
    } else {
      if (!graph_ || graph_kv_ != cache) capture(cache);
      check(cudaGraphLaunch(graph_, stream_), "cudaGraphLaunch");
    }
    ++runs_;
    for (const auto& [slot, next] : advance_) cache->set_next_position(slot, next);

    if (outputs) {
      for (const auto& o : g_.outputs()) {
        const Node& n = g_.node(o.value);
        if (n.dtype != DType::F32) fail("cuda backend: output '", o.name, "' is not float32");
        auto& dst = (*outputs)[o.name];
        dst.resize(static_cast<size_t>(n.shape.numel()));
        check(cudaMemcpyAsync(dst.data(), f32(o.value), dst.size() * sizeof(float), cudaMemcpyDeviceToHost, stream_),
              "copying an output to the host");
      }
    }
    check(cudaStreamSynchronize(stream_), "running the graph");
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
    const std::span<const int32_t> values = graph_input(inputs, n);
    host_inputs_[static_cast<size_t>(i)] = values;
    check(cudaMemcpyAsync(i32(i), values.data(), values.size_bytes(), cudaMemcpyHostToDevice, stream_),
          "copying a graph input to the device");
  }

  // Host-side checks of one op; attention ops also record where their slot will continue.
  void check_op(const Node& n, CudaKvCache* cache, std::vector<std::pair<int, int64_t>>* advance) const {
    if (n.op == OpKind::Embed) {
      check_token_ids(g_.node(n.inputs[0]).weight, host_input(n.inputs[1]));
    } else if (n.op == OpKind::Attention) {
      if (!cache) fail("cuda backend: attention op '", n.name, "' needs a KV cache from the CUDA backend");
      const auto& a = std::get<AttentionAttrs>(n.attrs);
      const KvSlotLayout& slot = cache->slot(a.kv_slot);
      const auto positions = host_input(n.inputs[3]);
      check_attention_run(a, slot, cache->next_position(a.kv_slot), positions);
      if (!positions.empty()) advance->emplace_back(a.kv_slot, positions[0] + static_cast<int64_t>(positions.size()));
    }
  }

  // Scratch for split attention, sized by the KV slots' capacities (known once a cache is given);
  // allocated before any capture (no allocation inside a CUDA graph), which a reallocation voids.
  void reserve_partials(const CudaKvCache* cache) {
    if (!cache) return;
    int64_t floats = 0;
    for (const Node& n : g_.nodes())
      if (n.op == OpKind::Attention) {
        const auto& a = std::get<AttentionAttrs>(n.attrs);
        floats = std::max(floats, cuda::attention_partial_floats(n.shape[0], a, cache->slot(a.kv_slot).capacity));
      }
    if (floats > partial_floats_) {
      partial_ = DeviceBuffer(floats * 4, "cudaMalloc for attention partials");
      partial_floats_ = floats;
      if (graph_) {
        cudaGraphExecDestroy(graph_);
        graph_ = nullptr;
      }
    }
  }

  void launch_all(CudaKvCache* cache) {
    for (int i = 0; i < g_.size(); ++i) launch(i, g_.node(i), cache);
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
        cuda::embed(weight(in[0]), i32(in[1]), n.shape[0], std::get<EmbedAttrs>(n.attrs).scale, out, stream_);
        break;
      case OpKind::MatMul:
        cuda::matmul(f32(in[0]), n.shape[0], weight(in[1]), out, stream_);
        break;
      case OpKind::RmsNorm: {
        const auto& a = std::get<RmsNormAttrs>(n.attrs);
        cuda::rms_norm(f32(in[0]), numel, a.has_weight ? &weight(in[1]) : nullptr, a, out, stream_);
        break;
      }
      case OpKind::Rope: {
        const auto& a = std::get<RopeAttrs>(n.attrs);
        cuda::rope(f32(in[0]), i32(in[1]), n.shape[0], a.n_heads, a.head_dim,
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
      case OpKind::LastRow: {
        const Shape& s = g_.node(in[0]).shape;
        check(cudaMemcpyAsync(out, f32(in[0]) + (s[0] - 1) * s[1], static_cast<size_t>(s[1]) * sizeof(float),
                              cudaMemcpyDeviceToDevice, stream_),
              "last_row");
        break;
      }
      case OpKind::Input:
      case OpKind::Weight:
        break;
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
    cuda::to_kv_dtype(f32(n.inputs[1]), t * kv_w, dt, fk, stream_);
    cuda::to_kv_dtype(f32(n.inputs[2]), t * kv_w, dt, fv, stream_);
    KvView view;
    view.dtype = dt;
    view.fresh_k = fk;
    view.fresh_v = fv;
    view.ring_k = kv.keys(a.kv_slot);
    view.ring_v = kv.values(a.kv_slot);
    view.positions = i32(n.inputs[3]);
    view.cap = slot.capacity;
    view.kv_w = kv_w;
    cuda::attention(f32(n.inputs[0]), view, t, a, f32(i), static_cast<float*>(partial_.get()), stream_);
    cuda::append_kv(view, t, kv.keys(a.kv_slot), kv.values(a.kv_slot), stream_);
  }

  Graph g_;
  BufferPlan plan_;
  std::shared_ptr<WeightStore> weights_;
  cudaStream_t stream_;
  DeviceBuffer arena_;
  DeviceBuffer fresh_;  // this run's keys and values in the cache dtype (sized for float32)
  DeviceBuffer partial_;  // split attention's partial results
  int64_t partial_floats_ = 0;
  cudaGraphExec_t graph_ = nullptr;
  const CudaKvCache* graph_kv_ = nullptr;  // the cache the graph was captured with
  int64_t runs_ = 0;
  bool use_graphs_ = [] {
    const char* e = std::getenv("GEMRT_CUDA_GRAPHS");  // 0: launch kernels one by one (debugging)
    return !(e && std::string(e) == "0");
  }();
  std::vector<DeviceWeight> dev_weights_;
  std::map<ValueId, DeviceBuffer> rope_tables_;
  std::vector<std::span<const int32_t>> host_inputs_ = std::vector<std::span<const int32_t>>(static_cast<size_t>(g_.size()));  // by node
  std::vector<std::pair<int, int64_t>> advance_;  // (KV slot, next position) per attention op of this run
};

class CudaBackend final : public Backend {
 public:
  CudaBackend(int device, Numerics numerics) {
    if (numerics != Numerics::Precise)
      fail("the CUDA backend implements precise numerics only so far (float32 arithmetic); use --numerics precise");
    check(cudaSetDevice(device), "cudaSetDevice");
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    name_ = std::string("cuda:") + std::to_string(device) + " (" + prop.name + ")";
  }
  ~CudaBackend() override {
    weights_.reset();
    if (stream_) cudaStreamDestroy(stream_);
  }
  std::string name() const override { return name_; }
  std::unique_ptr<Executable> compile(const Graph& g) override {
    return std::make_unique<CudaExecutable>(g, weights_, stream_);
  }
  std::unique_ptr<KvCache> allocate_kv(const KvLayout& layout) override { return std::make_unique<CudaKvCache>(layout); }

 private:
  cudaStream_t stream_ = nullptr;
  std::string name_;
  std::shared_ptr<WeightStore> weights_ = std::make_shared<WeightStore>();
};

}  // namespace

bool device_available(std::string* why) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e == cudaSuccess && count > 0) return true;
  if (why) {
    if (e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice || (e == cudaSuccess && count == 0))
      *why = "no NVIDIA GPU with a CUDA driver on this machine";
    else
      *why = std::string("no usable CUDA device: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
  }
  return false;
}

std::unique_ptr<Backend> make_backend(int device, Numerics numerics) {
  std::string why;
  if (!device_available(&why)) fail("the CUDA backend is not available: ", why);
  return std::make_unique<CudaBackend>(device, numerics);
}

}  // namespace gemrt::cuda
