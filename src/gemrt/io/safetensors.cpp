#include "gemrt/io/safetensors.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "gemrt/core/error.h"
#include "gemrt/io/json_file.h"

namespace gemrt {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The header is JSON; a sane upper bound keeps a corrupt length from allocating gigabytes.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

uint64_t read_u64_le(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

TensorView parse_entry(const std::string& path, const std::string& name, const json& e,
                       const std::byte* data, uint64_t data_size) {
  const auto where = [&] { return str(path, ": tensor '", name, "'"); };
  if (!e.is_object()) fail(where(), ": header entry is not an object");
  if (!e.contains("dtype") || !e["dtype"].is_string()) fail(where(), ": missing string 'dtype'");
  if (!e.contains("shape") || !e["shape"].is_array()) fail(where(), ": missing array 'shape'");
  if (!e.contains("data_offsets") || !e["data_offsets"].is_array() || e["data_offsets"].size() != 2)
    fail(where(), ": 'data_offsets' must be [begin, end]");

  TensorView v;
  v.name = name;
  const std::string dt = e["dtype"].get<std::string>();
  if (!dtype_from_safetensors(dt, &v.dtype))
    fail(where(), ": unsupported dtype '", dt, "' (expected F32, F16, BF16, I32, I64 or U8)");
  std::vector<int64_t> dims;
  for (const json& d : e["shape"]) {
    if (!d.is_number_unsigned()) fail(where(), ": shape entries must be non-negative integers");
    const uint64_t x = d.get<uint64_t>();
    if (x > (1ull << 40)) fail(where(), ": shape dimension ", x, " is implausibly large");
    dims.push_back(static_cast<int64_t>(x));
  }
  v.shape = Shape(std::move(dims));
  for (const json& o : e["data_offsets"])
    if (!o.is_number_unsigned()) fail(where(), ": data_offsets must be non-negative integers");
  const uint64_t begin = e["data_offsets"][0].get<uint64_t>();
  const uint64_t end = e["data_offsets"][1].get<uint64_t>();
  if (begin > end) fail(where(), ": data_offsets [", begin, ", ", end, "] are reversed");
  if (end > data_size)
    fail(where(), ": data_offsets [", begin, ", ", end, "] run past the end of the file (data section is ",
         data_size, " bytes; is the file truncated?)");
  int64_t numel = 1;
  for (int64_t d : v.shape.dims()) {
    if (d != 0 && numel > (int64_t{1} << 50) / d) fail(where(), ": shape ", v.shape.to_string(), " is too large");
    numel *= d;
  }
  const auto expected = static_cast<uint64_t>(dtype_bytes(v.dtype, numel));
  if (end - begin != expected)
    fail(where(), ": holds ", end - begin, " bytes but ", dt, " ", v.shape.to_string(), " needs ", expected);
  v.data = data + begin;
  return v;
}

}  // namespace

const TensorView& TensorStore::get(std::string_view name) const {
  const TensorView* t = find(name);
  if (!t) fail(source(), ": missing tensor '", name, "'");
  return *t;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  auto file = MappedFile::open(path);
  const uint64_t size = static_cast<uint64_t>(file->size());
  if (size < 8) fail(path, ": not a safetensors file (", size, " bytes, shorter than the 8-byte header length)");
  const uint64_t header_len = read_u64_le(file->data());
  if (header_len > size - 8 || header_len > kMaxHeaderBytes)
    fail(path, ": corrupt safetensors header: it claims ", header_len, " header bytes but the file has ", size,
         " bytes (is the file truncated?)");
  const char* header_begin = reinterpret_cast<const char*>(file->data() + 8);
  json header;
  try {
    header = json::parse(header_begin, header_begin + header_len);
  } catch (const json::parse_error& e) {
    fail(path, ": corrupt safetensors header (invalid JSON): ", e.what());
  }
  if (!header.is_object()) fail(path, ": corrupt safetensors header: top level is not a JSON object");

  std::unique_ptr<SafetensorsFile> st(new SafetensorsFile(file));
  const std::byte* data = file->data() + 8 + header_len;
  const uint64_t data_size = size - 8 - header_len;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    st->tensors_.emplace(it.key(), parse_entry(path, it.key(), it.value(), data, data_size));
  }
  return st;
}

