// The CPU backend: float32 reference kernels, multi-threaded, weights read in their stored dtype.
#pragma once

#include <memory>

#include "gemrt/backend/backend.h"
#include "gemrt/core/thread_pool.h"

namespace gemrt::cpu {

class CpuBackend final : public Backend {
 public:
  // n_threads <= 0: one per hardware thread.
  explicit CpuBackend(int n_threads = 0);
  std::string name() const override { return "cpu"; }
  std::unique_ptr<Executable> compile(const Graph& g) override;
  std::unique_ptr<KvCache> allocate_kv(const KvLayout& layout) override;
  int threads() const { return pool_->size(); }

 private:
  std::shared_ptr<ThreadPool> pool_;
};

}  // namespace gemrt::cpu
