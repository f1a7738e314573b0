#include "gemrt/io/gguf.h"

#include <cstring>
#include <fstream>
#include <limits>

#include "gemrt/core/error.h"

namespace gemrt {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian u32
constexpr uint64_t kMaxRank = 8;
constexpr int kMaxNesting = 4;

// Reads little-endian values from the mapped file; every read is bounds-checked.
class Cursor {
 public:
  Cursor(const std::byte* data, uint64_t size, const std::string& path) : data_(data), size_(size), path_(path) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }
  const std::byte* here() const { return data_ + pos_; }

  void need(uint64_t n, const char* what) const {
    if (n > size_ - pos_)
      fail(path_, ": truncated GGUF: ", what, " at byte ", pos_, " needs ", n, " bytes but the file has ", size_ - pos_,
           " left");
  }
  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string_view read_string(const char* what) {
    const auto n = read<uint64_t>(what);
    need(n, what);
    std::string_view s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(n));
    pos_ += n;
    return s;
  }
  void skip(uint64_t n, const char* what) {
    need(n, what);
    pos_ += n;
  }

 private:
  const std::byte* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  const std::string& path_;
};

uint64_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::Bool: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    default: return 0;
  }
}

bool valid_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::F64); }

template <typename T>
T load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Decodes element `i` of a fixed-size numeric array as double.
double element_number(GgufType t, const std::byte* raw, uint64_t i) {
  const std::byte* p = raw + i * scalar_size(t);
  switch (t) {
    case GgufType::U8: return load<uint8_t>(p);
    case GgufType::I8: return load<int8_t>(p);
    case GgufType::U16: return load<uint16_t>(p);
    case GgufType::I16: return load<int16_t>(p);
    case GgufType::U32: return load<uint32_t>(p);
    case GgufType::I32: return load<int32_t>(p);
    case GgufType::F32: return static_cast<double>(load<float>(p));
    case GgufType::U64: return static_cast<double>(load<uint64_t>(p));
    case GgufType::I64: return static_cast<double>(load<int64_t>(p));
    case GgufType::F64: return load<double>(p);
    case GgufType::Bool: return load<uint8_t>(p) ? 1.0 : 0.0;
    default: return 0.0;
  }
}

}  // namespace

const char* gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::U8: return "u8";
    case GgufType::I8: return "i8";
    case GgufType::U16: return "u16";
    case GgufType::I16: return "i16";
    case GgufType::U32: return "u32";
    case GgufType::I32: return "i32";
    case GgufType::F32: return "f32";
    case GgufType::Bool: return "bool";
    case GgufType::String: return "string";
    case GgufType::Array: return "array";
    case GgufType::U64: return "u64";
    case GgufType::I64: return "i64";
    case GgufType::F64: return "f64";
  }
  return "?";
}

// ---- GgufValue ----------------------------------------------------------------------------------

bool GgufValue::is_integer() const {
  switch (type_) {
    case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16: case GgufType::U32:
    case GgufType::I32: case GgufType::U64: case GgufType::I64: return true;
    default: return false;
  }
}

void GgufValue::wrong_type(const std::string& key, const char* wanted) const {
  std::string got = gguf_type_name(type_);
  if (type_ == GgufType::Array) got += str(" of ", gguf_type_name(elem_));
  fail(source_, ": metadata key '", key, "' has type ", got, ", expected ", wanted);
}

