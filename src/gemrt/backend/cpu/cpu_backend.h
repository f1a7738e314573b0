// The CPU backend: multi-threaded kernels, weights read in their stored dtype, in either
// Numerics mode (float32 reference or llama.cpp-style activation rounding).
#pragma once

#include <memory>

#include "gemrt/backend/backend.h"
#include "gemrt/core/thread_pool.h"

namespace gemrt::cpu {

class CpuBackend final : public Backend {
 public:
  // n_threads <= 0: one per hardware thread.
  explicit CpuBackend(int n_threads = 0, Numerics numerics = Numerics::Precise);
  std::string name() const override { return "cpu"; }
  std::unique_ptr<Executable> compile(const Graph& g) override;
  std::unique_ptr<KvCache> allocate_kv(const KvLayout& layout) override;
  int threads() const { return pool_->size(); }
  Numerics numerics() const { return numerics_; }

 private:
  std::shared_ptr<ThreadPool> pool_;
  Numerics numerics_;
};

}  // namespace gemrt::cpu
