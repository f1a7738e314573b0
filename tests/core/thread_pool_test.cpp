// Tests for gemrt/core/thread_pool.h: coverage of [0, n), grain, participation of several
// threads, exceptions, reuse and concurrent callers.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gemrt/core/error.h"
#include "gemrt/core/thread_pool.h"

namespace gemrt {
namespace {

// Runs one parallel_for and checks that the ranges are well formed, that every index of
// [0, n) was visited exactly once, and that all ranges but at most one hold at least
// min(grain, n) items. Returns the number of calls of fn.
int64_t check_cover(ThreadPool& pool, int64_t n, int64_t grain) {
  SCOPED_TRACE("n=" + std::to_string(n) + " grain=" + std::to_string(grain) + " threads=" +
               std::to_string(pool.size()));
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  std::mutex mu;
  std::vector<std::pair<int64_t, int64_t>> ranges;
  pool.parallel_for(
      n,
      [&](int64_t begin, int64_t end) {
        {
          std::lock_guard<std::mutex> lock(mu);
          ranges.emplace_back(begin, end);
        }
        if (begin < 0 || end > n || begin >= end) return;  // reported below
        for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
      },
      grain);

  for (const auto& [b, e] : ranges) {
    EXPECT_GE(b, 0);
    EXPECT_LE(e, n);
    EXPECT_LT(b, e) << "empty or reversed range [" << b << ", " << e << ")";
  }
  int64_t wrong = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int h = hits[static_cast<size_t>(i)].load();
    if (h != 1 && wrong++ < 5) ADD_FAILURE() << "index " << i << " visited " << h << " times";
  }
  EXPECT_EQ(wrong, 0);
  const int64_t want_min = std::min(grain < 1 ? 1 : grain, n);
  int64_t small = 0;
  for (const auto& [b, e] : ranges)
    if (e - b < want_min) ++small;
  EXPECT_LE(small, 1) << "ranges shorter than the grain " << grain;
  return static_cast<int64_t>(ranges.size());
}

TEST(ThreadPoolTest, SizeCountsTheCaller) {
  EXPECT_EQ(ThreadPool(1).size(), 1);
  EXPECT_EQ(ThreadPool(2).size(), 2);
  EXPECT_EQ(ThreadPool(5).size(), 5);
  EXPECT_GE(ThreadPool(0).size(), 1);
  EXPECT_GE(ThreadPool(-3).size(), 1);
}

TEST(ThreadPoolTest, CoversRangeExactlyOnce) {
  for (const int threads : {1, 2, 3, 4, 8}) {
    ThreadPool pool(threads);
    for (const int64_t n : {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{5}, int64_t{7}, int64_t{16}, int64_t{31},
                            int64_t{100}, int64_t{1000}, int64_t{12345}, int64_t{200003}}) {
      for (const int64_t grain : {int64_t{-1}, int64_t{0}, int64_t{1}, int64_t{3}, int64_t{64}, int64_t{100000},
                                  int64_t{1} << 40}) {
        check_cover(pool, n, grain);
      }
    }
  }
}

TEST(ThreadPoolTest, ZeroOrNegativeNeverCallsFn) {
  for (const int threads : {1, 4}) {
    ThreadPool pool(threads);
    std::atomic<int> calls{0};
    pool.parallel_for(0, [&](int64_t, int64_t) { calls.fetch_add(1); });
    pool.parallel_for(-5, [&](int64_t, int64_t) { calls.fetch_add(1); });
    pool.parallel_for(0, [&](int64_t, int64_t) { calls.fetch_add(1); }, 100);
    EXPECT_EQ(calls.load(), 0) << threads << " threads";
  }
}

TEST(ThreadPoolTest, SingleItemIsOneCall) {
  ThreadPool pool(4);
  std::vector<std::pair<int64_t, int64_t>> seen;
  pool.parallel_for(1, [&](int64_t b, int64_t e) { seen.emplace_back(b, e); });
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], std::make_pair(int64_t{0}, int64_t{1}));
}

