#include "gemrt/apps/media_inputs.h"

#include <cstring>
#include <memory>

#include "gemrt/core/error.h"
#include "gemrt/io/safetensors.h"

namespace gemrt::cli {
namespace {

// The dims of `t` with a leading 1 dropped from a rank-3 tensor; must then be rank 2.
Shape rows_and_width(const std::string& path, const TensorView& t) {
  const Shape& s = t.shape;
  if (s.rank() == 2) return s;
  if (s.rank() == 3 && s[0] == 1) return Shape{s[1], s[2]};
  fail(path, ": '", t.name, "' must be [rows, width] (or [1, rows, width]), got ", s.to_string());
}

std::vector<float> floats(const std::string& path, const TensorView& t) {
  if (t.dtype != DType::F32) fail(path, ": '", t.name, "' must be F32, got ", dtype_name(t.dtype));
  rows_and_width(path, t);
  std::vector<float> v(static_cast<size_t>(t.shape.numel()));
  std::memcpy(v.data(), t.data, v.size() * sizeof(float));
  return v;
}

}  // namespace

MediaInputs read_media_inputs(const std::string& path) {
  auto file = SafetensorsFile::open(path);
  MediaInputs m;
  const TensorView* pixels = file->find("pixel_values");
  const TensorView* pos = file->find("image_position_ids");
  if (pos && !pixels) fail(path, ": 'image_position_ids' without 'pixel_values'");
  if (pixels && !pos) {  // Gemma 3: one image [3, H, W]
    if (pixels->dtype != DType::F32) fail(path, ": 'pixel_values' must be F32, got ", dtype_name(pixels->dtype));
    Shape s = pixels->shape;
    if (s.rank() == 4 && s[0] == 1) s = Shape{s[1], s[2], s[3]};
    if (s.rank() != 3)
      fail(path, ": 'pixel_values' must be [P, D] patches with 'image_position_ids', or one image [3, H, W]; got ",
           pixels->shape.to_string());
    m.has_image = true;
    m.pixel_shape = s;
    m.pixels.resize(static_cast<size_t>(s.numel()));
    std::memcpy(m.pixels.data(), pixels->data, m.pixels.size() * sizeof(float));
  } else if (pixels) {
    m.has_image = true;
    m.pixels = floats(path, *pixels);
    const Shape ps = rows_and_width(path, *pixels), qs = rows_and_width(path, *pos);
    m.pixel_shape = ps;
    if (qs != Shape{ps[0], 2})
      fail(path, ": 'image_position_ids' must be [", ps[0], ", 2] for ", ps[0], " patches, got ", pos->shape.to_string());
    m.positions.resize(static_cast<size_t>(2 * ps[0]));
    if (pos->dtype == DType::I32) {
      std::memcpy(m.positions.data(), pos->data, m.positions.size() * sizeof(int32_t));
    } else if (pos->dtype == DType::I64) {
      for (size_t i = 0; i < m.positions.size(); ++i) {
        int64_t v = 0;
        std::memcpy(&v, pos->data + i * sizeof(int64_t), sizeof v);
        if (v < -1 || v > INT32_MAX) fail(path, ": 'image_position_ids' value ", v, " is out of range");
        m.positions[i] = static_cast<int32_t>(v);
      }
    } else {
      fail(path, ": 'image_position_ids' must be I32 or I64, got ", dtype_name(pos->dtype));
    }
  }
  if (const TensorView* audio = file->find("audio_frames")) {
    m.has_audio = true;
    m.audio_frames = floats(path, *audio);
  }
  return m;
}

}  // namespace gemrt::cli
