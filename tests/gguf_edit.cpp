#include "gguf_edit.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace gemrt::test {
namespace {

class Reader {
 public:
  explicit Reader(std::vector<char> b) : b_(std::move(b)) {}
  size_t pos() const { return pos_; }
  const std::vector<char>& bytes() const { return b_; }
  template <typename T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  std::string string() {
    const auto n = static_cast<size_t>(get<uint64_t>());
    need(n);
    std::string s(b_.data() + pos_, n);
    pos_ += n;
    return s;
  }
  void skip(size_t n) {
    need(n);
    pos_ += n;
  }
  // Skips one value of GGUF type `type` (gemrt/io/gguf.h GgufType).
  void skip_value(uint32_t type) {
    static const size_t sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type == 8) {
      string();
    } else if (type == 9) {
      const auto elem = get<uint32_t>();
      const auto n = get<uint64_t>();
      for (uint64_t i = 0; i < n; ++i) skip_value(elem);
    } else if (type < 13) {
      skip(sizes[type]);
    } else {
      throw std::runtime_error("GgufEdit: unknown value type");
    }
  }

 private:
  void need(size_t n) const {
    if (pos_ + n > b_.size()) throw std::runtime_error("GgufEdit: truncated file");
  }
  std::vector<char> b_;
  size_t pos_ = 0;
};

void put(std::vector<char>& out, const void* p, size_t n) {
  const auto* c = static_cast<const char*>(p);
  out.insert(out.end(), c, c + n);
}
void put_string(std::vector<char>& out, const std::string& s) {
  const uint64_t n = s.size();
  put(out, &n, 8);
  put(out, s.data(), s.size());
}

}  // namespace

GgufEdit::GgufEdit(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  Reader r(std::vector<char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()));
  if (r.get<uint32_t>() != 0x46554747u) throw std::runtime_error("GgufEdit: " + path + " is not a GGUF file");
  version_ = r.get<uint32_t>();
  const auto n_tensors = r.get<uint64_t>(), n_kvs = r.get<uint64_t>();
  for (uint64_t i = 0; i < n_kvs; ++i) {
    Entry e{r.string(), {}};
    const size_t begin = r.pos();
    const auto type = r.get<uint32_t>();
    if (e.name == "general.alignment") {
      alignment_ = r.get<uint32_t>();
    } else {
      r.skip_value(type);
    }
    e.rest.assign(r.bytes().begin() + static_cast<std::ptrdiff_t>(begin), r.bytes().begin() + static_cast<std::ptrdiff_t>(r.pos()));
    kvs_.push_back(std::move(e));
  }
  for (uint64_t i = 0; i < n_tensors; ++i) {
    Entry e{r.string(), {}};
    const size_t begin = r.pos();
    const auto dims = r.get<uint32_t>();
    r.skip(8 * dims + 4 + 8);  // ne[], ggml type, offset
    e.rest.assign(r.bytes().begin() + static_cast<std::ptrdiff_t>(begin), r.bytes().begin() + static_cast<std::ptrdiff_t>(r.pos()));
    tensors_.push_back(std::move(e));
  }
  const size_t data = (r.pos() + alignment_ - 1) / alignment_ * alignment_;
  data_.assign(r.bytes().begin() + static_cast<std::ptrdiff_t>(data), r.bytes().end());
}

GgufEdit::Entry* GgufEdit::find(std::vector<Entry>& in, const std::string& name) {
  for (Entry& e : in)
    if (e.name == name) return &e;
  return nullptr;
}

void GgufEdit::set(const std::string& key, std::vector<char> value) {
  if (Entry* e = find(kvs_, key)) {
    e->rest = std::move(value);
  } else {
    kvs_.push_back({key, std::move(value)});
  }
}

GgufEdit& GgufEdit::remove_key(const std::string& key) {
  std::erase_if(kvs_, [&](const Entry& e) { return e.name == key; });
  return *this;
}

GgufEdit& GgufEdit::set_u32(const std::string& key, uint32_t value) {
  std::vector<char> v;
  const uint32_t type = 4;
  put(v, &type, 4);
  put(v, &value, 4);
  set(key, std::move(v));
  return *this;
}

GgufEdit& GgufEdit::set_string(const std::string& key, const std::string& value) {
  std::vector<char> v;
  const uint32_t type = 8;
  put(v, &type, 4);
  put_string(v, value);
  set(key, std::move(v));
  return *this;
}

GgufEdit& GgufEdit::remove_tensor(const std::string& name) {
  std::erase_if(tensors_, [&](const Entry& e) { return e.name == name; });
  return *this;
}

GgufEdit& GgufEdit::rename_tensor(const std::string& from, const std::string& to) {
  if (Entry* e = find(tensors_, from)) e->name = to;
  return *this;
}

GgufEdit& GgufEdit::alias_tensor(const std::string& name, const std::string& alias) {
  if (Entry* e = find(tensors_, name)) {
    Entry copy{alias, e->rest};
    tensors_.push_back(std::move(copy));
  }
  return *this;
}

void GgufEdit::save(const std::string& path) const {
  std::vector<char> out;
  const uint32_t magic = 0x46554747u;
  const uint64_t n_tensors = tensors_.size(), n_kvs = kvs_.size();
  put(out, &magic, 4);
  put(out, &version_, 4);
  put(out, &n_tensors, 8);
  put(out, &n_kvs, 8);
  for (const auto* list : {&kvs_, &tensors_})
    for (const Entry& e : *list) {
      put_string(out, e.name);
      put(out, e.rest.data(), e.rest.size());
    }
  out.resize((out.size() + alignment_ - 1) / alignment_ * alignment_, 0);
  out.insert(out.end(), data_.begin(), data_.end());
  std::ofstream(path, std::ios::binary).write(out.data(), static_cast<std::streamsize>(out.size()));
}

}  // namespace gemrt::test
