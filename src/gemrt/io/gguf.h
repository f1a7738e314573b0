// GGUF (v2, v3) reading: memory-mapped, with every offset and size checked before use.
//
// Layout (little-endian): "GGUF", u32 version, u64 tensor count, u64 metadata count; metadata
// key/value pairs (key = u64 length + bytes; u32 value type; value); tensor infos (name, u32 rank,
// u64 dims[rank] fastest-varying first, u32 ggml type, u64 offset into the data section); then
// the data section, aligned to `general.alignment` (default 32).
//
// Tensor shapes are reported row-major, outermost first (GGUF's ne[] reversed), so a GGUF
// matrix with ne = [in, out] is a TensorView of shape [out, in] — the HF nn.Linear layout.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gemrt/core/tensor.h"
#include "gemrt/io/mapped_file.h"
#include "gemrt/io/tensor_store.h"

namespace gemrt {

enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9,
  U64 = 10, I64 = 11, F64 = 12,
};
const char* gguf_type_name(GgufType t);

// One metadata value. Scalars and strings are decoded; arrays keep their element type and point
// into the mapped file (strings as views), so a 262k-entry vocabulary costs no copies.
class GgufValue {
 public:
  GgufType type() const { return type_; }
  GgufType element_type() const { return elem_; }  // arrays only

  bool is_integer() const;
  bool is_number() const { return is_integer() || type_ == GgufType::F32 || type_ == GgufType::F64; }

  int64_t as_int(const std::string& key) const;       // any integer type (u64 above INT64_MAX fails)
  double as_number(const std::string& key) const;     // any integer or float type
  bool as_bool(const std::string& key) const;
  const std::string& as_string(const std::string& key) const;

  size_t array_size(const std::string& key) const;
  std::vector<std::string_view> as_string_array(const std::string& key) const;
  std::vector<double> as_number_array(const std::string& key) const;   // any numeric element type
  std::vector<float> as_float_array(const std::string& key) const;
  std::vector<int64_t> as_int_array(const std::string& key) const;

 private:
  friend struct GgufReader;
  [[noreturn]] void wrong_type(const std::string& key, const char* wanted) const;

  GgufType type_ = GgufType::U8;
  GgufType elem_ = GgufType::U8;
  uint64_t u_ = 0;    // unsigned integers and bool
  int64_t i_ = 0;     // signed integers
  double f_ = 0.0;    // floats
  std::string s_;     // strings
  std::string source_;
  // Arrays: element count, raw element bytes (fixed-size types) or string views.
  uint64_t count_ = 0;
  const std::byte* raw_ = nullptr;
  std::vector<std::string_view> strings_;
  std::vector<GgufValue> nested_;  // arrays of arrays (rare)
};

struct GgufTensorInfo {
  uint32_t ggml_type = 0;
  uint64_t offset = 0;  // within the data section
};

class GgufFile final : public TensorStore {
 public:
  // Validates the header, every metadata entry, every tensor info (known type, sizes, offsets
  // inside the file) before returning. Errors name the file and the key or tensor.
  static std::unique_ptr<GgufFile> open(const std::string& path);

  uint32_t version() const { return version_; }
  const std::string& architecture() const;  // general.architecture

  // nullptr if absent.
  const GgufValue* find_meta(std::string_view key) const;
  // Throws naming the key and file if absent.
  const GgufValue& meta(std::string_view key) const;
  const std::map<std::string, GgufValue, std::less<>>& metadata() const { return meta_; }

  const TensorView* find(std::string_view name) const override;
  std::vector<std::string> names() const override;
  const std::string& source() const override { return file_->path(); }
  int64_t file_size() const { return file_->size(); }

 private:
  friend struct GgufReader;
  explicit GgufFile(std::shared_ptr<const MappedFile> f) : file_(std::move(f)) {}
  std::shared_ptr<const MappedFile> file_;
  uint32_t version_ = 0;
  std::map<std::string, GgufValue, std::less<>> meta_;
  std::map<std::string, TensorView, std::less<>> tensors_;
};

// Whether `path` starts with the GGUF magic.
bool is_gguf_file(const std::string& path);

}  // namespace gemrt
