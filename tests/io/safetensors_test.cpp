// Tests for gemrt/io/safetensors.h: writing and reading back, reading files crafted byte by
// byte, one test per validation error (each checks the message names the file and the
// problem), and checkpoint folders (single file, sharded with an index, broken indexes).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <span>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gemrt/core/error.h"
#include "gemrt/io/safetensors.h"
#include "test_util.h"

namespace gemrt {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::ThrowsMessage;

// ---------------------------------------------------------------------------------------------
// Helpers to build files byte by byte.

std::string u64le(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

template <typename T>
std::string raw_bytes(std::initializer_list<T> values) {
  std::string s(values.size() * sizeof(T), '\0');
  if (values.size() != 0) std::memcpy(s.data(), values.begin(), s.size());
  return s;
}

// header length (u64 LE) + header + data, header padded with spaces to a multiple of 8 so
// that the data section is aligned like the files safetensors writes.
std::string st_bytes(std::string header, const std::string& data) {
  while (header.size() % 8 != 0) header.push_back(' ');
  return u64le(header.size()) + header + data;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

template <typename T>
HostTensor make(const std::string& name, Shape shape, DType dtype, std::vector<T> values) {
  return HostTensor::from<T>(name, std::move(shape), dtype, std::span<const T>(values));
}

std::vector<float> floats_of(const TensorView& v) {
  std::vector<float> out(static_cast<size_t>(v.shape.numel()));
  if (!out.empty()) std::memcpy(out.data(), v.data, out.size() * sizeof(float));
  return out;
}

std::vector<int32_t> ints_of(const TensorView& v) {
  std::vector<int32_t> out(static_cast<size_t>(v.shape.numel()));
  if (!out.empty()) std::memcpy(out.data(), v.data, out.size() * sizeof(int32_t));
  return out;
}

std::string bytes_of(const TensorView& v) {
  return std::string(reinterpret_cast<const char*>(v.data), static_cast<size_t>(v.nbytes()));
}

// The tensors of the round-trip tests, in a deliberately unsorted order.
std::vector<HostTensor> sample_tensors() {
  std::vector<HostTensor> t;
  t.push_back(make<float>("weights.f32", {2, 3}, DType::F32, {1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, -7.0f}));
  t.push_back(make<int32_t>("ids.i32", {4}, DType::I32, {1, -2, 2147483647, -2147483647 - 1}));
  t.push_back(make<uint16_t>("b.bf16", {3, 2}, DType::BF16, {0x3f80, 0xc000, 0x7f80, 0x0001, 0x8000, 0x3dcd}));
  t.push_back(make<uint16_t>("a.f16", {5}, DType::F16, {0x3c00, 0x7bff, 0x0001, 0xfc00, 0x8000}));
  t.push_back(make<float>("scalar", Shape{}, DType::F32, {42.5f}));
  t.push_back(make<float>("empty", {0, 3}, DType::F32, {}));
  t.push_back(make<int64_t>("z.i64", {2}, DType::I64, {int64_t{1} << 40, -3}));
  t.push_back(make<uint8_t>("u8", {3}, DType::U8, {0, 128, 255}));
  return t;
}

// ---------------------------------------------------------------------------------------------
// Round trips

TEST(SafetensorsTest, WriteThenReadRoundTrips) {
  test::TempDir dir;
  const std::string path = dir.file("rt.safetensors");
  const std::vector<HostTensor> in = sample_tensors();
  write_safetensors(path, in);

  const std::vector<HostTensor> out = read_safetensors(path);
  ASSERT_EQ(out.size(), in.size());
  std::map<std::string, const HostTensor*> by_name;
  for (const HostTensor& t : out) by_name[t.name] = &t;
  for (const HostTensor& want : in) {
    SCOPED_TRACE(want.name);
    ASSERT_TRUE(by_name.count(want.name));
    const HostTensor& got = *by_name[want.name];
    EXPECT_EQ(got.dtype, want.dtype);
    EXPECT_EQ(got.shape, want.shape) << got.shape.to_string();
    EXPECT_EQ(got.bytes, want.bytes);
  }
  // read_safetensors returns the tensors sorted by name.
  for (size_t i = 1; i < out.size(); ++i) EXPECT_LT(out[i - 1].name, out[i].name);
}

TEST(SafetensorsTest, OpenGivesViewsOnTheWrittenData) {
  test::TempDir dir;
  const std::string path = dir.file("views.safetensors");
  write_safetensors(path, sample_tensors());
  const auto f = SafetensorsFile::open(path);
  EXPECT_EQ(f->source(), path);
  EXPECT_THAT(f->names(),
              ElementsAre("a.f16", "b.bf16", "empty", "ids.i32", "scalar", "u8", "weights.f32", "z.i64"));

  const TensorView& w = f->get("weights.f32");
  EXPECT_EQ(w.name, "weights.f32");
  EXPECT_EQ(w.dtype, DType::F32);
  EXPECT_EQ(w.shape, (Shape{2, 3}));
  EXPECT_EQ(w.nbytes(), 24);
  EXPECT_THAT(floats_of(w), ElementsAre(1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, -7.0f));

  const TensorView& s = f->get("scalar");
  EXPECT_EQ(s.shape.rank(), 0);
  EXPECT_EQ(s.nbytes(), 4);
  EXPECT_THAT(floats_of(s), ElementsAre(42.5f));

  const TensorView& e = f->get("empty");
  EXPECT_EQ(e.shape, (Shape{0, 3}));
  EXPECT_EQ(e.nbytes(), 0);

  EXPECT_THAT(ints_of(f->get("ids.i32")), ElementsAre(1, -2, 2147483647, -2147483647 - 1));
  EXPECT_EQ(bytes_of(f->get("b.bf16")), raw_bytes<uint16_t>({0x3f80, 0xc000, 0x7f80, 0x0001, 0x8000, 0x3dcd}));
  EXPECT_EQ(bytes_of(f->get("a.f16")), raw_bytes<uint16_t>({0x3c00, 0x7bff, 0x0001, 0xfc00, 0x8000}));
  EXPECT_EQ(f->get("u8").dtype, DType::U8);
  EXPECT_EQ(f->get("z.i64").dtype, DType::I64);
  EXPECT_EQ(f->find("nope"), nullptr);
}

// The writer follows the published layout: u64 LE header length, JSON header, data section
// aligned to 8 bytes, offsets relative to the data section.
TEST(SafetensorsTest, WrittenFileFollowsTheFormat) {
  test::TempDir dir;
  const std::string path = dir.file("layout.safetensors");
  const std::vector<HostTensor> in = sample_tensors();
  write_safetensors(path, in);
  const std::string bytes = read_file(path);
  ASSERT_GE(bytes.size(), 8u);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[static_cast<size_t>(i)]);
  EXPECT_EQ(n % 8, 0u);
  ASSERT_LE(8 + n, bytes.size());
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  ASSERT_TRUE(header.is_object());
  uint64_t total = 0;
  for (const HostTensor& t : in) {
    SCOPED_TRACE(t.name);
    ASSERT_TRUE(header.contains(t.name));
    const auto& e = header[t.name];
    EXPECT_EQ(e["dtype"].get<std::string>(), std::string(dtype_name(t.dtype)));
    EXPECT_EQ(e["shape"].get<std::vector<int64_t>>(), t.shape.dims());
    EXPECT_TRUE(e["shape"].is_array());
    const auto off = e["data_offsets"].get<std::vector<uint64_t>>();
    ASSERT_EQ(off.size(), 2u);
    EXPECT_EQ(off[1] - off[0], t.bytes.size());
    ASSERT_LE(8 + n + off[1], bytes.size());
    EXPECT_EQ(bytes.substr(8 + n + off[0], off[1] - off[0]),
              std::string(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size()));
    total += t.bytes.size();
  }
  EXPECT_EQ(bytes.size(), 8 + n + total);
}

TEST(SafetensorsTest, ReadsHandCraftedFile) {
  test::TempDir dir;
  const std::string path = dir.file("crafted.safetensors");
  const std::string header =
      R"({"__metadata__":{"format":"pt"},)"
      R"("b":{"dtype":"I32","shape":[2],"data_offsets":[8,16]},)"
      R"("a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},)"
      R"("c":{"dtype":"BF16","shape":[],"data_offsets":[16,18]}})";
  write_file(path, st_bytes(header, raw_bytes<float>({1.0f, -2.0f}) + raw_bytes<int32_t>({7, -9}) +
                                        raw_bytes<uint16_t>({0x4049})));
  const auto f = SafetensorsFile::open(path);
  EXPECT_THAT(f->names(), ElementsAre("a", "b", "c"));  // no __metadata__
  EXPECT_EQ(f->get("a").shape, (Shape{1, 2}));
  EXPECT_THAT(floats_of(f->get("a")), ElementsAre(1.0f, -2.0f));
  EXPECT_THAT(ints_of(f->get("b")), ElementsAre(7, -9));
  EXPECT_EQ(f->get("c").dtype, DType::BF16);
  EXPECT_EQ(f->get("c").shape.rank(), 0);
  EXPECT_EQ(bytes_of(f->get("c")), raw_bytes<uint16_t>({0x4049}));

