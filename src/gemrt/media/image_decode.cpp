#include "gemrt/media/image_decode.h"

#include <csetjmp>
#include <cstdio>
#include <cstring>

// libjpeg's header needs size_t and FILE declared first.
#include <jpeglib.h>
#include <png.h>

#include "gemrt/core/error.h"
#include "gemrt/io/mapped_file.h"

namespace gemrt {
namespace {

// ---- EXIF orientation (tag 0x0112 of IFD0), which HF's load_image applies
// (PIL.ImageOps.exif_transpose) before a processor sees the image.

// The orientation in a TIFF-structured EXIF block (1 when absent or unreadable).
int exif_orientation(const uint8_t* p, size_t n) {
  if (n < 8) return 1;
  const bool le = p[0] == 'I' && p[1] == 'I';
  if (!le && !(p[0] == 'M' && p[1] == 'M')) return 1;
  const auto u16 = [&](size_t at) -> uint32_t { return le ? p[at] | (p[at + 1] << 8) : (p[at] << 8) | p[at + 1]; };
  const auto u32 = [&](size_t at) -> uint32_t {
    return le ? u16(at) | (u16(at + 2) << 16) : (u16(at) << 16) | u16(at + 2);
  };
  const size_t ifd = u32(4);
  if (ifd + 2 > n) return 1;
  const size_t entries = u16(ifd);
  for (size_t e = 0; e < entries; ++e) {
    const size_t at = ifd + 2 + 12 * e;
    if (at + 12 > n) return 1;
    if (u16(at) == 0x0112 && u16(at + 2) == 3) {
      const uint32_t v = u16(at + 8);
      return v >= 1 && v <= 8 ? static_cast<int>(v) : 1;
    }
  }
  return 1;
}

// The image as it is meant to be shown: PIL's exif_transpose (2 mirror, 3 rotate 180, 4 flip,
// 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise).
RgbImage apply_orientation(RgbImage in, int orientation) {
  if (orientation <= 1) return in;
  const int w = in.width, h = in.height;
  const bool swap = orientation >= 5;
  RgbImage out{swap ? h : w, swap ? w : h, std::vector<uint8_t>(in.rgb.size())};
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x) {
      int sx = x, sy = y;
      switch (orientation) {
        case 2: sx = w - 1 - x; break;
        case 3: sx = w - 1 - x, sy = h - 1 - y; break;
        case 4: sy = h - 1 - y; break;
        case 5: sx = y, sy = x; break;
        case 6: sx = y, sy = h - 1 - x; break;
        case 7: sx = w - 1 - y, sy = h - 1 - x; break;
        case 8: sx = w - 1 - y, sy = x; break;
        default: break;
      }
      const size_t s = (static_cast<size_t>(sy) * static_cast<size_t>(w) + static_cast<size_t>(sx)) * 3;
      const size_t d = (static_cast<size_t>(y) * static_cast<size_t>(out.width) + static_cast<size_t>(x)) * 3;
      std::memcpy(out.rgb.data() + d, in.rgb.data() + s, 3);
    }
  return out;
}

// ---- PNG (libpng's longjmp error handling: nothing with a destructor lives across setjmp)

struct PngReader {
  std::span<const std::byte> data;
  size_t pos = 0;
  char message[256] = {};
  std::vector<png_bytep> rows;  // here, not a local of the function that calls setjmp
  int orientation = 1;          // from an eXIf chunk
};

void png_read_bytes(png_structp png, png_bytep out, png_size_t n) {
  auto* r = static_cast<PngReader*>(png_get_io_ptr(png));
  if (n > r->data.size() - r->pos) png_error(png, "unexpected end of data (truncated file)");
  std::memcpy(out, r->data.data() + r->pos, n);
  r->pos += n;
}

void png_on_error(png_structp png, png_const_charp msg) {
  auto* r = static_cast<PngReader*>(png_get_error_ptr(png));
  std::snprintf(r->message, sizeof r->message, "%s", msg);
  png_longjmp(png, 1);
}

void png_on_warning(png_structp, png_const_charp) {}

// Decodes into `img`; returns false with reader.message set on a libpng error.
bool decode_png_into(PngReader& reader, RgbImage& img, const std::string& source) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, png_on_error, png_on_warning);
  if (!png) fail(source, ": cannot create a PNG reader");
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    fail(source, ": cannot create a PNG reader");
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_set_read_fn(png, &reader, png_read_bytes);
  png_set_user_limits(png, 1u << 24, 1u << 24);
  png_read_info(png, info);
  const png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  if (w == 0 || h == 0 || int64_t{w} * h > kMaxImagePixels) {
    std::snprintf(reader.message, sizeof reader.message, "image of %u x %u pixels is empty or larger than gemrt reads",
                  w, h);
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  // PIL's convert("RGB"): palette and low-bit grey expanded, 16-bit cut to 8 (the high byte), grey
  // replicated to RGB, alpha (and tRNS transparency) dropped.
  png_set_expand(png);
  png_set_strip_16(png);
  png_set_gray_to_rgb(png);
  png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_rowbytes(png, info) != size_t{w} * 3) png_error(png, "unexpected row layout after conversion to RGB");
  img.width = static_cast<int>(w);
  img.height = static_cast<int>(h);
  img.rgb.resize(size_t{w} * h * 3);
  reader.rows.resize(h);
  for (png_uint_32 y = 0; y < h; ++y) reader.rows[y] = img.rgb.data() + size_t{y} * w * 3;
  png_read_image(png, reader.rows.data());
  png_read_end(png, info);
  png_uint_32 exif_size = 0;
  png_bytep exif = nullptr;
  if (png_get_eXIf_1(png, info, &exif_size, &exif) != 0 && exif) reader.orientation = exif_orientation(exif, exif_size);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

