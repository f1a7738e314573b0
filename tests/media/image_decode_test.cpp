// Image decoding (issue 7 step 2): PNG and JPEG to RGB as PIL's convert("RGB") gives them, and
// clear errors for files that are not images, are truncated or corrupt (never a crash).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "gemrt/core/error.h"
#include "gemrt/media/image_decode.h"
#include "test_util.h"

namespace gemrt {
namespace {

std::vector<std::byte> file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  const std::vector<char> c((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::byte> b(c.size());
  std::memcpy(b.data(), c.data(), c.size());
  return b;
}

// The error message of decode_image on `data` ("" if it decodes).
std::string error_of(std::span<const std::byte> data) {
  return test::error_message([&] { decode_image(data, "test.img"); });
}

TEST(ImageDecode, PngAndJpegSizes) {
  const RgbImage png = decode_image_file(test::shared_fixtures() + "/hf/gemma4u-pub/image.png");
  EXPECT_EQ(png.width, 200);
  EXPECT_EQ(png.height, 150);
  EXPECT_EQ(png.rgb.size(), size_t{200 * 150 * 3});
  const RgbImage jpg = decode_image_file(test::test_data() + "/media/wide.jpg");
  EXPECT_EQ(jpg.width, 400);
  EXPECT_EQ(jpg.height, 61);
  const RgbImage tiny = decode_image_file(test::test_data() + "/media/tiny.png");
  EXPECT_EQ(tiny.width, 5);
  EXPECT_EQ(tiny.height, 3);
}

TEST(ImageDecode, CorruptFilesGiveClearErrors) {
  EXPECT_NE(error_of({}).find("not a PNG or JPEG"), std::string::npos);
  const std::string text = "GIF89a....";
  EXPECT_NE(error_of(std::as_bytes(std::span<const char>(text))).find("not a PNG or JPEG"), std::string::npos);
  for (const char* name : {"/media/portrait.png", "/media/wide.jpg"}) {
    const std::vector<std::byte> good = file_bytes(test::test_data() + name);
    ASSERT_GT(good.size(), 200u);
    // Truncated at several points, and with bytes overwritten in the middle.
    for (size_t cut : {size_t{4}, size_t{20}, size_t{60}, good.size() / 2, good.size() - 3}) {
      const std::string e = error_of(std::span<const std::byte>(good).first(cut));
      EXPECT_NE(e.find("test.img"), std::string::npos) << name << " cut at " << cut << ": " << e;
    }
    std::vector<std::byte> bad = good;  // the compressed pixel data overwritten part way
    for (size_t i = good.size() / 2; i < good.size() / 2 + 60; ++i) bad[i] = std::byte{static_cast<unsigned char>(i * 37)};
    const std::string e = error_of(bad);
    EXPECT_NE(e.find("test.img"), std::string::npos) << name << ": " << e;
  }
  EXPECT_THROW(decode_image_file("/nonexistent/picture.png"), Error);
}

}  // namespace
}  // namespace gemrt