  // read_safetensors agrees.
  const auto all = read_safetensors(path);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].name, "a");
  EXPECT_THAT(all[0].values<float>(), ElementsAre(1.0f, -2.0f));
  EXPECT_THAT(all[1].values<int32_t>(), ElementsAre(7, -9));
}

TEST(SafetensorsTest, EmptyHeaderHasNoTensors) {
  test::TempDir dir;
  const std::string path = dir.file("empty.safetensors");
  write_file(path, st_bytes("{}", ""));
  EXPECT_THAT(SafetensorsFile::open(path)->names(), IsEmpty());
  write_safetensors(path, {});
  EXPECT_THAT(read_safetensors(path), IsEmpty());
}

TEST(SafetensorsTest, ZeroSizeTensorAtEndOfFile) {
  test::TempDir dir;
  const std::string path = dir.file("zero.safetensors");
  write_file(path, st_bytes(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                            R"("e":{"dtype":"F16","shape":[4,0],"data_offsets":[4,4]}})",
                            raw_bytes<float>({3.0f})));
  const auto f = SafetensorsFile::open(path);
  EXPECT_EQ(f->get("e").nbytes(), 0);
  EXPECT_EQ(f->get("e").shape, (Shape{4, 0}));
  const auto all = read_safetensors(path);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_TRUE(all[0].bytes.empty());
}

