// A read-only memory map of a whole file. Weights are read through such maps and never
// modified (PROT_READ, MAP_PRIVATE).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace gemrt {

class MappedFile {
 public:
  // Throws gemrt::Error naming the path if it cannot be opened or mapped.
  static std::shared_ptr<const MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  int64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, const std::byte* data, int64_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  const std::byte* data_;
  int64_t size_;
};

}  // namespace gemrt
