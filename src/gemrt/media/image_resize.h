// Resizing of 8-bit images as the HF image processors do it: torchvision's antialiased bicubic /
// bilinear on uint8 tensors, which follow Pillow's Image.resize(BICUBIC / BILINEAR): separable,
// horizontal pass then vertical, the cubic kernel with a = -0.5 (or the triangle) widened by the
// scale when shrinking (antialias), weights normalised per output pixel and applied in 22-bit
// fixed point, each pass rounded and clamped to 8 bits.
#pragma once

#include "gemrt/media/image_decode.h"

namespace gemrt {

enum class ResizeFilter { Bicubic, Bilinear };

// `img` resized to width x height (both positive); the same image when the size is unchanged.
RgbImage resize_image(const RgbImage& img, int width, int height, ResizeFilter filter);
inline RgbImage resize_bicubic(const RgbImage& img, int width, int height) {
  return resize_image(img, width, height, ResizeFilter::Bicubic);
}

}  // namespace gemrt
