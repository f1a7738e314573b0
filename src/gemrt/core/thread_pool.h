// A fixed pool of worker threads for data-parallel loops.
//
// parallel_for(n, fn) calls fn(begin, end) on disjoint ranges covering [0, n); the calling
// thread takes part, and the call returns when every range is done. One loop runs at a time
// per pool (calls from several threads are serialised). Exceptions thrown by fn are rethrown
// in the caller (the first one wins).
#pragma once

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

  std::vector<std::thread> workers_;
  std::mutex loop_mutex_;  // serialises parallel_for callers

  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  uint64_t generation_ = 0;
  bool stop_ = false;
  int busy_workers_ = 0;

  // The loop in flight (valid while busy).
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0;
  int64_t chunk_ = 1;
  int64_t next_ = 0;  // guarded by mu_
  std::exception_ptr error_;
};

}  // namespace gemrt
