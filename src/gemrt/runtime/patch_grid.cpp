#include "gemrt/runtime/patch_grid.h"

#include <algorithm>

#include "gemrt/core/error.h"

namespace gemrt {

PatchGrid arrange_patch_grid(std::span<const float> pixels, std::span<const int32_t> positions, int64_t patch_values,
                             int64_t posemb_size, int pooling) {
  const auto values = static_cast<size_t>(patch_values);
  if (positions.size() % 2 != 0 || pixels.size() != positions.size() / 2 * values)
    fail("image input: ", pixels.size(), " pixel values and ", positions.size(), " position values do not make [P, ",
         patch_values, "] patches with [P, 2] positions");
  const size_t p_total = positions.size() / 2;
  const auto k2 = static_cast<size_t>(pooling) * static_cast<size_t>(pooling);
  if (p_total % k2 != 0)
    fail("image input: ", p_total, " patches do not pool to soft tokens in ", pooling, " x ", pooling,
         " squares (a multiple of ", k2, " expected, padding included)");
  PatchGrid g;
  g.output_length = static_cast<int64_t>(p_total / k2);
  int32_t max_x = -1, max_y = -1;
  size_t valid = 0;
  for (size_t p = 0; p < p_total; ++p) {
    const int32_t x = positions[2 * p], y = positions[2 * p + 1];
    if (x == -1 && y == -1) continue;  // padding
    if (x < 0 || y < 0 || x >= posemb_size || y >= posemb_size)
      fail("image input: patch ", p, " has position (", x, ", ", y, "), outside [0, ", posemb_size,
           ") (or (-1, -1) for padding)");
    max_x = std::max(max_x, x);
    max_y = std::max(max_y, y);
    ++valid;
  }
  if (valid == 0) return g;
  const int cols = max_x + 1, rows = max_y + 1;
  if (static_cast<size_t>(cols) * static_cast<size_t>(rows) != valid)
    fail("image input: ", valid, " patches with positions up to (", max_x, ", ", max_y, ") do not cover a ", cols,
         " x ", rows, " grid");
  if (cols % pooling != 0 || rows % pooling != 0)
    fail("image input: a ", cols, " x ", rows, " patch grid does not pool in ", pooling, " x ", pooling, " squares");
  // (A complete grid pools to valid / pooling^2 <= p_total / pooling^2 tokens: HF's output length.)
  g.rows = rows;
  g.cols = cols;
  g.patches.assign(valid * values, 0.0f);
  g.x.assign(valid, -1);
  g.y.assign(valid, -1);
  for (size_t p = 0; p < p_total; ++p) {
    const int32_t x = positions[2 * p], y = positions[2 * p + 1];
    if (x == -1 && y == -1) continue;
    const size_t slot = static_cast<size_t>(y) * static_cast<size_t>(cols) + static_cast<size_t>(x);
    if (g.x[slot] >= 0) fail("image input: patches at (", x, ", ", y, ") twice (patch ", p, ")");
    g.x[slot] = x;
    g.y[slot] = y;
    // Gemma4VisionPatchEmbedder: 2 (v - 0.5) in float32.
    const float* src = pixels.data() + p * values;
    float* dst = g.patches.data() + slot * values;
    for (size_t i = 0; i < values; ++i) dst[i] = 2.0f * (src[i] - 0.5f);
  }
  return g;
}

}  // namespace gemrt
