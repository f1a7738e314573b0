// GGUF reading: metadata types, tensor layout, and one test per bad-input path.
#include "gemrt/io/gguf.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "gemrt/core/error.h"
#include "gemrt/model/gemma/gguf_config.h"
#include "test_util.h"

namespace gemrt {
namespace {

// Writes GGUF files byte by byte, so tests can also write broken ones.
class GgufWriter {
 public:
  GgufWriter& u32(uint32_t v) { return raw(&v, 4); }
  GgufWriter& u64(uint64_t v) { return raw(&v, 8); }
  GgufWriter& f32(float v) { return raw(&v, 4); }
  GgufWriter& string(const std::string& s) {
    u64(s.size());
    return raw(s.data(), s.size());
  }
  GgufWriter& raw(const void* p, size_t n) {
    const auto* b = static_cast<const char*>(p);
    bytes.insert(bytes.end(), b, b + n);
    return *this;
  }
  GgufWriter& header(uint32_t version, uint64_t tensors, uint64_t kvs) {
    raw("GGUF", 4);
    return u32(version).u64(tensors).u64(kvs);
  }
  GgufWriter& kv_u32(const std::string& k, uint32_t v) { return string(k).u32(4).u32(v); }
  GgufWriter& kv_f32(const std::string& k, float v) { return string(k).u32(6).f32(v); }
  GgufWriter& kv_str(const std::string& k, const std::string& v) { return string(k).u32(8).string(v); }
  GgufWriter& tensor_info(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    string(name).u32(static_cast<uint32_t>(ne.size()));
    for (uint64_t n : ne) u64(n);
    return u32(type).u64(offset);
  }
  GgufWriter& align(size_t a = 32) {
    while (bytes.size() % a) bytes.push_back(0);
    return *this;
  }
  std::string save(const test::TempDir& dir, const std::string& name = "m.gguf") const {
    const std::string path = dir.file(name);
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
  }
  std::vector<char> bytes;
};

std::string error_of(const std::string& path) {
  try {
    GgufFile::open(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// One F32 tensor "w" with ne = [3, 2] (2 rows of 3) holding 0..5.
GgufWriter valid_file() {
  GgufWriter w;
  w.header(3, 1, 4).kv_str("general.architecture", "gemma3").kv_u32("gemma3.block_count", 7);
  w.kv_f32("gemma3.attention.layer_norm_rms_epsilon", 1e-6f);
  w.string("tokenizer.ggml.tokens").u32(9).u32(8).u64(2).string("<pad>").string("<eos>");
  w.tensor_info("w", {3, 2}, 0, 0).align();
  for (int i = 0; i < 6; ++i) w.f32(static_cast<float>(i));
  return w;
}

TEST(Gguf, ReadsMetadataAndTensors) {
  test::TempDir dir;
  auto g = GgufFile::open(valid_file().save(dir));
  EXPECT_EQ(g->version(), 3u);
  EXPECT_EQ(g->architecture(), "gemma3");
  EXPECT_EQ(g->meta("gemma3.block_count").as_int("gemma3.block_count"), 7);
  EXPECT_FLOAT_EQ(static_cast<float>(g->meta("gemma3.attention.layer_norm_rms_epsilon").as_number("x")), 1e-6f);
  const auto tokens = g->meta("tokenizer.ggml.tokens").as_string_array("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_EQ(tokens[1], "<eos>");
  const TensorView& w = g->get("w");
  EXPECT_EQ(w.shape, (Shape{2, 3}));  // ne reversed: rows outermost
  EXPECT_EQ(w.dtype, DType::F32);
  float v[6];
  std::memcpy(v, w.data, sizeof v);
  EXPECT_EQ(v[4], 4.0f);
  EXPECT_EQ(g->find_meta("nope"), nullptr);
}

TEST(GgufErrors, BadMagic) {
  test::TempDir dir;
  GgufWriter w = valid_file();
  std::memcpy(w.bytes.data(), "GGML", 4);
  const std::string e = error_of(w.save(dir));
  EXPECT_NE(e.find("bad magic"), std::string::npos) << e;
  EXPECT_NE(e.find("m.gguf"), std::string::npos) << e;
}

TEST(GgufErrors, UnsupportedVersion) {
  test::TempDir dir;
  GgufWriter w = valid_file();
  const uint32_t v1 = 1;
  std::memcpy(w.bytes.data() + 4, &v1, 4);
  EXPECT_NE(error_of(w.save(dir)).find("unsupported GGUF version 1"), std::string::npos);
}

TEST(GgufErrors, TruncatedTensorData) {
  test::TempDir dir;
  GgufWriter w = valid_file();
  w.bytes.resize(w.bytes.size() - 8);
  const std::string e = error_of(w.save(dir));
  EXPECT_NE(e.find("tensor 'w' data"), std::string::npos) << e;
  EXPECT_NE(e.find("runs past the end of the file"), std::string::npos) << e;
}

TEST(GgufErrors, TruncatedHeader) {
  test::TempDir dir;
  GgufWriter w = valid_file();
  w.bytes.resize(40);
  EXPECT_NE(error_of(w.save(dir)).find("truncated GGUF"), std::string::npos);
}

TEST(GgufErrors, OffsetOutOfBounds) {
  test::TempDir dir;
  GgufWriter w;
  w.header(3, 1, 0).tensor_info("w", {8}, 0, 1u << 20).align();
  for (int i = 0; i < 8; ++i) w.f32(1.0f);
  const std::string e = error_of(w.save(dir));
  EXPECT_NE(e.find("tensor 'w' data [1048576"), std::string::npos) << e;
}

TEST(GgufErrors, UnknownQuantType) {
  test::TempDir dir;
  GgufWriter w;
  w.header(3, 1, 0).tensor_info("w", {32}, 77, 0).align();
  for (int i = 0; i < 32; ++i) w.f32(1.0f);
  EXPECT_NE(error_of(w.save(dir)).find("tensor 'w' has unknown or unsupported ggml type 77"), std::string::npos);
}

TEST(GgufErrors, RowsNotWholeBlocks) {
  test::TempDir dir;
  GgufWriter w;
  w.header(3, 1, 0).tensor_info("w", {16}, 8 /* Q8_0, 32-value blocks */, 0).align();
  for (int i = 0; i < 34; ++i) w.u32(0);
  EXPECT_NE(error_of(w.save(dir)).find("not whole"), std::string::npos);
}

TEST(GgufErrors, UnknownMetadataType) {
  test::TempDir dir;
  GgufWriter w;
  w.header(3, 0, 1).string("k").u32(42);
  EXPECT_NE(error_of(w.save(dir)).find("metadata key 'k' has unknown value type 42"), std::string::npos);
}

TEST(GgufErrors, MetadataOfTheWrongType) {
  test::TempDir dir;
  GgufWriter w;
  w.header(3, 0, 2).kv_str("general.architecture", "gemma3").kv_str("gemma3.block_count", "seven");
  auto g = GgufFile::open(w.save(dir));
  try {
    g->meta("gemma3.block_count").as_int("gemma3.block_count");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("metadata key 'gemma3.block_count' has type string, expected an integer"),
              std::string::npos)
        << e.what();
  }
  // The config reader surfaces the same error (the embedding table is missing first here).
  EXPECT_THROW(gemma_spec_from_gguf(*g), Error);
}

TEST(GgufErrors, ImpossibleCountsFailFast) {
  test::TempDir dir;
  GgufWriter w;
  w.header(3, ~uint64_t{0}, 1);
  EXPECT_NE(error_of(w.save(dir)).find("corrupt GGUF header"), std::string::npos);
  GgufWriter s;
  s.header(3, 0, 1).string("a").u32(9).u32(8).u64(uint64_t{1} << 40);
  EXPECT_NE(error_of(s.save(dir, "s.gguf")).find("claims"), std::string::npos);
}

TEST(GgufErrors, MissingFile) {
  EXPECT_NE(error_of("/nonexistent/x.gguf").find("/nonexistent/x.gguf: cannot open"), std::string::npos);
}

TEST(GgufConfig, TinyFixtureSpec) {
  auto g = GgufFile::open(test::shared_fixtures() + "/gguf/gemma3-tiny-pub-Q4_K.gguf");
  const ModelSpec s = gemma_spec_from_gguf(*g);
  EXPECT_EQ(s.family, GemmaFamily::Gemma3);
  EXPECT_EQ(s.vocab_size, 512);
  EXPECT_EQ(s.hidden_size, 256);
  ASSERT_EQ(s.n_layers(), 7);
  EXPECT_EQ(s.layers[5].kind, LayerKind::Full);
  EXPECT_EQ(s.layers[6].kind, LayerKind::Sliding);
  EXPECT_EQ(s.layers[0].window, 16);
  EXPECT_FLOAT_EQ(s.layers[0].rope.theta, 1e4f);
  EXPECT_FLOAT_EQ(s.layers[5].rope.theta, 1e6f);
  EXPECT_FLOAT_EQ(s.layers[0].attn_scale, 0.125f);
  EXPECT_EQ(s.layers[0].norm_offset, 0.0f);  // GGUF stores 1 + w
  EXPECT_TRUE(s.tie_word_embeddings);
}

}  // namespace
}  // namespace gemrt
