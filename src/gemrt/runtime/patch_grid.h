// Gemma 4 vision tower input (spec §6.6): the processor's patches and their (x, y) positions
// arranged as the grid the tower's graph takes (model/gemma/gemma4_vision_graph.h).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace gemrt {

struct PatchGrid {
  int rows = 0, cols = 0;        // the image's patch grid (0 x 0: only padding)
  std::vector<float> patches;    // [rows * cols, patch_values], row-major grid order, values 2 (v - 0.5)
  std::vector<int32_t> x, y;     // [rows * cols] each: the patch's x and y
  int64_t output_length = 0;     // HF's pooled length: all patches given (padding too) / pooling^2
};

// pixels float32 [P, patch_values] with positions int32 [P, 2] (x, y; (-1, -1) marks a padding
// patch, dropped). P must be a multiple of pooling^2 (transformers' Gemma4VisionPooler pools P
// patches to P / pooling^2 slots), and the non-padding patches must cover a cols x rows grid
// exactly once (cols = max x + 1, rows = max y + 1), both multiples of `pooling`, every
// coordinate below `posemb_size`: then the pooler's slots x / k + (cols / k) (y / k) are the
// pooled grid in row-major order. Throws saying which condition fails (naming the patch) otherwise.
PatchGrid arrange_patch_grid(std::span<const float> pixels, std::span<const int32_t> positions, int64_t patch_values,
                             int64_t posemb_size, int pooling);

}  // namespace gemrt
