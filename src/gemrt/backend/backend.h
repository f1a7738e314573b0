// The backend interface: compile a Graph once, run it many times.
//
// A backend never knows which model it runs; it sees ops, shapes and a KV layout. The same graph
// runs on any backend (CPU now, CUDA later).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "gemrt/core/dtype.h"
#include "gemrt/graph/ir.h"
#include "gemrt/graph/kv_layout.h"

namespace gemrt {

// How a backend rounds intermediate values. Every backend implements both.
//   Precise: float32 activations everywhere (weights converted to float32 on the fly); the
//            reference for parity with transformers.
//   Fast:    activations rounded to each weight format's dot-product partner type
//            (gemrt/quant/activation_quant.h) so matmuls run on integers / 16-bit floats, GELU
//            through a float16 table, and attention rounds the query and the probabilities to
//            the KV cache's dtype when it is 16-bit. The same roundings as llama.cpp's CPU path.
//            On CUDA, the bf16 mode: float32 matrices stored as bfloat16, products of more than
//            a few rows on tensor cores with bfloat16 inputs and float32 sums (cuBLASLt), the rest
//            in float32 (backend/cuda/cuda_backend.h).
enum class Numerics { Precise, Fast };

// Per-sequence KV storage, allocated by a backend for a KvLayout. Each slot remembers how many
// positions have been written (next_position), so an attention op can check that a run
// continues the sequence where the cache left off.
class KvCache {
 public:
  virtual ~KvCache() = default;
  virtual const KvLayout& layout() const = 0;
  // Positions written so far to `slot` (the next position it expects).
  virtual int64_t next_position(int slot) const = 0;
  // Forget the sequence (all slots back to position 0); storage is kept.
  virtual void reset() = 0;
  // Bytes of storage held.
  virtual int64_t bytes() const = 0;
};

// One run-time input's values, borrowed for the call: int32 (token ids, positions, row indices)
// or float32 (media: pixel patches, audio frames, embedding rows), matching its Input node's dtype.
class InputData {
 public:
  InputData(std::span<const int32_t> v) : dtype_(DType::I32), data_(v.data()), count_(v.size()) {}
  InputData(const std::vector<int32_t>& v) : InputData(std::span<const int32_t>(v)) {}
  InputData(std::span<const float> v) : dtype_(DType::F32), data_(v.data()), count_(v.size()) {}
  InputData(const std::vector<float>& v) : InputData(std::span<const float>(v)) {}

  DType dtype() const { return dtype_; }
  size_t size() const { return count_; }
  size_t size_bytes() const { return count_ * 4; }
  const void* data() const { return data_; }
  // The values as int32; throws if they are float32.
  std::span<const int32_t> i32() const;

 private:
  DType dtype_;
  const void* data_;
  size_t count_;
};

// Run-time inputs by name ("token_ids", "positions", ...).
using RunInputs = std::map<std::string, InputData, std::less<>>;
// Graph outputs by name, copied to host float32.
using RunOutputs = std::map<std::string, std::vector<float>, std::less<>>;

class Executable {
 public:
  virtual ~Executable() = default;
  // Runs the graph. `kv` must come from the same backend when the graph has attention ops.
  virtual void run(const RunInputs& inputs, KvCache* kv, RunOutputs* outputs) = 0;
  // Bytes of activation memory the compiled plan holds.
  virtual int64_t arena_bytes() const = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual std::unique_ptr<Executable> compile(const Graph& g) = 0;
  virtual std::unique_ptr<KvCache> allocate_kv(const KvLayout& layout) = 0;
  // Tokens per prefill run a session uses unless told otherwise: long enough to keep the device
  // busy, short enough to bound activation memory (which grows with the run's rows).
  virtual int preferred_prefill_chunk() const { return 512; }
};

}  // namespace gemrt
