#include "gemrt/backend/cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
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
    bytes_ = bytes;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) { o.ptr_ = nullptr; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }
  void* get() const { return ptr_; }
  int64_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  int64_t bytes_ = 0;
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
    for (const Node& n : g_.nodes())
      if (n.op == OpKind::Weight) weights_->release(n.weight);
  }
  CudaExecutable(const CudaExecutable&) = delete;
  CudaExecutable& operator=(const CudaExecutable&) = delete;

  int64_t arena_bytes() const override { return plan_.arena_bytes; }

  void run(const RunInputs& inputs, KvCache* kv, RunOutputs* outputs) override {
    host_inputs_.clear();
    for (int i = 0; i < g_.size(); ++i) {
      const Node& n = g_.node(i);
      if (n.op == OpKind::Weight) continue;
      if (n.op == OpKind::Input) {
        bind_input(i, n, inputs);
        continue;
      }
      execute(i, n, kv);
    }
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
    auto it = host_inputs_.find(v);
    if (it == host_inputs_.end()) fail("cuda backend: node '", g_.node(v).name, "' must be a graph input");
    return it->second;
  }

  void bind_input(ValueId i, const Node& n, const RunInputs& inputs) {
    const std::span<const int32_t> values = graph_input(inputs, n);
    host_inputs_[i] = values;
    check(cudaMemcpyAsync(i32(i), values.data(), values.size_bytes(), cudaMemcpyHostToDevice, stream_),
          "copying a graph input to the device");
  }

  void execute(ValueId i, const Node& n, KvCache* kv) {
    const auto& in = n.inputs;
    float* out = f32(i);
    const int64_t numel = n.shape.numel();
    switch (n.op) {
      case OpKind::Embed: {
        const DeviceWeight& table = weight(in[0]);
        const auto ids = host_input(in[1]);
        for (size_t r = 0; r < ids.size(); ++r)
          if (ids[r] < 0 || ids[r] >= table.rows)
            fail("token id ", ids[r], " at position ", r, " is outside the vocabulary [0, ", table.rows, ") of ",
                 g_.node(in[0]).name);
        cuda::embed(table, i32(in[1]), n.shape[0], std::get<EmbedAttrs>(n.attrs).scale, out, stream_);
        break;
      }
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
        attention(i, n, kv);
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

  // The same checks and ring discipline as the CPU backend (backend/cpu/attention.cpp): this
  // run's keys and values are rounded to the cache dtype, attended to, then appended.
  void attention(ValueId i, const Node& n, KvCache* kv_base) {
    auto* kv = dynamic_cast<CudaKvCache*>(kv_base);
    if (!kv) fail("cuda backend: attention op '", n.name, "' needs a KV cache from the CUDA backend");
    const auto& a = std::get<AttentionAttrs>(n.attrs);
    const KvSlotLayout& slot = kv->slot(a.kv_slot);
    const auto positions = host_input(n.inputs[3]);
    check_attention_run(a, slot, kv->next_position(a.kv_slot), positions);
    const int64_t t = n.shape[0];
    if (t == 0) return;
    const int64_t cap = slot.capacity;
    const int64_t p0 = positions[0];

    const int64_t kv_w = slot.row_width();
    const int64_t fresh_bytes = dtype_bytes(kv->layout().dtype, t * kv_w);
    if (fresh_.bytes() < 2 * fresh_bytes) fresh_ = DeviceBuffer(2 * fresh_bytes, "cudaMalloc for attention scratch");
    std::byte* fk = static_cast<std::byte*>(fresh_.get());
    std::byte* fv = fk + fresh_bytes;
    cuda::to_kv_dtype(f32(n.inputs[1]), t * kv_w, kv->layout().dtype, fk, stream_);
    cuda::to_kv_dtype(f32(n.inputs[2]), t * kv_w, kv->layout().dtype, fv, stream_);
    KvView view;
    view.dtype = kv->layout().dtype;
    view.fresh_k = fk;
    view.fresh_v = fv;
    view.ring_k = kv->keys(a.kv_slot);
    view.ring_v = kv->values(a.kv_slot);
    view.p0 = p0;
    view.cap = cap;
    view.kv_w = kv_w;
    cuda::attention(f32(n.inputs[0]), view, t, a, f32(i), stream_);
    cuda::append_kv(view, t, kv->keys(a.kv_slot), kv->values(a.kv_slot), stream_);
    kv->set_next_position(a.kv_slot, p0 + t);
  }

  Graph g_;
  BufferPlan plan_;
  std::shared_ptr<WeightStore> weights_;
  cudaStream_t stream_;
  DeviceBuffer arena_;
  DeviceBuffer fresh_;  // this run's keys and values in the cache dtype (grown as needed)
  std::vector<DeviceWeight> dev_weights_;
  std::map<ValueId, DeviceBuffer> rope_tables_;
  std::map<ValueId, std::span<const int32_t>> host_inputs_;
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