TEST(SafetensorsTest, WriteRejectsByteCountNotMatchingShape) {
  test::TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  HostTensor t = make<float>("bad.tensor", {2, 2}, DType::F32, {1.0f, 2.0f, 3.0f});
  EXPECT_THAT([&] { write_safetensors(path, {t}); },
              ThrowsMessage<Error>(AllOf(HasSubstr("'bad.tensor'"), HasSubstr("12 bytes"), HasSubstr("16"))));
}

TEST(SafetensorsTest, WriteToMissingFolderFailsNamingThePath) {
  test::TempDir dir;
  const std::string path = dir.file("no/such/folder/x.safetensors");
  EXPECT_THAT([&] { write_safetensors(path, sample_tensors()); },
              ThrowsMessage<Error>(AllOf(HasSubstr(path), HasSubstr("cannot open"))));
}

// ---------------------------------------------------------------------------------------------
// SafetensorsFile::open errors: one per validation, each naming the file and the problem.

class SafetensorsErrorTest : public ::testing::Test {
 protected:
  // Writes `bytes` to a file in the temporary folder and returns its path.
  std::string craft(const std::string& bytes, const std::string& name = "broken.safetensors") {
    const std::string path = dir_.file(name);
    write_file(path, bytes);
    return path;
  }
  static void open(const std::string& path) { (void)SafetensorsFile::open(path); }

  test::TempDir dir_;
};

