// Image files to 8-bit RGB (issue 7 step 2): PNG through libpng, JPEG through libjpeg-turbo, the
// decoders PIL uses, with PIL's `convert("RGB")` conversions (what the HF processors apply):
// grey replicated, palette expanded, alpha dropped (not composited), 16-bit samples cut to their
// high byte; and turned upright by the EXIF orientation (JPEG APP1, PNG eXIf), as HF's
// load_image does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace gemrt {

struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // [height, width, 3], row-major
};

// Largest image accepted, in pixels (a corrupt or hostile header cannot make it allocate more).
inline constexpr int64_t kMaxImagePixels = int64_t{1} << 28;

// Decodes a PNG or JPEG file (told apart by their signatures). Throws gemrt::Error naming the file
// and the problem for anything else: other formats, truncated or corrupt data, CMYK JPEGs, images
// of zero or more than kMaxImagePixels pixels.
RgbImage decode_image_file(const std::string& path);
// The same for bytes in memory; `source` names them in errors.
RgbImage decode_image(std::span<const std::byte> data, const std::string& source);

}  // namespace gemrt
