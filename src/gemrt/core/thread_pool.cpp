#include "gemrt/core/thread_pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GEMRT_CPU_RELAX() _mm_pause()
#else
#define GEMRT_CPU_RELAX() std::this_thread::yield()
#endif

namespace gemrt {
namespace {
// How long an idle worker (or the waiting caller) spins before blocking.
constexpr auto kSpin = std::chrono::microseconds(50);
}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::record_error() {
  std::lock_guard<std::mutex> lock(error_mu_);
  if (!error_) error_ = std::current_exception();
  failed_.store(true);
}

void ThreadPool::run_chunks() {
  for (;;) {
    if (failed_.load(std::memory_order_relaxed)) return;
    const int64_t begin = next_.fetch_add(chunk_, std::memory_order_relaxed);
    if (begin >= n_) return;
    const int64_t end = std::min(n_, begin + chunk_);
    try {
      (*fn_)(begin, end);
    } catch (...) {
      record_error();
    }
  }
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    // Spin briefly for the next loop, then sleep until it comes.
    const auto until = std::chrono::steady_clock::now() + kSpin;
    while (generation_.load() == seen && !stop_.load()) {
      if (std::chrono::steady_clock::now() > until) {
        std::unique_lock<std::mutex> lock(mu_);
        sleepers_.fetch_add(1);
        work_cv_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
        sleepers_.fetch_sub(1);
        break;
      }
      for (int i = 0; i < 64; ++i) GEMRT_CPU_RELAX();
    }
    if (stop_.load()) return;
    seen = generation_.load();
    run_chunks();
    finished_.fetch_add(1);
  }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t min_grain) {
  if (n <= 0) return;
  const int64_t grain = std::max<int64_t>(1, min_grain);
  if (workers_.empty() || n <= grain) {
    fn(0, n);
    return;
  }
  std::lock_guard<std::mutex> loop_lock(loop_mutex_);
  fn_ = &fn;
  n_ = n;
  chunk_ = std::max(grain, (n + size() * 4 - 1) / (size() * 4));
  next_.store(0);
  failed_.store(false);
  error_ = nullptr;
  finished_.store(0);
  generation_.fetch_add(1);  // publishes the loop (seq_cst)
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    work_cv_.notify_all();
  }
  run_chunks();
  // Every worker takes part in every loop; wait until all have left it.
  const int workers = static_cast<int>(workers_.size());
  while (finished_.load() != workers) {
    for (int i = 0; i < 16; ++i) GEMRT_CPU_RELAX();
    std::this_thread::yield();
  }
  fn_ = nullptr;
  if (failed_.load()) std::rethrow_exception(error_);
}

}  // namespace gemrt
