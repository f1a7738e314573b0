// An RGB image into Gemma 4's patches: resized with its aspect ratio kept to the largest size
// whose sides are multiples of patch_size * pooling and whose patch count fits the soft-token
// budget, rescaled to [0, 1] (no normalisation), then cut into squares, each square's pixels in
// row-major (y, x, channel) order, squares in row-major order with their (x, y) grid position.
// - The unified model (issue 7 step 2, transformers 5.17's Gemma4UnifiedImageProcessor):
//   (patch_size * pooling)-pixel squares, the processor's 3 x 3 merge of 16-pixel patches, one
//   soft token each (image_to_patches).
// - The vision tower (issue 8 step 1, Gemma4ImageProcessor): patch_size-pixel squares, pooled
//   pooling x pooling into one soft token by the tower (image_to_tower_patches); the processor
//   pads them to budget * pooling^2 patches at (-1, -1), which the tower drops again, so none are
//   added here.
#pragma once

#include <cstdint>
#include <vector>

#include "gemrt/media/image_decode.h"

namespace gemrt {

// The processor's allowed soft-token budgets per image.
inline constexpr int kImageTokenBudgets[] = {70, 140, 280, 560, 1120};

struct ImagePatches {
  int64_t count = 0;               // patches (rows of pixels)
  int64_t soft_tokens = 0;         // the soft tokens they make: count, or count / pooling^2 (tower)
  int64_t values = 0;              // values per patch: 3 * side^2 (side: the square's pixels)
  std::vector<float> pixels;       // [count, values]
  std::vector<int32_t> positions;  // [count, 2]: x, y
  int width = 0, height = 0;       // the resized image
};

// The processor's target size (height, width) for an image of height x width pixels: the
// processor's get_aspect_ratio_preserving_size, including its rule for images thinner than one
// merged patch. Throws for an image it cannot fit.
std::pair<int, int> image_target_size(int height, int width, int patch_size, int pooling, int max_soft_tokens);

// Throws gemrt::Error for a budget that is not one of kImageTokenBudgets.
ImagePatches image_to_patches(const RgbImage& img, int patch_size, int pooling, int max_soft_tokens);
ImagePatches image_to_tower_patches(const RgbImage& img, int patch_size, int pooling, int max_soft_tokens);

}  // namespace gemrt