RgbImage decode_png(std::span<const std::byte> data, const std::string& source) {
  PngReader reader;
  reader.data = data;
  RgbImage img;
  if (!decode_png_into(reader, img, source)) fail(source, ": not a readable PNG: ", reader.message);
  return apply_orientation(std::move(img), reader.orientation);
}

// ---- JPEG (libjpeg-turbo, PIL's defaults: islow DCT, fancy upsampling)

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = {};
  bool warned = false;  // corrupt or missing data that libjpeg would paper over
  int orientation = 1;  // from an Exif APP1 marker
};

void jpeg_on_error(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}

// libjpeg carries on past corrupt entropy data and a premature end of file with a warning and
// grey or garbled pixels; gemrt refuses such files instead (spec: never garbage output).
void jpeg_on_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  auto* e = reinterpret_cast<JpegError*>(cinfo->err);
  if (!e->warned) (*cinfo->err->format_message)(cinfo, e->message);
  e->warned = true;
}

bool decode_jpeg_into(std::span<const std::byte> data, RgbImage& img, JpegError& err, bool& cmyk) {
  jpeg_decompress_struct cinfo{};
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_on_error;
  err.mgr.emit_message = jpeg_on_message;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(data.data()), static_cast<unsigned long>(data.size()));
  jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xffff);
  jpeg_read_header(&cinfo, TRUE);
  for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next)
    if (m->marker == JPEG_APP0 + 1 && m->data_length > 6 && std::memcmp(m->data, "Exif\0\0", 6) == 0)
      err.orientation = exif_orientation(m->data + 6, m->data_length - 6);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    cmyk = true;
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  cinfo.out_color_space = JCS_RGB;
  cinfo.dct_method = JDCT_ISLOW;
  cinfo.do_fancy_upsampling = TRUE;
  if (int64_t{cinfo.image_width} * cinfo.image_height > kMaxImagePixels || cinfo.image_width == 0 ||
      cinfo.image_height == 0) {
    std::snprintf(err.message, sizeof err.message, "image of %u x %u pixels is empty or larger than gemrt reads",
                  cinfo.image_width, cinfo.image_height);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_start_decompress(&cinfo);
  img.width = static_cast<int>(cinfo.output_width);
  img.height = static_cast<int>(cinfo.output_height);
  img.rgb.resize(size_t{cinfo.output_width} * cinfo.output_height * 3);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = img.rgb.data() + size_t{cinfo.output_scanline} * cinfo.output_width * 3;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return !err.warned;
}

RgbImage decode_jpeg(std::span<const std::byte> data, const std::string& source) {
  JpegError err;
  RgbImage img;
  bool cmyk = false;
  if (!decode_jpeg_into(data, img, err, cmyk)) {
    if (cmyk) fail(source, ": CMYK JPEG images are not supported (convert the image to RGB)");
    fail(source, ": not a readable JPEG: ", err.message);
  }
  return apply_orientation(std::move(img), err.orientation);
}

bool starts_with(std::span<const std::byte> data, std::initializer_list<unsigned> sig) {
  if (data.size() < sig.size()) return false;
  size_t i = 0;
  for (unsigned b : sig)
    if (std::to_integer<unsigned>(data[i++]) != b) return false;
  return true;
}

}  // namespace

RgbImage decode_image(std::span<const std::byte> data, const std::string& source) {
  RgbImage img;
  if (starts_with(data, {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a})) img = decode_png(data, source);
  else if (starts_with(data, {0xff, 0xd8, 0xff})) img = decode_jpeg(data, source);
  else fail(source, ": not a PNG or JPEG image (", data.size(), " bytes, unknown signature)");
  return img;
}

RgbImage decode_image_file(const std::string& path) {
  const auto file = MappedFile::open(path);
  return decode_image({file->data(), static_cast<size_t>(file->size())}, path);
}

}  // namespace gemrt
