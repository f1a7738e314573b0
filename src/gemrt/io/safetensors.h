// Safetensors reading (memory-mapped, validated) and writing.
//
// Layout (https://github.com/huggingface/safetensors): u64 little-endian header length N, N
// bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
// then the data; offsets are relative to the first byte after the header.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gemrt/core/tensor.h"
#include "gemrt/io/mapped_file.h"
#include "gemrt/io/tensor_store.h"

namespace gemrt {

// One .safetensors file. open() validates the whole header before returning: header size
// within the file, JSON well-formed, every dtype known, offsets inside the data section and
// consistent with dtype x shape. Errors name the file and the tensor.
class SafetensorsFile final : public TensorStore {
 public:
  static std::unique_ptr<SafetensorsFile> open(const std::string& path);

  const TensorView* find(std::string_view name) const override;
  std::vector<std::string> names() const override;
  const std::string& source() const override { return file_->path(); }

 private:
  explicit SafetensorsFile(std::shared_ptr<const MappedFile> file) : file_(std::move(file)) {}
  std::shared_ptr<const MappedFile> file_;
  std::map<std::string, TensorView, std::less<>> tensors_;
};

// A Hugging Face checkpoint folder: `model.safetensors`, or the shards listed by
// `model.safetensors.index.json` ("weight_map": {tensor: file}). A path to a single
// .safetensors file is accepted too.
class SafetensorsCheckpoint final : public TensorStore {
 public:
  static std::unique_ptr<SafetensorsCheckpoint> open(const std::string& path);

  const TensorView* find(std::string_view name) const override;
  std::vector<std::string> names() const override;
  const std::string& source() const override { return source_; }

 private:
  std::string source_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, const TensorView*, std::less<>> index_;
};

// Writes tensors to `path` (F32 / I32 / ... as given), names in the given order.
void write_safetensors(const std::string& path, const std::vector<HostTensor>& tensors);

// Reads every tensor of a .safetensors file into host memory (small files: CLI inputs, tests).
std::vector<HostTensor> read_safetensors(const std::string& path);

}  // namespace gemrt