TEST(ThreadPoolTest, SmallerThanPoolStillCoversEverything) {
  ThreadPool pool(8);
  for (int64_t n = 1; n <= 9; ++n) check_cover(pool, n, 1);
}

TEST(ThreadPoolTest, GrainAtLeastNRunsOneRange) {
  ThreadPool pool(4);
  EXPECT_EQ(check_cover(pool, 100, 100), 1);
  EXPECT_EQ(check_cover(pool, 100, 1000), 1);
}

TEST(ThreadPoolTest, LargeGrainBoundsTheNumberOfRanges) {
  ThreadPool pool(4);
  const int64_t calls = check_cover(pool, 1000, 300);
  EXPECT_GE(calls, 2);
  EXPECT_LE(calls, 4);  // ceil(1000 / 300)
}

TEST(ThreadPoolTest, SplitsWorkWhenGrainAllows) {
  ThreadPool pool(4);
  EXPECT_GT(check_cover(pool, 1000, 1), 1);
}

TEST(ThreadPoolTest, SingleThreadRunsOnCaller) {
  ThreadPool pool(1);
  const auto me = std::this_thread::get_id();
  std::atomic<int> elsewhere{0};
  std::atomic<int64_t> total{0};
  pool.parallel_for(100000, [&](int64_t b, int64_t e) {
    if (std::this_thread::get_id() != me) elsewhere.fetch_add(1);
    total.fetch_add(e - b);
  });
  EXPECT_EQ(elsewhere.load(), 0);
  EXPECT_EQ(total.load(), 100000);
}

// With several threads, workers really take part: the first ranges to start wait (with a
// generous deadline) until a second thread has entered fn.
TEST(ThreadPoolTest, SeveralThreadsTakePart) {
  ThreadPool pool(4);
  std::mutex mu;
  std::set<std::thread::id> ids;
  std::atomic<bool> timed_out{false};
  pool.parallel_for(64, [&](int64_t, int64_t) {
    {
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (ids.size() >= 2) return;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        timed_out = true;
        return;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  });
  EXPECT_FALSE(timed_out.load()) << "no second thread joined the loop";
  EXPECT_GE(ids.size(), 2u);
  EXPECT_LE(ids.size(), 4u);
}

TEST(ThreadPoolTest, RepeatedCallsGiveCorrectSums) {
  ThreadPool pool(4);
  for (int iter = 0; iter < 2000; ++iter) {
    const int64_t n = 1 + (iter * 37) % 500;
    std::atomic<int64_t> sum{0};
    pool.parallel_for(n, [&](int64_t b, int64_t e) {
      int64_t s = 0;
      for (int64_t i = b; i < e; ++i) s += i;
      sum.fetch_add(s);
    });
    ASSERT_EQ(sum.load(), n * (n - 1) / 2) << "iteration " << iter << ", n=" << n;
  }
}

TEST(ThreadPoolTest, WritesOfEveryRangeAreVisibleAfterReturn) {
  ThreadPool pool(3);
  std::vector<int64_t> out(50000, -1);  // plain (non-atomic) writes, one owner per index
  for (int round = 0; round < 20; ++round) {
    pool.parallel_for(static_cast<int64_t>(out.size()), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) out[static_cast<size_t>(i)] = i * 3 + round;
    });
    for (size_t i = 0; i < out.size(); ++i)
      ASSERT_EQ(out[i], static_cast<int64_t>(i) * 3 + round) << "round " << round << " index " << i;
  }
}

TEST(ThreadPoolTest, RethrowsExceptionInCaller) {
  for (const int threads : {1, 2, 4}) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    ThreadPool pool(threads);
    try {
      pool.parallel_for(1000, [](int64_t b, int64_t e) {
        if (b <= 500 && 500 < e) throw std::runtime_error("boom at 500");
      });
      ADD_FAILURE() << "no exception";
    } catch (const std::runtime_error& err) {
      EXPECT_STREQ(err.what(), "boom at 500");
    }
    // The pool is still usable.
    check_cover(pool, 1000, 1);
    check_cover(pool, 7, 1);
  }
}