int64_t GgufValue::as_int(const std::string& key) const {
  if (!is_integer()) wrong_type(key, "an integer");
  if (type_ == GgufType::I8 || type_ == GgufType::I16 || type_ == GgufType::I32 || type_ == GgufType::I64) return i_;
  if (u_ > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    fail(source_, ": metadata key '", key, "' value ", u_, " is out of range");
  return static_cast<int64_t>(u_);
}

double GgufValue::as_number(const std::string& key) const {
  if (type_ == GgufType::F32 || type_ == GgufType::F64) return f_;
  if (!is_integer()) wrong_type(key, "a number");
  return static_cast<double>(as_int(key));
}

bool GgufValue::as_bool(const std::string& key) const {
  if (type_ != GgufType::Bool) wrong_type(key, "bool");
  return u_ != 0;
}

const std::string& GgufValue::as_string(const std::string& key) const {
  if (type_ != GgufType::String) wrong_type(key, "string");
  return s_;
}

size_t GgufValue::array_size(const std::string& key) const {
  if (type_ != GgufType::Array) wrong_type(key, "array");
  return static_cast<size_t>(count_);
}

std::vector<std::string_view> GgufValue::as_string_array(const std::string& key) const {
  if (type_ != GgufType::Array || elem_ != GgufType::String) wrong_type(key, "array of string");
  return strings_;
}

std::vector<double> GgufValue::as_number_array(const std::string& key) const {
  if (type_ != GgufType::Array || scalar_size(elem_) == 0 || elem_ == GgufType::Bool)
    wrong_type(key, "array of numbers");
  std::vector<double> out(static_cast<size_t>(count_));
  for (uint64_t i = 0; i < count_; ++i) out[static_cast<size_t>(i)] = element_number(elem_, raw_, i);
  return out;
}

std::vector<float> GgufValue::as_float_array(const std::string& key) const {
  const std::vector<double> d = as_number_array(key);
  return std::vector<float>(d.begin(), d.end());
}

std::vector<int64_t> GgufValue::as_int_array(const std::string& key) const {
  const bool integral = scalar_size(elem_) != 0 && elem_ != GgufType::F32 && elem_ != GgufType::F64;
  if (type_ != GgufType::Array || !integral)
    wrong_type(key, "array of integers");
  std::vector<int64_t> out(static_cast<size_t>(count_));
  for (uint64_t i = 0; i < count_; ++i) {
    const std::byte* p = raw_ + i * scalar_size(elem_);
    int64_t v = 0;
    switch (elem_) {
      case GgufType::U8: case GgufType::Bool: v = load<uint8_t>(p); break;
      case GgufType::I8: v = load<int8_t>(p); break;
      case GgufType::U16: v = load<uint16_t>(p); break;
      case GgufType::I16: v = load<int16_t>(p); break;
      case GgufType::U32: v = load<uint32_t>(p); break;
      case GgufType::I32: v = load<int32_t>(p); break;
      case GgufType::I64: v = load<int64_t>(p); break;
      case GgufType::U64: {
        const auto u = load<uint64_t>(p);
        if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
          fail(source_, ": metadata key '", key, "' element ", i, " is out of range");
        v = static_cast<int64_t>(u);
        break;
      }
      default: break;
    }
    out[static_cast<size_t>(i)] = v;
  }
  return out;
}

// ---- GgufFile -----------------------------------------------------------------------------------

// Builds GgufValues and the GgufFile (friend of both).
struct GgufReader {
  static GgufValue read_value(Cursor& c, GgufType type, const std::string& key, const std::string& path, int depth) {
    GgufValue v;
    v.type_ = type;
    v.source_ = path;
    switch (type) {
      case GgufType::U8: v.u_ = c.read<uint8_t>("metadata value"); break;
      case GgufType::I8: v.i_ = c.read<int8_t>("metadata value"); break;
      case GgufType::U16: v.u_ = c.read<uint16_t>("metadata value"); break;
      case GgufType::I16: v.i_ = c.read<int16_t>("metadata value"); break;
      case GgufType::U32: v.u_ = c.read<uint32_t>("metadata value"); break;
      case GgufType::I32: v.i_ = c.read<int32_t>("metadata value"); break;
      case GgufType::U64: v.u_ = c.read<uint64_t>("metadata value"); break;
      case GgufType::I64: v.i_ = c.read<int64_t>("metadata value"); break;
      case GgufType::F32: v.f_ = static_cast<double>(c.read<float>("metadata value")); break;
      case GgufType::F64: v.f_ = c.read<double>("metadata value"); break;
      case GgufType::Bool: {
        const auto b = c.read<uint8_t>("metadata value");
        if (b > 1) fail(path, ": metadata key '", key, "' is a bool with value ", int{b});
        v.u_ = b;
        break;
      }
      case GgufType::String: v.s_ = std::string(c.read_string("metadata string")); break;
      case GgufType::Array: {
        const auto elem = c.read<uint32_t>("array element type");
        if (!valid_type(elem)) fail(path, ": metadata key '", key, "' is an array of unknown type ", elem);
        v.elem_ = static_cast<GgufType>(elem);
        v.count_ = c.read<uint64_t>("array length");
        if (v.elem_ == GgufType::String) {
          // Each string takes at least its 8-byte length: reject impossible counts before reserving.
          if (v.count_ > c.remaining() / 8)
            fail(path, ": truncated GGUF: metadata key '", key, "' claims ", v.count_, " strings");
          v.strings_.reserve(static_cast<size_t>(v.count_));
          for (uint64_t i = 0; i < v.count_; ++i) v.strings_.push_back(c.read_string("array string"));
        } else if (v.elem_ == GgufType::Array) {
          if (depth >= kMaxNesting) fail(path, ": metadata key '", key, "' nests arrays too deeply");
          if (v.count_ > c.remaining() / 12)
            fail(path, ": truncated GGUF: metadata key '", key, "' claims ", v.count_, " nested arrays");
          for (uint64_t i = 0; i < v.count_; ++i) {
            const auto inner = c.read<uint32_t>("nested array type");
            if (inner != static_cast<uint32_t>(GgufType::Array))
              fail(path, ": metadata key '", key, "' nested array element is not an array");
            v.nested_.push_back(read_value(c, GgufType::Array, key, path, depth + 1));
          }
        } else {
          const uint64_t size = scalar_size(v.elem_);
          if (v.count_ > std::numeric_limits<uint64_t>::max() / size)
            fail(path, ": metadata key '", key, "' array length ", v.count_, " overflows");
          v.raw_ = c.here();
          c.skip(v.count_ * size, "array data");
        }
        break;
      }
    }
    return v;
  }

  static std::unique_ptr<GgufFile> open(const std::string& path) {
    auto file = MappedFile::open(path);
    std::unique_ptr<GgufFile> g(new GgufFile(file));
    const auto size = static_cast<uint64_t>(file->size());
    Cursor c(file->data(), size, path);
    if (size < 4 || load<uint32_t>(file->data()) != kMagic) fail(path, ": not a GGUF file (bad magic; expected \"GGUF\")");
    c.skip(4, "magic");
    g->version_ = c.read<uint32_t>("version");
    if (g->version_ != 2 && g->version_ != 3)
      fail(path, ": unsupported GGUF version ", g->version_, " (gemrt reads versions 2 and 3)");
    const auto n_tensors = c.read<uint64_t>("tensor count");
    const auto n_kv = c.read<uint64_t>("metadata count");
    // Every entry takes at least 8 bytes of key length: impossible counts fail before any loop.
    if (n_kv > size / 8 || n_tensors > size / 8)
      fail(path, ": corrupt GGUF header: ", n_tensors, " tensors and ", n_kv, " metadata entries in ", size, " bytes");

    for (uint64_t i = 0; i < n_kv; ++i) {
      const std::string key(c.read_string("metadata key"));
      const auto type = c.read<uint32_t>("metadata type");
      if (!valid_type(type)) fail(path, ": metadata key '", key, "' has unknown value type ", type);
      GgufValue v = read_value(c, static_cast<GgufType>(type), key, path, 0);
      if (!g->meta_.emplace(key, std::move(v)).second) fail(path, ": metadata key '", key, "' appears twice");
    }

    uint64_t alignment = 32;
    if (const GgufValue* a = g->find_meta("general.alignment")) {
      const int64_t al = a->as_int("general.alignment");
      if (al <= 0 || (al & (al - 1)) != 0) fail(path, ": general.alignment must be a power of two, got ", al);
      alignment = static_cast<uint64_t>(al);
    }

    struct Info {
      std::string name;
      std::vector<int64_t> dims;  // outermost first
      DType dtype;
      uint64_t offset, bytes;
    };
    std::vector<Info> infos;
    infos.reserve(static_cast<size_t>(n_tensors));
    for (uint64_t i = 0; i < n_tensors; ++i) {
      Info t;
      t.name = std::string(c.read_string("tensor name"));
      const auto rank = c.read<uint32_t>("tensor rank");
      if (rank == 0 || rank > kMaxRank) fail(path, ": tensor '", t.name, "' has rank ", rank, " (expected 1..", kMaxRank, ")");
      std::vector<int64_t> ne(rank);
      int64_t numel = 1;
      for (uint32_t d = 0; d < rank; ++d) {
        const auto n = c.read<uint64_t>("tensor dimension");
        if (n > (uint64_t{1} << 40) || (n != 0 && static_cast<uint64_t>(numel) > (uint64_t{1} << 50) / n))
          fail(path, ": tensor '", t.name, "' dimension ", d, " = ", n, " is too large");
        ne[d] = static_cast<int64_t>(n);
        numel *= static_cast<int64_t>(n);
      }
      t.dims.assign(ne.rbegin(), ne.rend());
      const auto type = c.read<uint32_t>("tensor type");
      if (!dtype_from_ggml(type, &t.dtype))
        fail(path, ": tensor '", t.name, "' has unknown or unsupported ggml type ", type);
      const DTypeInfo& info = dtype_info(t.dtype);
      if (ne[0] % info.block_elems != 0)
        fail(path, ": tensor '", t.name, "' rows of ", ne[0], " values are not whole ", info.name, " blocks of ",
             info.block_elems);
      t.bytes = static_cast<uint64_t>(dtype_bytes(t.dtype, numel));
      t.offset = c.read<uint64_t>("tensor offset");
      if (t.offset % alignment != 0)
        fail(path, ": tensor '", t.name, "' offset ", t.offset, " is not aligned to ", alignment);
      infos.push_back(std::move(t));
    }

    const uint64_t data_start = (c.pos() + alignment - 1) / alignment * alignment;
    if (data_start > size && n_tensors > 0) fail(path, ": truncated GGUF: no tensor data after the header");
    const uint64_t data_size = size > data_start ? size - data_start : 0;
    for (Info& t : infos) {
      if (t.offset > data_size || t.bytes > data_size - t.offset)
        fail(path, ": tensor '", t.name, "' data [", t.offset, ", ", t.offset + t.bytes, ") runs past the end of the file (",
             data_size, " bytes of tensor data; is the file truncated?)");
      TensorView v;
      v.name = t.name;
      v.dtype = t.dtype;
      v.shape = Shape(std::move(t.dims));
      v.data = file->data() + data_start + t.offset;
      if (!g->tensors_.emplace(t.name, std::move(v)).second) fail(path, ": tensor '", t.name, "' appears twice");
    }
    return g;
  }
};

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) { return GgufReader::open(path); }

const std::string& GgufFile::architecture() const { return meta("general.architecture").as_string("general.architecture"); }

const GgufValue* GgufFile::find_meta(std::string_view key) const {
  auto it = meta_.find(key);
  return it == meta_.end() ? nullptr : &it->second;
}

const GgufValue& GgufFile::meta(std::string_view key) const {
  const GgufValue* v = find_meta(key);
  if (!v) fail(source(), ": missing metadata key '", key, "'");
  return *v;
}

const TensorView* GgufFile::find(std::string_view name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

std::vector<std::string> GgufFile::names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : tensors_) out.push_back(k);
  return out;
}

bool is_gguf_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0;
}

}  // namespace gemrt
