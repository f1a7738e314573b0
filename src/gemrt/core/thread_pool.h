// A fixed pool of worker threads for data-parallel loops.
//
// parallel_for(n, fn) calls fn(begin, end) on disjoint ranges covering [0, n); the calling
// thread takes part, and the call returns when every range is done. One loop runs at a time
// per pool (calls from several threads are serialised). Exceptions thrown by fn are rethrown
// in the caller (the first one wins).
//
// Built for many short loops (a decode step runs a few hundred): ranges are claimed with an
// atomic counter, and idle workers spin for a short while (~50 us) before sleeping on a
// condition variable, so back-to-back loops start without a kernel wake-up.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace gemrt {

class ThreadPool {
 public:
  // n_threads <= 0 picks std::thread::hardware_concurrency().
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Splits [0, n) into about `size() * 4` ranges of at least `min_grain` items.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t min_grain = 1);

 private:
  void worker_loop();
  void run_chunks();
  void record_error();

  std::vector<std::thread> workers_;
  std::mutex loop_mutex_;  // serialises parallel_for callers

  // Loop hand-off: the caller publishes a loop and bumps generation_; each worker runs chunks
  // and then bumps finished_. Sleeping workers wait on work_cv_ under mu_.
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> finished_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable work_cv_;

  // The loop in flight (written before generation_ is bumped).
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0;
  int64_t chunk_ = 1;
  std::atomic<int64_t> next_{0};
  std::atomic<bool> failed_{false};
  std::mutex error_mu_;
  std::exception_ptr error_;
};

}  // namespace gemrt