TEST_F(SafetensorsErrorTest, MissingFile) {
  const std::string path = dir_.file("does-not-exist.safetensors");
  EXPECT_THAT([&] { open(path); }, ThrowsMessage<Error>(AllOf(HasSubstr(path), HasSubstr("cannot open"))));
}

TEST_F(SafetensorsErrorTest, FileShorterThanEightBytes) {
  for (const size_t size : {0u, 1u, 7u}) {
    SCOPED_TRACE(size);
    const std::string path = craft(std::string(size, '\x01'));
    EXPECT_THAT([&] { open(path); },
                ThrowsMessage<Error>(AllOf(HasSubstr(path), HasSubstr("not a safetensors file"),
                                           HasSubstr(std::to_string(size) + " bytes"), HasSubstr("8-byte"))));
  }
}

TEST_F(SafetensorsErrorTest, HeaderLengthLargerThanFileIsTruncated) {
  // Claims 64 header bytes, has 2.
  const std::string path = craft(u64le(64) + "{}");
  EXPECT_THAT([&] { open(path); },
              ThrowsMessage<Error>(AllOf(HasSubstr(path), HasSubstr("64 header bytes"), HasSubstr("truncated"))));
}

TEST_F(SafetensorsErrorTest, HeaderLengthOneByteTooLong) {
  const std::string path = craft(u64le(9) + "{}      ");  // 8 header bytes present
  EXPECT_THAT([&] { open(path); }, ThrowsMessage<Error>(AllOf(HasSubstr(path), HasSubstr("truncated"))));
}

TEST_F(SafetensorsErrorTest, HugeHeaderLengthDoesNotOverflow) {
  const std::string path = craft(u64le(~uint64_t{0}) + "{}      ");
  EXPECT_THAT([&] { open(path); }, ThrowsMessage<Error>(AllOf(HasSubstr(path), HasSubstr("truncated"))));
}

TEST_F(SafetensorsErrorTest, HeaderNotValidJsonIsCorrupt) {
  const std::string path = craft(st_bytes(R"({"w":{"dtype":"F32",)", ""));
  EXPECT_THAT([&] { open(path); },
              ThrowsMessage<Error>(AllOf(HasSubstr(path), HasSubstr("corrupt"), HasSubstr("invalid JSON"))));
}

TEST_F(SafetensorsErrorTest, HeaderTopLevelNotAnObject) {
  const std::string path = craft(st_bytes("[1, 2, 3]", ""));
  EXPECT_THAT([&] { open(path); },
              ThrowsMessage<Error>(AllOf(HasSubstr(path), HasSubstr("corrupt"), HasSubstr("not a JSON object"))));
}

TEST_F(SafetensorsErrorTest, UnsupportedDtypeNamesTheTensor) {
  const std::string path =
      craft(st_bytes(R"({"layer.0.weight":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", raw_bytes<double>({1.0})));
  EXPECT_THAT([&] { open(path); },
              ThrowsMessage<Error>(AllOf(HasSubstr(path), HasSubstr("'layer.0.weight'"), HasSubstr("unsupported dtype"),
                                         HasSubstr("F64"))));
}

TEST_F(SafetensorsErrorTest, DataOffsetsPastEndOfFile) {
  // 16 bytes promised, 8 present.
  const std::string path = craft(
      st_bytes(R"({"layer.1.bias":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", raw_bytes<float>({1.0f, 2.0f})));
  EXPECT_THAT([&] { open(path); },
              ThrowsMessage<Error>(AllOf(HasSubstr(path), HasSubstr("'layer.1.bias'"), HasSubstr("[0, 16]"),
                                         HasSubstr("past the end"))));
}

TEST_F(SafetensorsErrorTest, DataOffsetsBeginPastEndOfFile) {
  const std::string path = craft(
      st_bytes(R"({"late":{"dtype":"F32","shape":[1],"data_offsets":[100,104]}})", raw_bytes<float>({1.0f})));
  EXPECT_THAT([&] { open(path); },
              ThrowsMessage<Error>(AllOf(HasSubstr(path), HasSubstr("'late'"), HasSubstr("past the end"))));
}

