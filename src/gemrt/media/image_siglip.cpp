#include "gemrt/media/image_siglip.h"

#include "gemrt/core/error.h"
#include "gemrt/media/image_resize.h"

namespace gemrt {

std::vector<float> siglip_pixel_values(const RgbImage& img, int size) {
  if (size <= 0) fail("image size must be positive, got ", size);
  const RgbImage r = resize_image(img, size, size, ResizeFilter::Bilinear);
  const auto plane = static_cast<size_t>(size) * static_cast<size_t>(size);
  std::vector<float> out(3 * plane);
  constexpr float kRescale = static_cast<float>(1.0 / 255.0), kMean = 0.5f, kStd = 0.5f;
  for (size_t i = 0; i < plane; ++i)
    for (size_t c = 0; c < 3; ++c) out[c * plane + i] = (static_cast<float>(r.rgb[i * 3 + c]) * kRescale - kMean) / kStd;
  return out;
}

}  // namespace gemrt