const TensorView* SafetensorsFile::find(std::string_view name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& [k, v] : tensors_) out.push_back(k);
  return out;
}

std::unique_ptr<SafetensorsCheckpoint> SafetensorsCheckpoint::open(const std::string& path) {
  auto ckpt = std::unique_ptr<SafetensorsCheckpoint>(new SafetensorsCheckpoint());
  ckpt->source_ = path;
  const fs::path p(path);
  std::error_code ec;
  if (!fs::exists(p, ec)) fail(path, ": no such file or folder");

  std::vector<std::string> files;
  std::map<std::string, std::string> wanted;  // tensor -> shard file (sharded only)
  if (fs::is_directory(p, ec)) {
    const fs::path index = p / "model.safetensors.index.json";
    const fs::path single = p / "model.safetensors";
    if (fs::exists(index, ec)) {
      const json j = read_json_file(index.string());
      if (!j.contains("weight_map") || !j["weight_map"].is_object())
        fail(index.string(), ": missing object 'weight_map'");
      std::set<std::string> shard_names;
      for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
        if (!it.value().is_string()) fail(index.string(), ": weight_map entry '", it.key(), "' is not a file name");
        const std::string shard = it.value().get<std::string>();
        if (shard.find('/') != std::string::npos || shard == "..")
          fail(index.string(), ": shard name '", shard, "' must be a file in the same folder");
        shard_names.insert(shard);
        wanted[it.key()] = shard;
      }
      for (const auto& s : shard_names) files.push_back((p / s).string());
    } else if (fs::exists(single, ec)) {
      files.push_back(single.string());
    } else {
      fail(path, ": no model.safetensors or model.safetensors.index.json in this folder");
    }
  } else {
    files.push_back(p.string());
  }

  for (const auto& f : files) {
    ckpt->shards_.push_back(SafetensorsFile::open(f));
    const SafetensorsFile& shard = *ckpt->shards_.back();
    for (const auto& name : shard.names()) {
      if (ckpt->index_.count(name)) fail(f, ": tensor '", name, "' also appears in another shard");
      ckpt->index_[name] = shard.find(name);
    }
  }
  for (const auto& [name, shard] : wanted) {
    if (!ckpt->index_.count(name))
      fail(path, ": the index lists tensor '", name, "' in ", shard, " but that shard does not hold it");
  }
  return ckpt;
}

const TensorView* SafetensorsCheckpoint::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second;
}

std::vector<std::string> SafetensorsCheckpoint::names() const {
  std::vector<std::string> out;
  out.reserve(index_.size());
  for (const auto& [k, v] : index_) out.push_back(k);
  return out;
}

void write_safetensors(const std::string& path, const std::vector<HostTensor>& tensors) {
  json header = json::object();
  uint64_t offset = 0;
  for (const HostTensor& t : tensors) {
    const auto n = static_cast<uint64_t>(dtype_bytes(t.dtype, t.shape.numel()));
    if (n != t.bytes.size()) fail("write_safetensors: tensor '", t.name, "' has ", t.bytes.size(), " bytes, shape needs ", n);
    header[t.name] = {{"dtype", std::string(dtype_name(t.dtype))},
                      {"shape", t.shape.dims()},
                      {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string h = header.dump();
  while (h.size() % 8 != 0) h.push_back(' ');  // align the data section to 8 bytes
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail(path, ": cannot open for writing");
  std::byte len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<std::byte>((h.size() >> (8 * i)) & 0xff);
  out.write(reinterpret_cast<const char*>(len), 8);
  out.write(h.data(), static_cast<std::streamsize>(h.size()));
  for (const HostTensor& t : tensors)
    out.write(reinterpret_cast<const char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
  if (!out) fail(path, ": write failed");
}

std::vector<HostTensor> read_safetensors(const std::string& path) {
  auto f = SafetensorsFile::open(path);
  std::vector<HostTensor> out;
  for (const auto& name : f->names()) {
    const TensorView* v = f->find(name);
    HostTensor t{name, v->dtype, v->shape, {}};
    t.bytes.assign(v->data, v->data + v->nbytes());
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace gemrt