TEST_F(SafetensorsErrorTest, ByteCountInconsistentWithShape) {
  // F32 [3] needs 12 bytes; the offsets give 8.
  const std::string path = craft(
      st_bytes(R"({"emb":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", raw_bytes<float>({1.0f, 2.0f, 3.0f})));
  EXPECT_THAT([&] { open(path); },
              ThrowsMessage<Error>(AllOf(HasSubstr(path), HasSubstr("'emb'"), HasSubstr("holds 8 bytes"),
                                         HasSubstr("needs 12"))));
}

TEST_F(SafetensorsErrorTest, ByteCountInconsistentWithDtype) {
  // BF16 [2, 2] needs 8 bytes; the offsets give 16 (as if it were F32).
  const std::string path = craft(st_bytes(R"({"norm":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,16]}})",
                                          raw_bytes<float>({1.0f, 2.0f, 3.0f, 4.0f})));
  EXPECT_THAT([&] { open(path); },
              ThrowsMessage<Error>(AllOf(HasSubstr(path), HasSubstr("'norm'"), HasSubstr("holds 16 bytes"),
                                         HasSubstr("BF16 [2, 2] needs 8"))));
}

TEST_F(SafetensorsErrorTest, ReversedOffsets) {
  const std::string path = craft(
      st_bytes(R"({"rev":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", raw_bytes<float>({1.0f, 2.0f})));
  EXPECT_THAT([&] { open(path); },
              ThrowsMessage<Error>(AllOf(HasSubstr(path), HasSubstr("'rev'"), HasSubstr("reversed"))));
}

TEST_F(SafetensorsErrorTest, EntryNotAnObject) {
  const std::string path = craft(st_bytes(R"({"odd":[1,2]})", ""));
  EXPECT_THAT([&] { open(path); },
              ThrowsMessage<Error>(AllOf(HasSubstr(path), HasSubstr("'odd'"), HasSubstr("not an object"))));
}

TEST_F(SafetensorsErrorTest, MissingDtype) {
  const std::string path =
      craft(st_bytes(R"({"nodt":{"shape":[1],"data_offsets":[0,4]}})", raw_bytes<float>({1.0f})));
  EXPECT_THAT([&] { open(path); },
              ThrowsMessage<Error>(AllOf(HasSubstr(path), HasSubstr("'nodt'"), HasSubstr("dtype"))));
}

TEST_F(SafetensorsErrorTest, NegativeShapeDimension) {
  const std::string path =
      craft(st_bytes(R"({"neg":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", raw_bytes<float>({1.0f})));
  EXPECT_THAT([&] { open(path); },
              ThrowsMessage<Error>(AllOf(HasSubstr(path), HasSubstr("'neg'"), HasSubstr("non-negative"))));
}

TEST_F(SafetensorsErrorTest, DataOffsetsNotAPair) {
  const std::string path =
      craft(st_bytes(R"({"tri":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})", raw_bytes<float>({1.0f, 2.0f})));
  EXPECT_THAT([&] { open(path); },
              ThrowsMessage<Error>(AllOf(HasSubstr(path), HasSubstr("'tri'"), HasSubstr("data_offsets"))));
}

TEST_F(SafetensorsErrorTest, GetMissingTensorNamesTensorAndFile) {
  const std::string path = dir_.file("ok.safetensors");
  write_safetensors(path, sample_tensors());
  const auto f = SafetensorsFile::open(path);
  EXPECT_EQ(f->find("model.missing.weight"), nullptr);
  EXPECT_THAT([&] { (void)f->get("model.missing.weight"); },
              ThrowsMessage<Error>(AllOf(HasSubstr(path), HasSubstr("'model.missing.weight'"), HasSubstr("missing"))));
}

// ---------------------------------------------------------------------------------------------
// SafetensorsCheckpoint

class SafetensorsCheckpointTest : public ::testing::Test {
 protected:
  std::string folder() const { return dir_.path().string(); }
  static void open(const std::string& path) { (void)SafetensorsCheckpoint::open(path); }

