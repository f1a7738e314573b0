// Bicubic resizing of 8-bit images as the HF image processors do it: torchvision's antialiased
// bicubic on uint8 tensors, which follows Pillow's Image.resize(BICUBIC): separable, horizontal
// pass then vertical, the cubic kernel with a = -0.5 widened by the scale when shrinking
// (antialias), weights normalised per output pixel and applied in 22-bit fixed point, each pass
// rounded and clamped to 8 bits.
#pragma once

#include "gemrt/media/image_decode.h"

namespace gemrt {

// `img` resized to width x height (both positive); the same image when the size is unchanged.
RgbImage resize_bicubic(const RgbImage& img, int width, int height);

}  // namespace gemrt
