// Test helper: a GGUF file copied with edits (keys removed or set, tensors removed, renamed or
// given a second name), so tests can feed the loaders files that are wrong in one known way. Works
// on the raw layout (gemrt/io/gguf.h): the data section is copied as it is, so tensor offsets stay
// valid whatever the header becomes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gemrt::test {

class GgufEdit {
 public:
  explicit GgufEdit(const std::string& path);  // fails the test (and throws) on a malformed file

  GgufEdit& remove_key(const std::string& key);
  GgufEdit& set_u32(const std::string& key, uint32_t value);  // replaces the key, or adds it
  GgufEdit& set_string(const std::string& key, const std::string& value);
  GgufEdit& remove_tensor(const std::string& name);
  GgufEdit& rename_tensor(const std::string& from, const std::string& to);
  GgufEdit& alias_tensor(const std::string& name, const std::string& alias);  // a second info, same data

  void save(const std::string& path) const;

 private:
  struct Entry {  // a key or tensor name and its raw bytes after the name
    std::string name;
    std::vector<char> rest;
  };
  Entry* find(std::vector<Entry>& in, const std::string& name);
  void set(const std::string& key, std::vector<char> value);

  uint32_t version_ = 3;
  uint64_t alignment_ = 32;
  std::vector<Entry> kvs_, tensors_;
  std::vector<char> data_;
};

}  // namespace gemrt::test
