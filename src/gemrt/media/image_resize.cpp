#include "gemrt/media/image_resize.h"

#include <algorithm>
#include <cmath>

#include "gemrt/core/error.h"

namespace gemrt {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's fixed-point weights

double cubic(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

double triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// The filter's value at x and its support (Pillow's bicubic 2, bilinear 1).
double filter_at(ResizeFilter f, double x) { return f == ResizeFilter::Bicubic ? cubic(x) : triangle(x); }
double filter_support(ResizeFilter f) { return f == ResizeFilter::Bicubic ? 2.0 : 1.0; }

// One output pixel's taps: input pixels [first, first + weights.size()).
struct Taps {
  int first = 0;
  std::vector<int32_t> weights;
};

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for in_size -> out_size.
std::vector<Taps> taps_for(int in_size, int out_size, ResizeFilter filter) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = filter_support(filter) * filter_scale;
  std::vector<Taps> taps(static_cast<size_t>(out_size));
  std::vector<double> w;
  for (int o = 0; o < out_size; ++o) {
    const double center = (o + 0.5) * scale;
    const int lo = std::max(0, static_cast<int>(center - support + 0.5));
    const int hi = std::min(in_size, static_cast<int>(center + support + 0.5));
    w.assign(static_cast<size_t>(std::max(0, hi - lo)), 0.0);
    double total = 0.0;
    for (int x = lo; x < hi; ++x)
      total += w[static_cast<size_t>(x - lo)] = filter_at(filter, (x - center + 0.5) / filter_scale);
    Taps& t = taps[static_cast<size_t>(o)];
    t.first = lo;
    for (double v : w) {
      const double k = total != 0.0 ? v / total : 0.0;
      t.weights.push_back(static_cast<int32_t>(k < 0.0 ? -0.5 + k * (1 << kPrecisionBits) : 0.5 + k * (1 << kPrecisionBits)));
    }
  }
  return taps;
}

uint8_t clip8(int64_t v) {
  if (v >= (int64_t{1} << kPrecisionBits << 8)) return 255;
  if (v <= 0) return 0;
  return static_cast<uint8_t>(v >> kPrecisionBits);
}

// One pass along the rows (horizontal) or the columns (vertical).
RgbImage resample_horizontal(const RgbImage& in, int width, ResizeFilter filter) {
  const std::vector<Taps> taps = taps_for(in.width, width, filter);
  RgbImage out{width, in.height, std::vector<uint8_t>(static_cast<size_t>(width) * static_cast<size_t>(in.height) * 3)};
  for (int y = 0; y < in.height; ++y) {
    const uint8_t* src = in.rgb.data() + static_cast<size_t>(y) * static_cast<size_t>(in.width) * 3;
    uint8_t* dst = out.rgb.data() + static_cast<size_t>(y) * static_cast<size_t>(width) * 3;
    for (int x = 0; x < width; ++x) {
      const Taps& t = taps[static_cast<size_t>(x)];
      for (int c = 0; c < 3; ++c) {
        int64_t acc = int64_t{1} << (kPrecisionBits - 1);
        for (size_t i = 0; i < t.weights.size(); ++i)
          acc += int64_t{src[(static_cast<size_t>(t.first) + i) * 3 + static_cast<size_t>(c)]} * t.weights[i];
        dst[static_cast<size_t>(x) * 3 + static_cast<size_t>(c)] = clip8(acc);
      }
    }
  }
  return out;
}

RgbImage resample_vertical(const RgbImage& in, int height, ResizeFilter filter) {
  const std::vector<Taps> taps = taps_for(in.height, height, filter);
  const size_t row = static_cast<size_t>(in.width) * 3;
  RgbImage out{in.width, height, std::vector<uint8_t>(row * static_cast<size_t>(height))};
  for (int y = 0; y < height; ++y) {
    const Taps& t = taps[static_cast<size_t>(y)];
    uint8_t* dst = out.rgb.data() + static_cast<size_t>(y) * row;
    for (size_t j = 0; j < row; ++j) {
      int64_t acc = int64_t{1} << (kPrecisionBits - 1);
      for (size_t i = 0; i < t.weights.size(); ++i)
        acc += int64_t{in.rgb[(static_cast<size_t>(t.first) + i) * row + j]} * t.weights[i];
      dst[j] = clip8(acc);
    }
  }
  return out;
}

}  // namespace

RgbImage resize_image(const RgbImage& img, int width, int height, ResizeFilter filter) {
  if (width <= 0 || height <= 0) fail("resize: target size ", width, " x ", height, " is empty");
  if (static_cast<int64_t>(width) * height > kMaxImagePixels)
    fail("resize: target size ", width, " x ", height, " is larger than gemrt handles");
  if (img.width <= 0 || img.height <= 0 || img.rgb.size() != static_cast<size_t>(img.width) * static_cast<size_t>(img.height) * 3)
    fail("resize: malformed image of ", img.width, " x ", img.height, " with ", img.rgb.size(), " bytes");
  RgbImage out = img.width == width ? img : resample_horizontal(img, width, filter);
  return out.height == height ? out : resample_vertical(out, height, filter);
}

}  // namespace gemrt