  // Two shards: a, b in the first; c in the second.
  void write_shards() {
    write_safetensors(dir_.file(kShard1), {make<float>("a", {2}, DType::F32, {1.0f, 2.0f}),
                                           make<int32_t>("b", {1}, DType::I32, {5})});
    write_safetensors(dir_.file(kShard2), {make<float>("c", {3}, DType::F32, {7.0f, 8.0f, 9.0f})});
  }

  static constexpr const char* kShard1 = "model-00001-of-00002.safetensors";
  static constexpr const char* kShard2 = "model-00002-of-00002.safetensors";
  test::TempDir dir_;
};

TEST_F(SafetensorsCheckpointTest, FolderWithSingleFile) {
  write_safetensors(dir_.file("model.safetensors"), sample_tensors());
  const auto ck = SafetensorsCheckpoint::open(folder());
  EXPECT_EQ(ck->source(), folder());
  EXPECT_THAT(ck->names(),
              ElementsAre("a.f16", "b.bf16", "empty", "ids.i32", "scalar", "u8", "weights.f32", "z.i64"));
  EXPECT_THAT(floats_of(ck->get("weights.f32")), ElementsAre(1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, -7.0f));
  EXPECT_EQ(ck->get("scalar").shape.rank(), 0);
  EXPECT_EQ(ck->find("nope"), nullptr);
}

TEST_F(SafetensorsCheckpointTest, PathToSingleFile) {
  const std::string path = dir_.file("weights.safetensors");
  write_safetensors(path, sample_tensors());
  const auto ck = SafetensorsCheckpoint::open(path);
  EXPECT_EQ(ck->source(), path);
  EXPECT_EQ(ck->names().size(), 8u);
  EXPECT_THAT(ints_of(ck->get("ids.i32")), ElementsAre(1, -2, 2147483647, -2147483647 - 1));
}

TEST_F(SafetensorsCheckpointTest, ShardedFolderFindsTensorsFromBothShards) {
  write_shards();
  test::write_text(dir_.file("model.safetensors.index.json"),
                   std::string(R"({"metadata":{"total_size":24},"weight_map":{"a":")") + kShard1 + R"(","b":")" +
                       kShard1 + R"(","c":")" + kShard2 + R"("}})");
  const auto ck = SafetensorsCheckpoint::open(folder());
  EXPECT_EQ(ck->source(), folder());
  EXPECT_THAT(ck->names(), ElementsAre("a", "b", "c"));
  EXPECT_THAT(floats_of(ck->get("a")), ElementsAre(1.0f, 2.0f));
  EXPECT_THAT(ints_of(ck->get("b")), ElementsAre(5));
  EXPECT_THAT(floats_of(ck->get("c")), ElementsAre(7.0f, 8.0f, 9.0f));
  EXPECT_EQ(ck->get("c").shape, Shape{3});
}

TEST_F(SafetensorsCheckpointTest, IndexNamesTensorTheShardLacks) {
  write_shards();
  test::write_text(dir_.file("model.safetensors.index.json"),
                   std::string(R"({"weight_map":{"a":")") + kShard1 + R"(","b":")" + kShard1 + R"(","c":")" +
                       kShard2 + R"(","lm_head.weight":")" + kShard2 + R"("}})");
  EXPECT_THAT([&] { open(folder()); },
              ThrowsMessage<Error>(AllOf(HasSubstr(folder()), HasSubstr("'lm_head.weight'"), HasSubstr(kShard2),
                                         HasSubstr("does not hold"))));
}