TEST(ThreadPoolTest, RethrowsGemrtErrorWithItsType) {
  ThreadPool pool(4);
  EXPECT_THROW(pool.parallel_for(100, [](int64_t b, int64_t) {
    if (b == 0) fail("tensor 'x': bad");
  }),
               Error);
  // The fast path (one range) rethrows too.
  EXPECT_THROW(pool.parallel_for(10, [](int64_t, int64_t) { fail("tensor 'y': bad"); }, 100), Error);
  check_cover(pool, 100, 1);
}

TEST(ThreadPoolTest, ExceptionFromWorkerThreadReachesCaller) {
  ThreadPool pool(4);
  const auto me = std::this_thread::get_id();
  // Throw only off the calling thread; the caller blocks its own ranges until a worker
  // has thrown (or a generous deadline passes) so that a worker gets to run a range.
  std::atomic<bool> thrown{false};
  bool caught = false;
  try {
    pool.parallel_for(64, [&](int64_t, int64_t) {
      if (std::this_thread::get_id() != me) {
        thrown = true;
        throw std::logic_error("from a worker");
      }
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (!thrown.load() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    });
  } catch (const std::logic_error& err) {
    caught = true;
    EXPECT_STREQ(err.what(), "from a worker");
  }
  EXPECT_TRUE(thrown.load()) << "no worker ran a range";
  EXPECT_TRUE(caught);
  check_cover(pool, 1000, 1);
}

// parallel_for must not return (or rethrow) while other ranges are still running: fn and
// what it refers to live on the caller's stack.
TEST(ThreadPoolTest, ExceptionWaitsForRangesInFlight) {
  ThreadPool pool(4);
  for (int iter = 0; iter < 20; ++iter) {
    auto in_flight = std::make_shared<std::atomic<int>>(0);
    auto late = std::make_shared<std::atomic<int>>(0);
    std::atomic<bool> returned{false};
    try {
      pool.parallel_for(64, [in_flight, late, &returned](int64_t b, int64_t) {
        in_flight->fetch_add(1);
        if (returned.load()) late->fetch_add(1);
        if (b == 0) {
          in_flight->fetch_sub(1);
          throw std::runtime_error("first range fails");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        if (returned.load()) late->fetch_add(1);
        in_flight->fetch_sub(1);
      });
      ADD_FAILURE() << "no exception";
    } catch (const std::runtime_error&) {
    }
    returned = true;
    EXPECT_EQ(in_flight->load(), 0) << "iteration " << iter;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    EXPECT_EQ(late->load(), 0) << "iteration " << iter;
    EXPECT_EQ(in_flight->load(), 0) << "iteration " << iter;
  }
}

TEST(ThreadPoolTest, EveryRangeThrowingStillReturns) {
  ThreadPool pool(4);
  for (int iter = 0; iter < 50; ++iter) {
    EXPECT_THROW(pool.parallel_for(256, [](int64_t, int64_t) { throw std::runtime_error("all fail"); }),
                 std::runtime_error);
  }
  check_cover(pool, 256, 1);
}

// Calls from several threads on one pool are serialised; each sees its own loop.
TEST(ThreadPoolTest, ConcurrentCallersAreSerialised) {
  ThreadPool pool(3);
  constexpr int kCallers = 4;
  constexpr int kIters = 200;
  std::atomic<int> bad{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&pool, &bad, c] {
      for (int it = 0; it < kIters; ++it) {
        const int64_t n = 100 + c * 17 + it % 13;
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        pool.parallel_for(n, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) {
            if (i < 0 || i >= n) {
              bad.fetch_add(1);
              continue;
            }
            hits[static_cast<size_t>(i)].fetch_add(1);
          }
        });
        for (auto& h : hits)
          if (h.load() != 1) bad.fetch_add(1);
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(ThreadPoolTest, DestroysCleanlyWithoutUse) {
  for (int i = 0; i < 20; ++i) {
    ThreadPool pool(4);
    (void)pool;
  }
  SUCCEED();
}

}  // namespace
}  // namespace gemrt
