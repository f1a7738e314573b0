// An RGB image into Gemma 3's SigLIP input (issue 8 step 3, transformers 5.17's
// Gemma3ImageProcessor at its defaults, pan-and-scan off): resized to size x size without
// keeping the aspect ratio, bilinear with antialias, rescaled by 1/255, normalised with mean 0.5
// and std 0.5 per channel: pixel_values [3, size, size], channel-major.
#pragma once

#include <vector>

#include "gemrt/media/image_decode.h"

namespace gemrt {

std::vector<float> siglip_pixel_values(const RgbImage& img, int size);

}  // namespace gemrt
