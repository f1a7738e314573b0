#include "gemrt/media/wav_decode.h"

#include <cstdint>
#include <cstring>

#include "gemrt/core/error.h"
#include "gemrt/io/mapped_file.h"

namespace gemrt {
namespace {

uint32_t le32(const std::byte* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | std::to_integer<uint32_t>(p[i]);
  return v;
}
uint16_t le16(const std::byte* p) { return static_cast<uint16_t>(std::to_integer<uint32_t>(p[0]) | (std::to_integer<uint32_t>(p[1]) << 8)); }

constexpr uint16_t kPcm = 1, kFloat = 3, kExtensible = 0xfffe;

}  // namespace

AudioClip decode_wav(std::span<const std::byte> data, const std::string& source) {
  if (data.size() < 12 || std::memcmp(data.data(), "RIFF", 4) != 0 || std::memcmp(data.data() + 8, "WAVE", 4) != 0)
    fail(source, ": not a WAV file (no RIFF/WAVE header)");
  uint16_t format = 0, channels = 0, bits = 0, block = 0;
  uint32_t rate = 0;
  bool have_fmt = false;
  std::span<const std::byte> samples;
  bool have_data = false;
  for (size_t pos = 12; pos + 8 <= data.size();) {
    const std::byte* chunk = data.data() + pos;
    const uint32_t size = le32(chunk + 4);
    const size_t body = pos + 8;
    const size_t available = data.size() - body;
    if (std::memcmp(chunk, "fmt ", 4) == 0) {
      if (size < 16 || size > available) fail(source, ": malformed 'fmt ' chunk of ", size, " bytes");
      format = le16(chunk + 8);
      channels = le16(chunk + 10);
      rate = le32(chunk + 12);
      block = le16(chunk + 20);
      bits = le16(chunk + 22);
      if (format == kExtensible) {
        if (size < 40) fail(source, ": WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk of ", size, " bytes (40 expected)");
        format = le16(chunk + 8 + 24);  // the sub-format GUID's first two bytes
      }
      have_fmt = true;
    } else if (std::memcmp(chunk, "data", 4) == 0) {
      if (!have_fmt) fail(source, ": 'data' chunk before the 'fmt ' chunk");
      if (size > available) fail(source, ": truncated: the 'data' chunk says ", size, " bytes, ", available, " follow");
      samples = data.subspan(body, size);
      have_data = true;
      break;
    }
    if (size > available) break;
    pos = body + size + (size & 1);  // chunks are padded to even sizes
  }
  if (!have_fmt) fail(source, ": no 'fmt ' chunk");
  if (!have_data) fail(source, ": no 'data' chunk");
  if (channels == 0 || rate == 0) fail(source, ": ", channels, " channels at ", rate, " Hz");
  const bool pcm = format == kPcm && (bits == 8 || bits == 16 || bits == 24 || bits == 32);
  const bool flt = format == kFloat && (bits == 32 || bits == 64);
  if (!pcm && !flt)
    fail(source, ": unsupported WAV encoding (format tag ", format, ", ", bits,
         " bits); PCM 8/16/24/32-bit and float 32/64-bit are read");
  const size_t width = bits / 8;
  if (block != width * channels) fail(source, ": block size ", block, " does not match ", channels, " x ", bits, " bits");
  AudioClip clip;
  clip.sample_rate = static_cast<int>(rate);
  clip.channels = channels;
  const size_t n = samples.size() / width;
  clip.samples.resize(n - n % channels);
  for (size_t i = 0; i < clip.samples.size(); ++i) {
    const std::byte* p = samples.data() + i * width;
    float v = 0.0f;
    if (flt && bits == 32) {
      const uint32_t u = le32(p);
      std::memcpy(&v, &u, 4);
    } else if (flt) {
      const uint64_t u = uint64_t{le32(p)} | (uint64_t{le32(p + 4)} << 32);
      double d = 0.0;
      std::memcpy(&d, &u, 8);
      v = static_cast<float>(d);
    } else if (bits == 8) {
      v = static_cast<float>(std::to_integer<int>(p[0]) - 128) / 128.0f;
    } else if (bits == 16) {
      v = static_cast<float>(static_cast<int16_t>(le16(p))) / 32768.0f;
    } else if (bits == 24) {
      const int32_t s = static_cast<int32_t>((uint32_t{le16(p)} | (std::to_integer<uint32_t>(p[2]) << 16)) << 8) >> 8;
      v = static_cast<float>(s) / 8388608.0f;
    } else {
      v = static_cast<float>(static_cast<double>(static_cast<int32_t>(le32(p))) / 2147483648.0);
    }
    clip.samples[i] = v;
  }
  return clip;
}

AudioClip decode_wav_file(const std::string& path) {
  const auto file = MappedFile::open(path);
  return decode_wav({file->data(), static_cast<size_t>(file->size())}, path);
}

}  // namespace gemrt
