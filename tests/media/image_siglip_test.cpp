// Gemma 3's image preprocessing (issue 8 step 3) against transformers' Gemma3ImageProcessor on the
// images of tests/data/media (made by make_image_cases.py): upscaled (tiny), squeezed (portrait,
// wide JPEG) and shrunk (large) to a square; pixel values mean abs diff < 0.005 and max < 0.05
// (issue 7's preprocessing contract, on the processor's [-1, 1] scale here).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "gemrt/media/image_decode.h"
#include "gemrt/media/image_siglip.h"
#include "test_util.h"

namespace gemrt {
namespace {

struct Case {
  const char* name;
  const char* file;
  int size;
};

class SiglipImageCases : public testing::TestWithParam<Case> {};

TEST_P(SiglipImageCases, MatchTheProcessor) {
  const Case& c = GetParam();
  const std::string dir = test::test_data() + "/media/";
  const std::vector<float> got = siglip_pixel_values(decode_image_file(dir + c.file), c.size);
  const HostTensor want =
      test::load_tensor(dir + "gemma3-" + c.name + "-" + std::to_string(c.size) + ".safetensors", "pixel_values");
  ASSERT_EQ(want.shape, (Shape{3, c.size, c.size}));
  ASSERT_EQ(got.size(), want.values<float>().size());
  double mean = 0.0, max = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double e = std::fabs(static_cast<double>(got[i]) - static_cast<double>(want.values<float>()[i]));
    mean += e;
    max = std::max(max, e);
  }
  mean /= static_cast<double>(got.size());
  EXPECT_LT(mean, 0.005);
  EXPECT_LT(max, 0.05);
  std::printf("[ siglip image ] %s at %d: mean abs diff %.2e, max %.2e\n", c.name, c.size, mean, max);
}

INSTANTIATE_TEST_SUITE_P(Gemma3, SiglipImageCases,
                         testing::Values(Case{"tiny", "tiny.png", 64}, Case{"portrait", "portrait.png", 64},
                                         Case{"wide", "wide.jpg", 96}, Case{"large", "large.jpg", 64}),
                         [](const testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace gemrt
