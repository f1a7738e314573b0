// The Gemma 4 vision tower's input grid (runtime/patch_grid.h): the processor's patches, in any
// order and with padding among them, arranged row-major by position with values 2 (v - 0.5); and
// every way positions can fail to make a poolable grid refused, saying how.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gemrt/core/error.h"
#include "gemrt/runtime/patch_grid.h"
#include "test_util.h"

namespace gemrt {
namespace {

// A 4 x 2 grid (cols x rows) of one-value patches, given in the order of `xy`; patch i's value is
// i / 16, padding marked (-1, -1).
struct Input {
  std::vector<float> pixels;
  std::vector<int32_t> positions;
};
Input make(const std::vector<std::pair<int, int>>& xy) {
  Input in;
  for (size_t i = 0; i < xy.size(); ++i) {
    in.pixels.push_back(static_cast<float>(i) / 16.0f);
    in.positions.push_back(xy[i].first);
    in.positions.push_back(xy[i].second);
  }
  return in;
}

TEST(PatchGrid, ArrangesPatchesByPositionAndDropsPadding) {
  const Input in = make({{3, 1}, {-1, -1}, {0, 0}, {1, 0}, {2, 0}, {-1, -1}, {3, 0}, {0, 1}, {1, 1}, {2, 1},
                         {-1, -1}, {-1, -1}});  // 12 patches: 3 tokens' worth at pooling 2
  const PatchGrid g = arrange_patch_grid(in.pixels, in.positions, 1, 10, 2);
  EXPECT_EQ(g.cols, 4);
  EXPECT_EQ(g.rows, 2);
  EXPECT_EQ(g.output_length, 3);
  EXPECT_EQ(g.x, (std::vector<int32_t>{0, 1, 2, 3, 0, 1, 2, 3}));
  EXPECT_EQ(g.y, (std::vector<int32_t>{0, 0, 0, 0, 1, 1, 1, 1}));
  const std::vector<int> source{2, 3, 4, 6, 7, 8, 9, 0};  // input index of each grid slot
  for (size_t s = 0; s < source.size(); ++s)
    EXPECT_EQ(g.patches[s], 2.0f * (static_cast<float>(source[s]) / 16.0f - 0.5f)) << "slot " << s;
  // Only padding: an empty grid.
  const Input pad = make({{-1, -1}, {-1, -1}, {-1, -1}, {-1, -1}});
  EXPECT_EQ(arrange_patch_grid(pad.pixels, pad.positions, 1, 10, 2).rows, 0);
}

TEST(PatchGrid, RefusesWhatDoesNotPool) {
  const auto refused = [](const std::vector<std::pair<int, int>>& xy, int pooling, const std::string& needle,
                          int64_t posemb = 10) {
    const Input in = make(xy);
    const std::string msg = test::error_message([&] { arrange_patch_grid(in.pixels, in.positions, 1, posemb, pooling); });
    EXPECT_NE(msg.find(needle), std::string::npos) << "expected '" << needle << "' in: " << msg;
  };
  refused({{0, 0}, {1, 0}, {0, 1}}, 1, "do not cover a 2 x 2 grid");             // (1, 1) missing
  refused({{0, 0}, {1, 0}, {0, 1}, {0, 1}}, 1, "(0, 1) twice");                   // (1, 1) missing, (0, 1) twice
  refused({{0, 0}, {1, 0}, {2, 0}, {-1, -1}}, 2, "3 x 1 patch grid does not pool in 2 x 2");
  refused({{0, 0}, {1, 0}, {2, 0}}, 2, "3 patches do not pool");                  // 3 is not a multiple of 4
  refused({{0, 0}, {3, -1}}, 1, "patch 1 has position (3, -1)");
  refused({{0, 0}, {10, 0}}, 1, "patch 1 has position (10, 0), outside [0, 10)");
  const Input in = make({{0, 0}});
  EXPECT_THROW(arrange_patch_grid(std::span(in.pixels).first(0), in.positions, 1, 10, 1), Error);
}

}  // namespace
}  // namespace gemrt
