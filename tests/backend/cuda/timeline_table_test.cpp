// GEMRT_CUDA_TIMELINE's table (backend/cuda/timeline_table.h) from hand-made stamps: spans in ns,
// slots as the kernels leave them (start, released, all ones minus end; all ones where a kernel
// did not run).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "gemrt/backend/cuda/timeline_table.h"

namespace gemrt::cuda {
namespace {

constexpr uint64_t kUnset = UINT64_MAX;

struct Stamps {
  std::vector<uint64_t> slots;
  std::vector<std::string> labels;
  // A step: its rounding's span (start, released, end; start == 0: none) and its main kernel's.
  void step(const std::string& label, uint64_t r0, uint64_t r1, uint64_t r2, uint64_t m0, uint64_t m1, uint64_t m2) {
    labels.push_back(label);
    const auto put = [&](uint64_t a, uint64_t b, uint64_t c) {
      if (a == 0) {
        slots.insert(slots.end(), {kUnset, kUnset, kUnset});
      } else {
        slots.insert(slots.end(), {a, b, ~c});
      }
    };
    put(r0, r1, r2);
    put(m0, m1, m2);
  }
};

const TimelineRow* find(const TimelineTable& t, const std::string& kernel) {
  for (const TimelineRow& r : t.rows)
    if (r.kernel == kernel) return &r;
  return nullptr;
}

TEST(TimelineTable, BoundariesOwnTimesAndSpanPerKernelKind) {
  Stamps s;
  // layer 1: a rounding (released 1 us after start, 2 us of work), then the product it feeds
  s.step("qkv", 1000, 2000, 4000, 1500, 5000, 9000);
  s.step("", 0, 0, 0, 0, 0, 0);  // a weight: launches nothing, parts nothing
  s.step("attention", 0, 0, 0, 8000, 10000, 13000);
  // layer 2, the same kinds again
  s.step("qkv", 12000, 14000, 15000, 14500, 16000, 22000);
  s.step("attention", 0, 0, 0, 21000, 24000, 31000);
  const TimelineTable t = timeline_table(s.slots, s.labels);
  EXPECT_DOUBLE_EQ(t.span_us, 30.0);  // 1000 .. 31000 ns
  ASSERT_EQ(t.rows.size(), 3u);
  const TimelineRow* qkv = find(t, "qkv");
  const TimelineRow* rounding = find(t, "qkv [rounding]");
  const TimelineRow* attention = find(t, "attention");
  ASSERT_TRUE(qkv && rounding && attention);
  EXPECT_EQ(qkv->kernels, 2);
  EXPECT_DOUBLE_EQ(qkv->own_us, (4.0 + 6.0) / 2);         // 9000 - 5000, 22000 - 16000
  EXPECT_DOUBLE_EQ(qkv->boundary_us, (1.0 + 1.0) / 2);    // after its rounding: 5000 - 4000, 16000 - 15000
  EXPECT_DOUBLE_EQ(attention->own_us, (3.0 + 7.0) / 2);
  EXPECT_DOUBLE_EQ(attention->boundary_us, (1.0 + 2.0) / 2);  // 10000 - 9000 across the weight step, 24000 - 22000
  // The first rounding has no stamped kernel before it; the second follows layer 1's attention.
  EXPECT_EQ(rounding->kernels, 2);
  EXPECT_DOUBLE_EQ(rounding->boundary_us, 1.0);  // 14000 - 13000
  EXPECT_DOUBLE_EQ(rounding->own_us, (2.0 + 1.0) / 2);
  EXPECT_DOUBLE_EQ(t.own_us, 4 + 6 + 3 + 7 + 2 + 1);
  EXPECT_DOUBLE_EQ(t.boundary_us, 1 + 1 + 1 + 2 + 1);
  // largest total first: attention (10 + 3), qkv (10 + 2), rounding (3 + 1)
  EXPECT_EQ(t.rows[0].kernel, "attention");
  EXPECT_EQ(t.rows[1].kernel, "qkv");
  EXPECT_EQ(t.rows[2].kernel, "qkv [rounding]");
}

TEST(TimelineTable, AnUnstampedLaunchPartsTheBoundaries) {
  Stamps s;
  s.step("o", 0, 0, 0, 1000, 2000, 3000);
  s.step("embed", 0, 0, 0, 0, 0, 0);  // a kernel that stamps nothing
  s.step("o", 0, 0, 0, 9000, 10000, 12000);
  const TimelineTable t = timeline_table(s.slots, s.labels);
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0].kernels, 2);
  EXPECT_DOUBLE_EQ(t.rows[0].boundary_us, 0.0);  // neither has a stamped kernel just before it
  EXPECT_DOUBLE_EQ(t.boundary_us, 0.0);
  EXPECT_DOUBLE_EQ(t.rows[0].own_us, 1.5);
}

TEST(TimelineTable, NoStampsNoRows) {
  Stamps s;
  s.step("embed", 0, 0, 0, 0, 0, 0);
  EXPECT_TRUE(timeline_table(s.slots, s.labels).rows.empty());
  EXPECT_TRUE(timeline_table({}, {}).rows.empty());
}

}  // namespace
}  // namespace gemrt::cuda
