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
  const TensorView* mel = file->find("audio_mel");
  const TensorView* mel_mask = file->find("audio_mel_mask");
  if (mel_mask && !mel) fail(path, ": 'audio_mel_mask' without 'audio_mel'");
  if (mel) {
    if (!mel_mask) fail(path, ": 'audio_mel' needs 'audio_mel_mask' [F] (1 = a valid frame)");
    if (m.has_audio) fail(path, ": both 'audio_frames' and 'audio_mel': one audio input per file");
    m.has_audio_mel = true;
    m.audio_mel = floats(path, *mel);
    const Shape ms = rows_and_width(path, *mel);
    m.audio_mel_bins = ms[1];
    Shape ks = mel_mask->shape;
    if (ks.rank() == 2 && ks[0] == 1) ks = Shape{ks[1]};
    if (ks != Shape{ms[0]})
      fail(path, ": 'audio_mel_mask' must be [", ms[0], "] for ", ms[0], " frames, got ", mel_mask->shape.to_string());
    m.audio_mel_mask.resize(static_cast<size_t>(ms[0]));
    const size_t e = mel_mask->dtype == DType::I64 ? 8 : mel_mask->dtype == DType::I32 ? 4 : 1;
    if (mel_mask->dtype != DType::I64 && mel_mask->dtype != DType::I32 && mel_mask->dtype != DType::U8)
      fail(path, ": 'audio_mel_mask' must be I32, I64 or U8, got ", dtype_name(mel_mask->dtype));
    for (size_t i = 0; i < m.audio_mel_mask.size(); ++i) {
      int64_t v = 0;
      std::memcpy(&v, mel_mask->data + i * e, e);  // little-endian: the low bytes
      m.audio_mel_mask[i] = v != 0 ? 1 : 0;
    }
  }
  return m;
}

}  // namespace gemrt::cli