TEST_F(SafetensorsCheckpointTest, IndexNamesMissingShardFile) {
  write_shards();
  const std::string missing = "model-00003-of-00003.safetensors";
  test::write_text(dir_.file("model.safetensors.index.json"),
                   std::string(R"({"weight_map":{"a":")") + kShard1 + R"(","d":")" + missing + R"("}})");
  EXPECT_THAT([&] { open(folder()); }, ThrowsMessage<Error>(AllOf(HasSubstr(missing), HasSubstr("cannot open"))));
}

TEST_F(SafetensorsCheckpointTest, IndexWithoutWeightMap) {
  write_shards();
  const std::string index = dir_.file("model.safetensors.index.json");
  test::write_text(index, R"({"metadata":{}})");
  EXPECT_THAT([&] { open(folder()); }, ThrowsMessage<Error>(AllOf(HasSubstr(index), HasSubstr("weight_map"))));
}

TEST_F(SafetensorsCheckpointTest, IndexNotValidJson) {
  write_shards();
  const std::string index = dir_.file("model.safetensors.index.json");
  test::write_text(index, R"({"weight_map": {)");
  EXPECT_THAT([&] { open(folder()); }, ThrowsMessage<Error>(AllOf(HasSubstr(index), HasSubstr("invalid JSON"))));
}

TEST_F(SafetensorsCheckpointTest, IndexShardOutsideFolderRejected) {
  write_shards();
  const std::string index = dir_.file("model.safetensors.index.json");
  test::write_text(index, R"({"weight_map":{"a":"../elsewhere.safetensors"}})");
  EXPECT_THAT([&] { open(folder()); },
              ThrowsMessage<Error>(AllOf(HasSubstr(index), HasSubstr("../elsewhere.safetensors"),
                                         HasSubstr("same folder"))));
}

TEST_F(SafetensorsCheckpointTest, TensorInTwoShardsRejected) {
  write_safetensors(dir_.file(kShard1), {make<float>("a", {1}, DType::F32, {1.0f})});
  write_safetensors(dir_.file(kShard2), {make<float>("a", {1}, DType::F32, {2.0f})});
  test::write_text(dir_.file("model.safetensors.index.json"),
                   std::string(R"({"weight_map":{"a":")") + kShard1 + R"(","x":")" + kShard2 + R"("}})");
  EXPECT_THAT([&] { open(folder()); },
              ThrowsMessage<Error>(AllOf(HasSubstr("'a'"), HasSubstr("also appears in another shard"))));
}

TEST_F(SafetensorsCheckpointTest, CorruptShardNamesTheShard) {
  write_shards();
  write_file(dir_.file(kShard2), u64le(1000) + "{}");
  test::write_text(dir_.file("model.safetensors.index.json"),
                   std::string(R"({"weight_map":{"a":")") + kShard1 + R"(","c":")" + kShard2 + R"("}})");
  EXPECT_THAT([&] { open(folder()); },
              ThrowsMessage<Error>(AllOf(HasSubstr(dir_.file(kShard2)), HasSubstr("truncated"))));
}

TEST_F(SafetensorsCheckpointTest, FolderWithNeitherFile) {
  test::write_text(dir_.file("config.json"), "{}");
  write_safetensors(dir_.file("other.safetensors"), sample_tensors());  // not a recognised name
  EXPECT_THAT([&] { open(folder()); },
              ThrowsMessage<Error>(AllOf(HasSubstr(folder()), HasSubstr("no model.safetensors"),
                                         HasSubstr("model.safetensors.index.json"))));
}

TEST_F(SafetensorsCheckpointTest, MissingPath) {
  const std::string path = dir_.file("no-such-checkpoint");
  EXPECT_THAT([&] { open(path); }, ThrowsMessage<Error>(AllOf(HasSubstr(path), HasSubstr("no such file"))));
}

TEST_F(SafetensorsCheckpointTest, GetMissingTensorNamesTensorAndSource) {
  write_shards();
  test::write_text(dir_.file("model.safetensors.index.json"),
                   std::string(R"({"weight_map":{"a":")") + kShard1 + R"(","c":")" + kShard2 + R"("}})");
  const auto ck = SafetensorsCheckpoint::open(folder());
  EXPECT_EQ(ck->find("model.embed_tokens.weight"), nullptr);
  EXPECT_THAT([&] { (void)ck->get("model.embed_tokens.weight"); },
              ThrowsMessage<Error>(AllOf(HasSubstr(folder()), HasSubstr("'model.embed_tokens.weight'"),
                                         HasSubstr("missing tensor"))));
}

}  // namespace
}  // namespace gemrt
