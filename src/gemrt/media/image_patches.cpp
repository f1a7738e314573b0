#include "gemrt/media/image_patches.h"

#include <algorithm>
#include <cmath>

#include "gemrt/core/error.h"
#include "gemrt/media/image_resize.h"

namespace gemrt {

std::pair<int, int> image_target_size(int height, int width, int patch_size, int pooling, int max_soft_tokens) {
  const int64_t max_patches = int64_t{max_soft_tokens} * pooling * pooling;
  const double total = static_cast<double>(height) * width;
  const double target_px = static_cast<double>(max_patches) * patch_size * patch_size;
  const double factor = std::sqrt(target_px / total);
  const int64_t side = int64_t{pooling} * patch_size;
  int64_t th = static_cast<int64_t>(std::floor(factor * height / static_cast<double>(side))) * side;
  int64_t tw = static_cast<int64_t>(std::floor(factor * width / static_cast<double>(side))) * side;
  if (th == 0 && tw == 0) fail("image of ", width, " x ", height, " pixels cannot be resized to whole patches");
  const int64_t max_side = max_patches / (int64_t{pooling} * pooling) * side;
  if (th == 0) {  // a wide strip: one patch row (integer aspect ratio, as the processor takes it)
    th = side;
    tw = std::min<int64_t>(static_cast<int64_t>(std::floor(static_cast<double>(width) / height)) * side, max_side);
  } else if (tw == 0) {
    tw = side;
    th = std::min<int64_t>(static_cast<int64_t>(std::floor(static_cast<double>(height) / width)) * side, max_side);
  }
  if (static_cast<double>(th) * static_cast<double>(tw) > target_px)
    fail("image of ", width, " x ", height, " pixels: its resized size ", tw, " x ", th, " exceeds ", max_patches,
         " patches of ", patch_size, " pixels");
  return {static_cast<int>(th), static_cast<int>(tw)};
}

namespace {

// Resized to the processor's target size, then cut into `side`-pixel squares.
ImagePatches resize_and_cut(const RgbImage& img, int patch_size, int pooling, int max_soft_tokens, int side) {
  if (std::find(std::begin(kImageTokenBudgets), std::end(kImageTokenBudgets), max_soft_tokens) == std::end(kImageTokenBudgets))
    fail("image soft-token budget must be one of 70, 140, 280, 560, 1120, got ", max_soft_tokens);
  const auto [th, tw] = image_target_size(img.height, img.width, patch_size, pooling, max_soft_tokens);
  const RgbImage r = resize_bicubic(img, tw, th);
  const int gw = tw / side, gh = th / side;
  ImagePatches p;
  p.count = int64_t{gw} * gh;
  p.values = int64_t{3} * side * side;
  p.width = tw;
  p.height = th;
  p.pixels.resize(static_cast<size_t>(p.count * p.values));
  p.positions.resize(static_cast<size_t>(2 * p.count));
  // Rescale as the processor does: uint8 * float32(1 / 255).
  constexpr float kRescale = static_cast<float>(1.0 / 255.0);
  float* out = p.pixels.data();
  for (int gy = 0; gy < gh; ++gy)
    for (int gx = 0; gx < gw; ++gx) {
      const size_t k = static_cast<size_t>(gy) * static_cast<size_t>(gw) + static_cast<size_t>(gx);
      p.positions[2 * k] = gx;
      p.positions[2 * k + 1] = gy;
      for (int y = 0; y < side; ++y) {
        const uint8_t* row = r.rgb.data() + (static_cast<size_t>(gy * side + y) * static_cast<size_t>(tw) +
                                             static_cast<size_t>(gx * side)) * 3;
        for (int i = 0; i < side * 3; ++i) *out++ = static_cast<float>(row[i]) * kRescale;
      }
    }
  return p;
}

}  // namespace

ImagePatches image_to_patches(const RgbImage& img, int patch_size, int pooling, int max_soft_tokens) {
  ImagePatches p = resize_and_cut(img, patch_size, pooling, max_soft_tokens, patch_size * pooling);
  p.soft_tokens = p.count;
  return p;
}

// Gemma4ImageProcessor's convert_image_to_patches: [C, H, W] -> [ph, pw, y, x, C] -> [ph pw, p p C].
ImagePatches image_to_tower_patches(const RgbImage& img, int patch_size, int pooling, int max_soft_tokens) {
  ImagePatches p = resize_and_cut(img, patch_size, pooling, max_soft_tokens, patch_size);
  p.soft_tokens = p.count / (int64_t{pooling} * pooling);
  return p;
}

}  // namespace gemrt
