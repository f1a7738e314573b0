// Image preprocessing (issue 7 step 2) against transformers' Gemma4UnifiedImageProcessor: the
// fixture's image.png -> image_processed.safetensors (positions and count exact, pixel values
// mean abs diff < 0.005 and max < 0.05: the contract), and the same on images of other
// sizes and aspect ratios made by tests/data/media/make_image_cases.py (tiny, portrait, wide JPEG,
// one pixel wide / high, large; budgets 70 to 1120; EXIF orientations 6 and 3).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "gemrt/core/error.h"
#include "gemrt/media/image_decode.h"
#include "gemrt/media/image_patches.h"
#include "test_util.h"

namespace gemrt {
namespace {

constexpr double kMeanAbs = 0.005, kMaxAbs = 0.05;  // issue 7

struct Diff {
  double mean = 0.0, max = 0.0;
};

// |got[i * stride] - want[i]| over want's values.
Diff pixel_diff(const std::vector<float>& got, std::span<const float> want, size_t stride) {
  Diff d;
  EXPECT_GE(got.size(), (want.size() - 1) * stride + 1);
  for (size_t i = 0; i < want.size() && i * stride < got.size(); ++i) {
    const double e = std::fabs(static_cast<double>(got[i * stride]) - static_cast<double>(want[i]));
    d.mean += e;
    d.max = std::max(d.max, e);
  }
  d.mean /= static_cast<double>(want.size());
  return d;
}

TEST(ImagePatches, FixtureImageMatchesTheProcessor) {
  const std::string dir = test::shared_fixtures() + "/hf/gemma4u-pub";
  const ImagePatches p = image_to_patches(decode_image_file(dir + "/image.png"), 16, 3, 280);
  const HostTensor pixels = test::load_tensor(dir + "/image_processed.safetensors", "pixel_values");
  const HostTensor pos = test::load_tensor(dir + "/image_processed.safetensors", "image_position_ids");
  const HostTensor count = test::load_tensor(dir + "/image_processed.safetensors", "num_soft_tokens_per_image");
  ASSERT_EQ(pixels.shape, (Shape{1, 280, 6912}));
  const int64_t n = count.values<int32_t>()[0];
  ASSERT_EQ(p.count, n);
  ASSERT_EQ(p.values, 6912);
  for (int64_t i = 0; i < 280 * 2; ++i) {
    const int32_t want = pos.values<int32_t>()[static_cast<size_t>(i)];
    if (i < 2 * n) ASSERT_EQ(p.positions[static_cast<size_t>(i)], want) << "position value " << i;
    else ASSERT_EQ(want, -1) << "the processor pads with (-1, -1)";
  }
  const Diff d = pixel_diff(p.pixels, pixels.values<float>().first(static_cast<size_t>(n * 6912)), 1);
  EXPECT_LT(d.mean, kMeanAbs);
  EXPECT_LT(d.max, kMaxAbs);
  std::printf("[ image ] fixture: %lld tokens, pixel mean abs diff %.2e, max %.2e\n", static_cast<long long>(n), d.mean,
              d.max);
}

// Issue 8 step 1: the vision tower's processor (Gemma4ImageProcessor, budget 70) on the same
// image, as the gemma4-towers-pub fixture holds it: 16-px patches (each in (y, x, channel) order)
// of the 432 x 336 resize, a 27 x 21 grid in row-major order, 63 soft tokens; the processor pads to
// 630 patches with zeros at (-1, -1), which gemrt does not add (the tower drops them).
TEST(ImagePatches, TowerPatchesMatchTheProcessor) {
  const std::string ref = test::shared_fixtures() + "/hf/gemma4-towers-pub/reference.safetensors";
  const ImagePatches p =
      image_to_tower_patches(decode_image_file(test::shared_fixtures() + "/hf/gemma4u-pub/image.png"), 16, 3, 70);
  const HostTensor pixels = test::load_tensor(ref, "pixel_values"), pos = test::load_tensor(ref, "image_position_ids");
  ASSERT_EQ(pixels.shape, (Shape{630, 768}));
  EXPECT_EQ(p.width, 27 * 16);
  EXPECT_EQ(p.height, 21 * 16);
  ASSERT_EQ(p.count, 567);
  EXPECT_EQ(p.soft_tokens, 63);
  ASSERT_EQ(p.values, 768);
  for (size_t i = 0; i < 630 * 2; ++i) {
    const int32_t want = pos.values<int32_t>()[i];
    if (i < p.positions.size()) ASSERT_EQ(p.positions[i], want) << "position value " << i;
    else ASSERT_EQ(want, -1) << "the processor pads with (-1, -1)";
  }
  const Diff d = pixel_diff(p.pixels, pixels.values<float>().first(567 * 768), 1);
  EXPECT_LT(d.mean, kMeanAbs);
  EXPECT_LT(d.max, kMaxAbs);
  for (const float v : pixels.values<float>().subspan(567 * 768)) ASSERT_EQ(v, 0.0f) << "padding patches are zeros";
  std::printf("[ image ] tower fixture: %lld patches, pixel mean abs diff %.2e, max %.2e\n",
              static_cast<long long>(p.count), d.mean, d.max);
}

struct Case {
  const char* name;
  const char* file;
  int budget;
};

class ImageCases : public testing::TestWithParam<Case> {};

TEST_P(ImageCases, MatchTheProcessor) {
  const Case& c = GetParam();
  const std::string dir = test::test_data() + "/media/";
  const std::string want_file = dir + c.name + "-" + std::to_string(c.budget) + ".safetensors";
  const ImagePatches p = image_to_patches(decode_image_file(dir + c.file), 16, 3, c.budget);
  const HostTensor pos = test::load_tensor(want_file, "positions");
  const HostTensor size = test::load_tensor(want_file, "size");
  const HostTensor pixels = test::load_tensor(want_file, "pixels");
  EXPECT_EQ(p.height, size.values<int32_t>()[0]);
  EXPECT_EQ(p.width, size.values<int32_t>()[1]);
  ASSERT_EQ(p.count, pos.shape[0]);
  EXPECT_LE(p.count, c.budget);
  for (size_t i = 0; i < p.positions.size(); ++i) ASSERT_EQ(p.positions[i], pos.values<int32_t>()[i]) << i;
  const Diff d = pixel_diff(p.pixels, pixels.values<float>(), 127);  // the file keeps every 127th value
  EXPECT_LT(d.mean, kMeanAbs);
  EXPECT_LT(d.max, kMaxAbs);
  std::printf("[ image ] %s at %d: %lld tokens, %d x %d, pixel mean abs diff %.2e, max %.2e\n", c.name, c.budget,
              static_cast<long long>(p.count), p.width, p.height, d.mean, d.max);
}

INSTANTIATE_TEST_SUITE_P(Sizes, ImageCases,
                         testing::Values(Case{"tiny", "tiny.png", 70}, Case{"tiny", "tiny.png", 280},
                                         Case{"portrait", "portrait.png", 280}, Case{"wide", "wide.jpg", 140},
                                         Case{"one-pixel-wide", "one-pixel-wide.png", 280},
                                         Case{"one-pixel-high", "one-pixel-high.png", 70},
                                         Case{"large", "large.jpg", 280}, Case{"large", "large.jpg", 1120},
                                         Case{"exif-rotated", "exif-rotated.jpg", 70},
                                         Case{"exif-flipped", "exif-flipped.png", 70}),
                         [](const testing::TestParamInfo<Case>& i) {
                           std::string s = std::string(i.param.name) + "_" + std::to_string(i.param.budget);
                           for (char& ch : s)
                             if (ch == '-') ch = '_';
                           return s;
                         });

TEST(ImagePatches, BudgetMustBeOneTheProcessorAllows) {
  RgbImage img{4, 4, std::vector<uint8_t>(48, 7)};
  EXPECT_THROW(image_to_patches(img, 16, 3, 100), Error);
  EXPECT_NO_THROW(image_to_patches(img, 16, 3, 70));
}

}  // namespace
}  // namespace gemrt
