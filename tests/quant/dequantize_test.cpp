// Packed GGML block formats: dtype table, dequantize_row, and the CPU kernels on packed weights.
//
// The reference values come from tests/data/quant/vectors.safetensors, made by
// tests/data/make_quant_vectors.py with the `gguf` Python package (quantize / dequantize, and
// rows of the llama-quantize-made fixtures ../shared/fixtures/gguf/*.gguf), independently of
// the code under test. Every format's dequantization is exact up to one final rounding that
// ggml, the gguf package and gemrt all perform identically (scale x code products fit in
// float32), so the comparison is bit for bit.

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gemrt/backend/cpu/kernels.h"
#include "gemrt/backend/cpu/weight_rows.h"
#include "gemrt/core/dtype.h"
#include "gemrt/core/error.h"
#include "gemrt/core/half.h"
#include "gemrt/core/tensor.h"
#include "gemrt/core/thread_pool.h"
#include "gemrt/io/safetensors.h"
#include "gemrt/quant/block_formats.h"
#include "gemrt/quant/dequantize.h"
#include "test_util.h"

namespace gemrt {
namespace {

constexpr DType kQuantTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K,
                                 DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q8_K};

bool dtype_by_name(const std::string& name, DType* out) {
  for (int i = 0; i <= static_cast<int>(DType::Q8_K); ++i) {
    if (dtype_name(static_cast<DType>(i)) == name) {
      *out = static_cast<DType>(i);
      return true;
    }
  }
  return false;
}

uint32_t bits(float f) { return std::bit_cast<uint32_t>(f); }

// Index of the first value whose bit pattern differs, or -1.
int64_t first_bit_difference(const float* got, const float* want, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (bits(got[i]) != bits(want[i])) return i;
  return -1;
}

// ---------------------------------------------------------------------------------------------
// The test vectors

struct Case {
  std::string key;  // "Q4_K.gguf512"
  DType dtype = DType::F32;
  int64_t rows = 0, n = 0, row_bytes = 0;
  const HostTensor* packed = nullptr;
  const HostTensor* dequant = nullptr;
  const std::byte* row(int64_t r) const { return packed->bytes.data() + r * row_bytes; }
  const float* want(int64_t r) const { return dequant->values<float>().data() + r * n; }
};

std::string vectors_path() { return test::test_data() + "/quant/vectors.safetensors"; }

const std::vector<HostTensor>& vector_tensors() {
  static const std::vector<HostTensor> t = read_safetensors(vectors_path());
  return t;
}

// Every (packed, dequant) pair of the vectors file.
std::vector<Case> load_cases() {
  std::map<std::string, const HostTensor*> by_name;
  for (const HostTensor& t : vector_tensors()) by_name[t.name] = &t;
  std::vector<Case> cases;
  const std::string suffix = ".packed";
  for (const auto& [name, t] : by_name) {
    if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    Case c;
    c.key = name.substr(0, name.size() - suffix.size());
    const std::string fmt = c.key.substr(0, c.key.find('.'));
    if (!dtype_by_name(fmt, &c.dtype)) {
      ADD_FAILURE() << "unknown format " << fmt << " in " << name;
      continue;
    }
    const auto it = by_name.find(c.key + ".dequant");
    if (it == by_name.end()) {
      ADD_FAILURE() << name << " has no .dequant partner";
      continue;
    }
    c.packed = t;
    c.dequant = it->second;
    EXPECT_EQ(t->dtype, DType::U8) << name;
    EXPECT_EQ(c.dequant->dtype, DType::F32) << c.key;
    if (t->shape.rank() != 2 || c.dequant->shape.rank() != 2 || t->shape[0] != c.dequant->shape[0]) {
      ADD_FAILURE() << c.key << ": bad shapes " << t->shape.to_string() << " " << c.dequant->shape.to_string();
      continue;
    }
    c.rows = t->shape[0];
    c.n = c.dequant->shape[1];
    c.row_bytes = t->shape[1];
    cases.push_back(c);
  }
  return cases;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> c = load_cases();
  return c;
}

const Case& find_case(const std::string& key) {
  for (const Case& c : cases())
    if (c.key == key) return c;
  throw Error("no test case " + key + " in " + vectors_path());
}

// A copy of `src` placed `misalign` bytes past a 64-byte boundary.
class Misaligned {
 public:
  Misaligned(const std::byte* src, int64_t n, int misalign) : buf_(static_cast<size_t>(n) + 128) {
    auto addr = reinterpret_cast<uintptr_t>(buf_.data());
    const size_t pad = static_cast<size_t>((64 - addr % 64) % 64) + static_cast<size_t>(misalign);
    ptr_ = buf_.data() + pad;
    if (n > 0) std::memcpy(ptr_, src, static_cast<size_t>(n));
  }
  const std::byte* data() const { return ptr_; }

 private:
  std::vector<std::byte> buf_;
  std::byte* ptr_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// dtype.h

TEST(QuantDTypeTest, BlockSizesNamesAndGgmlIds) {
  const struct {
    DType t;
    const char* name;
    int64_t elems, bytes;
    uint32_t ggml;
  } table[] = {
      {DType::Q4_0, "Q4_0", 32, 18, 2},    {DType::Q4_1, "Q4_1", 32, 20, 3},    {DType::Q5_0, "Q5_0", 32, 22, 6},
      {DType::Q5_1, "Q5_1", 32, 24, 7},    {DType::Q8_0, "Q8_0", 32, 34, 8},    {DType::Q8_1, "Q8_1", 32, 36, 9},    {DType::Q2_K, "Q2_K", 256, 84, 10},
      {DType::Q3_K, "Q3_K", 256, 110, 11}, {DType::Q4_K, "Q4_K", 256, 144, 12}, {DType::Q5_K, "Q5_K", 256, 176, 13},
      {DType::Q6_K, "Q6_K", 256, 210, 14}, {DType::Q8_K, "Q8_K", 256, 292, 15},
  };
  for (const auto& e : table) {
    SCOPED_TRACE(e.name);
    const DTypeInfo& info = dtype_info(e.t);
    EXPECT_EQ(info.name, e.name);
    EXPECT_EQ(info.block_elems, e.elems);
    EXPECT_EQ(info.block_bytes, e.bytes);
    EXPECT_TRUE(info.is_float);
    EXPECT_TRUE(dtype_is_quantized(e.t));
    EXPECT_EQ(ggml_type_of(e.t), e.ggml);
    DType back = DType::U8;
    ASSERT_TRUE(dtype_from_ggml(e.ggml, &back));
    EXPECT_EQ(back, e.t);
    EXPECT_EQ(dtype_bytes(e.t, 0), 0);
    EXPECT_EQ(dtype_bytes(e.t, e.elems), e.bytes);
    EXPECT_EQ(dtype_bytes(e.t, 3 * e.elems), 3 * e.bytes);
    EXPECT_EQ(dtype_bytes(e.t, int64_t{262144} * 4096), int64_t{262144} * 4096 / e.elems * e.bytes);
    EXPECT_THROW(dtype_bytes(e.t, e.elems + 1), Error);
    EXPECT_THROW(dtype_bytes(e.t, e.elems / 2), Error);
    // Block formats have no safetensors spelling.
    DType untouched = DType::I64;
    EXPECT_FALSE(dtype_from_safetensors(e.name, &untouched));
    EXPECT_EQ(untouched, DType::I64);
  }
  // The block structs agree with the table.
  EXPECT_EQ(sizeof(quant::BlockQ4_0), 18u);
  EXPECT_EQ(sizeof(quant::BlockQ6_K), 210u);
  EXPECT_EQ(sizeof(quant::BlockQ8_K), 292u);
}

TEST(QuantDTypeTest, ScalarTypesKeepTheirOrderAndMapToGgml) {
  // The original entries keep their positions.
  EXPECT_EQ(static_cast<int>(DType::F32), 0);
  EXPECT_EQ(static_cast<int>(DType::F16), 1);
  EXPECT_EQ(static_cast<int>(DType::BF16), 2);
  EXPECT_EQ(static_cast<int>(DType::I32), 3);
  EXPECT_EQ(static_cast<int>(DType::I64), 4);
  EXPECT_EQ(static_cast<int>(DType::U8), 5);
  const struct {
    DType t;
    uint32_t ggml;
  } table[] = {{DType::F32, 0}, {DType::F16, 1}, {DType::BF16, 30}, {DType::I32, 26}, {DType::I64, 27}};
  for (const auto& e : table) {
    SCOPED_TRACE(std::string(dtype_name(e.t)));
    EXPECT_FALSE(dtype_is_quantized(e.t));
    EXPECT_EQ(ggml_type_of(e.t), e.ggml);
    DType back = DType::U8;
    ASSERT_TRUE(dtype_from_ggml(e.ggml, &back));
    EXPECT_EQ(back, e.t);
  }
  EXPECT_EQ(ggml_type_of(DType::U8), kNoGgmlType);  // ggml has I8, not U8
  // Ids gemrt has no type for: the IQ formats, I8, I16, F64, TQ*, MXFP4, removed ids.
  for (uint32_t id : {4u, 5u, 16u, 17u, 18u, 19u, 20u, 21u, 22u, 23u, 24u, 25u, 28u, 29u, 31u, 34u, 35u, 39u,
                      1000u, kNoGgmlType}) {
    DType out = DType::I64;
    EXPECT_FALSE(dtype_from_ggml(id, &out)) << id;
    EXPECT_EQ(out, DType::I64) << "a failed lookup must leave the output untouched";
  }
}

// ---------------------------------------------------------------------------------------------
// dequantize_row against the gguf package

TEST(QuantDequantizeTest, VectorsFileHasEveryFormatAndCase) {
  std::set<std::string> keys;
  for (const Case& c : cases()) keys.insert(c.key);
  for (const char* k : {"F32", "F16", "BF16"}) EXPECT_TRUE(keys.count(k)) << k;
  for (DType t : kQuantTypes) {
    const std::string f(dtype_name(t));
    for (const char* sfx : {"", ".n256", ".random"}) EXPECT_TRUE(keys.count(f + sfx)) << f + sfx;
    if (t != DType::Q8_K) {
      for (const char* sfx : {".gguf256", ".gguf512"}) EXPECT_TRUE(keys.count(f + sfx)) << f + sfx;
    }
  }
  // Rows of 256 and 512 values, and bytes per row consistent with the dtype table.
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.key);
    EXPECT_EQ(c.row_bytes, dtype_bytes(c.dtype, c.n));
    if (dtype_is_quantized(c.dtype)) {
      EXPECT_TRUE(c.n == 256 || c.n == 512) << c.n;
    }
  }
}

TEST(QuantDequantizeTest, MatchesGgufPackageBitwise) {
  ASSERT_FALSE(cases().empty());
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.key);
    std::vector<float> got(static_cast<size_t>(c.n));
    for (int64_t r = 0; r < c.rows; ++r) {
      for (int misalign : {0, 1, 2, 3, 5}) {
        std::fill(got.begin(), got.end(), std::nanf(""));
        const Misaligned src(c.row(r), c.row_bytes, misalign);
        quant::dequantize_row(c.dtype, src.data(), got.data(), c.n);
        const int64_t i = first_bit_difference(got.data(), c.want(r), c.n);
        ASSERT_EQ(i, -1) << "row " << r << " misalign " << misalign << ": value " << i << " is " << got[static_cast<size_t>(i)]
                         << " (0x" << std::hex << bits(got[static_cast<size_t>(i)]) << "), want "
                         << c.want(r)[i] << " (0x" << bits(c.want(r)[i]) << ")";
      }
    }
    // All rows in one call: blocks run on across row boundaries.
    std::vector<float> all(static_cast<size_t>(c.rows * c.n));
    quant::dequantize_row(c.dtype, c.packed->bytes.data(), all.data(), c.rows * c.n);
    EXPECT_EQ(first_bit_difference(all.data(), c.want(0), c.rows * c.n), -1);
  }
}

// The fixture rows hold real llama-quantize output: non-trivial values, every sub-block used.
TEST(QuantDequantizeTest, FixtureRowsAreRealWeights) {
  for (DType t : kQuantTypes) {
    if (t == DType::Q8_K) continue;
    const Case& c = find_case(std::string(dtype_name(t)) + ".gguf512");
    SCOPED_TRACE(c.key);
    std::vector<float> got(static_cast<size_t>(c.n));
    quant::dequantize_row(c.dtype, c.row(0), got.data(), c.n);
    double ss = 0;
    int nonzero = 0;
    for (float v : got) {
      ss += static_cast<double>(v) * static_cast<double>(v);
      nonzero += v != 0.0f;
    }
    // ffn_down weights are random with std 0.15 (fixtures README).
    const double rms = std::sqrt(ss / static_cast<double>(c.n));
    EXPECT_GT(rms, 0.08);
    EXPECT_LT(rms, 0.3);
    EXPECT_GT(nonzero, c.n / 2);
  }
}

TEST(QuantDequantizeTest, RejectsPartialBlocksAndIntegerTypes) {
  std::vector<std::byte> src(4096, std::byte{0});
  std::vector<float> dst(1024);
  for (DType t : kQuantTypes) {
    const int64_t qk = dtype_info(t).block_elems;
    EXPECT_THROW(quant::dequantize_row(t, src.data(), dst.data(), qk + 1), Error) << dtype_name(t);
    EXPECT_THROW(quant::dequantize_row(t, src.data(), dst.data(), qk - 1), Error) << dtype_name(t);
    EXPECT_NO_THROW(quant::dequantize_row(t, src.data(), dst.data(), 0)) << dtype_name(t);
  }
  EXPECT_THROW(quant::dequantize_row(DType::I32, src.data(), dst.data(), 4), Error);
  EXPECT_THROW(quant::dequantize_row(DType::U8, src.data(), dst.data(), 4), Error);
}

// ---------------------------------------------------------------------------------------------
// Hand-made blocks: the layouts as documented in block_formats.h, value by value.

template <typename Block>
std::vector<float> dequant_block(DType t, const Block& b) {
  std::vector<float> y(static_cast<size_t>(dtype_info(t).block_elems));
  std::byte raw[sizeof(Block)];
  std::memcpy(raw, &b, sizeof b);
  quant::dequantize_row(t, raw, y.data(), static_cast<int64_t>(y.size()));
  return y;
}

TEST(QuantDequantizeTest, HandMadeSimpleBlocks) {
  {  // Q4_0: low nibbles are values 0..15, high nibbles 16..31; value = d (q - 8).
    quant::BlockQ4_0 b{};
    b.d = f32_to_f16(0.5f);
    for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
    const auto y = dequant_block(DType::Q4_0, b);
    for (int j = 0; j < 16; ++j) {
      EXPECT_EQ(y[static_cast<size_t>(j)], 0.5f * static_cast<float>(j - 8)) << j;
      EXPECT_EQ(y[static_cast<size_t>(j + 16)], 0.5f * static_cast<float>(7 - j)) << j + 16;
    }
  }
  {  // Q4_1: value = d q + m.
    quant::BlockQ4_1 b{};
    b.d = f32_to_f16(0.25f);
    b.m = f32_to_f16(-1.0f);
    for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | (3 << 4));
    const auto y = dequant_block(DType::Q4_1, b);
    for (int j = 0; j < 16; ++j) {
      EXPECT_EQ(y[static_cast<size_t>(j)], 0.25f * static_cast<float>(j) - 1.0f) << j;
      EXPECT_EQ(y[static_cast<size_t>(j + 16)], -0.25f) << j + 16;
    }
  }
  {  // Q5_0: bit j of the little-endian qh word is the fifth bit of value j.
    quant::BlockQ5_0 b{};
    b.d = f32_to_f16(2.0f);
    const uint32_t qh = 0x80000001u | (1u << 20);  // values 0, 20, 31
    std::memcpy(b.qh, &qh, 4);
    for (int j = 0; j < 16; ++j) b.qs[j] = 0x11;  // low bits 1 everywhere
    const auto y = dequant_block(DType::Q5_0, b);
    for (int j = 0; j < 32; ++j) {
      const bool high = j == 0 || j == 20 || j == 31;
      EXPECT_EQ(y[static_cast<size_t>(j)], 2.0f * static_cast<float>((high ? 17 : 1) - 16)) << j;
    }
  }
  {  // Q5_1: value = d q + m, q up to 31.
    quant::BlockQ5_1 b{};
    b.d = f32_to_f16(1.0f);
    b.m = f32_to_f16(0.5f);
    const uint32_t qh = 0xffffffffu;
    std::memcpy(b.qh, &qh, 4);
    for (int j = 0; j < 16; ++j) b.qs[j] = 0xf0;
    const auto y = dequant_block(DType::Q5_1, b);
    for (int j = 0; j < 32; ++j) EXPECT_EQ(y[static_cast<size_t>(j)], (j < 16 ? 16.0f : 31.0f) + 0.5f) << j;
  }
  {  // Q8_0: signed bytes.
    quant::BlockQ8_0 b{};
    b.d = f32_to_f16(-0.125f);
    for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<int8_t>(j * 8 - 128);
    const auto y = dequant_block(DType::Q8_0, b);
    for (int j = 0; j < 32; ++j) EXPECT_EQ(y[static_cast<size_t>(j)], -0.125f * static_cast<float>(j * 8 - 128)) << j;
  }
  {  // Q8_K: float32 scale, signed bytes; bsums ignored.
    quant::BlockQ8_K b{};
    b.d = 0.3f;
    for (int j = 0; j < 256; ++j) b.qs[j] = static_cast<int8_t>(j - 128);
    for (int16_t& s : b.bsums) s = 12345;
    const auto y = dequant_block(DType::Q8_K, b);
    for (int j = 0; j < 256; ++j) EXPECT_EQ(y[static_cast<size_t>(j)], 0.3f * static_cast<float>(j - 128)) << j;
  }
}

TEST(QuantDequantizeTest, HandMadeKQuantBlocks) {
  {  // Q2_K: value 16 s + i; in half h = v / 128, value 32 k + l is bits 2k.. of qs[32 h + l].
    quant::BlockQ2_K b{};
    b.d = f32_to_f16(0.5f);
    b.dmin = f32_to_f16(0.25f);
    for (int s = 0; s < 16; ++s) b.scales[s] = static_cast<uint8_t>((s % 16) | ((15 - s) << 4));
    const int v = 128 + 64 + 5;        // h 1, k 2, l 5; sub-block 12
    b.qs[32 + 5] = 3 << 4;             // code 3
    const auto y = dequant_block(DType::Q2_K, b);
    EXPECT_EQ(y[v], 0.5f * 12 * 3 - 0.25f * 3);
    EXPECT_EQ(y[v - 1], -0.25f * 3);  // code 0, same sub-block
    EXPECT_EQ(y[0], -0.25f * 15);
  }
  {  // Q3_K: 6-bit scales split in nibbles + 2-bit fields; a clear hmask bit subtracts 4.
    quant::BlockQ3_K b{};
    b.d = f32_to_f16(1.0f);
    // Scale 13: low nibble = high nibble of scales[5], high bits = bits 6-7 of scales[9].
    b.scales[5] = 0xA0;                 // low 4 bits 10
    b.scales[9] = 2 << 6;               // high 2 bits 2 -> code 32 + 10 = 42 -> scale 10
    const int v = 13 * 16 + 3;          // 211: hmask[19] bit 6; qs[32 + 19] bits 4-5
    b.hmask[19] = 1 << 6;
    b.qs[32 + 19] = 2 << 4;
    const auto y = dequant_block(DType::Q3_K, b);
    EXPECT_EQ(y[v], 10.0f * 2.0f);
    // Its neighbour in the same sub-block: code 0, hmask bit clear -> q = -4.
    EXPECT_EQ(y[v + 1], 10.0f * -4.0f);
    // Sub-block 0: every scale byte zero -> scale -32; q = -4.
    EXPECT_EQ(y[0], -32.0f * -4.0f);
  }
  {  // Q4_K: sub-block 5 takes its scale/min from bytes 9 (low / high nibble) and bytes 1 / 5
     // (top 2 bits); its codes are the high nibbles of qs[64..95].
    quant::BlockQ4_K b{};
    b.d = f32_to_f16(0.5f);
    b.dmin = f32_to_f16(2.0f);
    b.scales[9] = 0x7 | (0x3 << 4);       // sc low 7, mn low 3
    b.scales[1] = 0x05 | (1 << 6);        // sc[1] = 5, sc[5] high bits 1 -> sc[5] = 23
    b.scales[5] = 0x09 | (2 << 6);        // mn[1] = 9, mn[5] high bits 2 -> mn[5] = 35
    b.qs[64 + 4] = 0x0c | (0xb << 4);     // value 32 * 4 + 4 = 132 -> 12, value 164 -> 11
    const auto y = dequant_block(DType::Q4_K, b);
    EXPECT_EQ(y[164], 0.5f * 23 * 11 - 2.0f * 35);
    EXPECT_EQ(y[132], 0.0f * 12 - 0.0f);  // sub-block 4: sc = mn = 0
    EXPECT_EQ(y[32], -2.0f * 9);          // sub-block 1: code 0, sc 5, mn 9
  }
  {  // Q5_K: as Q4_K plus bit s of qh[l] for value 32 s + l.
    quant::BlockQ5_K b{};
    b.d = f32_to_f16(1.0f);
    b.dmin = f32_to_f16(1.0f);
    b.scales[3] = 2;                      // sc[3] = 2, mn[3] = 0
    b.qh[7] = 1 << 3;
    b.qs[32 + 7] = 0x50;                  // sub-block 3 = high nibbles of qs[32..63] -> 5
    const auto y = dequant_block(DType::Q5_K, b);
    EXPECT_EQ(y[96 + 7], 2.0f * (5 + 16));
    EXPECT_EQ(y[96 + 8], 0.0f);
  }
  {  // Q6_K: in half h, value 64 k + i is nibble k of ql[64 h + i]; value 32 k + l bits 2k.. of
     // qh[32 h + l]; q - 32; int8 scale per 16 values.
    quant::BlockQ6_K b{};
    b.d = f32_to_f16(0.5f);
    for (int s = 0; s < 16; ++s) b.scales[s] = static_cast<int8_t>(s - 8);
    const int v = 128 + 72;               // h 1, r 72: ql[64 + 8] high nibble; qh[32 + 8] bits 4-5
    b.ql[64 + 8] = 0x9 << 4;
    b.qh[32 + 8] = 3 << 4;
    const auto y = dequant_block(DType::Q6_K, b);
    EXPECT_EQ(y[v], 0.5f * static_cast<float>(12 - 8) * static_cast<float>((9 | 48) - 32));
    EXPECT_EQ(y[0], 0.5f * -8.0f * -32.0f);
  }
}

// ---------------------------------------------------------------------------------------------
// CPU kernels on packed weights

TensorView packed_view(const Case& c, const std::byte* data) {
  return TensorView{c.key, c.dtype, Shape{c.rows, c.n}, data};
}

TEST(QuantWeightRowsTest, ReadsAnyRangeOfPackedRows) {
  for (DType t : kQuantTypes) {
    for (const char* sfx : {"", ".n256"}) {
      const Case& c = find_case(std::string(dtype_name(t)) + sfx);
      SCOPED_TRACE(c.key);
      for (int misalign : {0, 3}) {
        const Misaligned data(c.packed->bytes.data(), static_cast<int64_t>(c.packed->bytes.size()), misalign);
        const TensorView w = packed_view(c, data.data());
        ASSERT_EQ(w.nbytes(), static_cast<int64_t>(c.packed->bytes.size()));
        const int64_t ranges[][2] = {{0, c.n}, {0, 32}, {5, 1}, {31, 2}, {17, 200}, {c.n / 2 - 6, c.n / 2 + 6},
                                     {c.n - 256, 256}, {c.n - 1, 1}, {1, c.n - 2}, {40, 0}, {100, 156}};
        std::vector<float> got(static_cast<size_t>(c.n) + 1);
        for (int64_t r = 0; r < c.rows; ++r) {
          for (const auto& rg : ranges) {
            const int64_t begin = rg[0], n = rg[1];
            std::fill(got.begin(), got.end(), -7.5f);
            cpu::read_weight_row(w, r, begin, n, got.data());
            ASSERT_EQ(first_bit_difference(got.data(), c.want(r) + begin, n), -1)
                << "row " << r << " [" << begin << ", " << begin + n << ") misalign " << misalign;
            ASSERT_EQ(got[static_cast<size_t>(n)], -7.5f) << "wrote past the range";
          }
          std::vector<float> scratch(static_cast<size_t>(c.n));
          const float* full = cpu::weight_row_f32(w, r, scratch.data());
          ASSERT_EQ(first_bit_difference(full, c.want(r), c.n), -1) << "weight_row_f32 row " << r;
        }
      }
    }
  }
}

TEST(QuantWeightRowsTest, OneDimensionalWeightAndBadRowWidth) {
  const Case& c = find_case("Q6_K.gguf512");
  const TensorView vec{"vec", c.dtype, Shape{c.n}, c.row(1)};
  std::vector<float> got(static_cast<size_t>(c.n));
  cpu::read_weight_row(vec, 0, 0, c.n, got.data());
  EXPECT_EQ(first_bit_difference(got.data(), c.want(1), c.n), -1);
  // A row width that is not a whole number of Q4_0 blocks.
  const Case& q = find_case("Q4_0.n256");
  const TensorView bad{"bad", DType::Q4_0, Shape{2, 48}, q.row(0)};
  EXPECT_THROW(cpu::read_weight_row(bad, 0, 0, 16, got.data()), Error);
  const TensorView ints{"ints", DType::I32, Shape{2, 4}, q.row(0)};
  EXPECT_THROW(cpu::read_weight_row(ints, 0, 0, 4, got.data()), Error);
}

std::vector<float> random_vec(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& f : v) f = u(rng);
  return v;
}

// matmul with a packed weight: equal to float32 matmul on the gguf package's dequantized values
// (the same kernel sees the same numbers), and close to a double-precision reference.
TEST(QuantMatmulTest, PackedWeightsMatchDequantizedReference) {
  ThreadPool pool(2);
  uint32_t seed = 7;
  for (DType t : kQuantTypes) {
    for (const char* sfx : {"", ".gguf512", ".gguf256"}) {
      if (t == DType::Q8_K && std::string(sfx) != "") continue;
      const Case& c = find_case(std::string(dtype_name(t)) + sfx);
      SCOPED_TRACE(c.key);
      // N = 37 output rows (cycling through the case's rows) so several threads take part.
      const int64_t n_out = 37, k = c.n, tt = 3;
      std::vector<std::byte> packed(static_cast<size_t>(n_out * c.row_bytes));
      std::vector<float> wref(static_cast<size_t>(n_out * k));
      for (int64_t r = 0; r < n_out; ++r) {
        std::memcpy(packed.data() + r * c.row_bytes, c.row(r % c.rows), static_cast<size_t>(c.row_bytes));
        std::memcpy(wref.data() + r * k, c.want(r % c.rows), static_cast<size_t>(k) * sizeof(float));
      }
      const Misaligned data(packed.data(), static_cast<int64_t>(packed.size()), 1);
      const TensorView w{c.key, c.dtype, Shape{n_out, k}, data.data()};
      const HostTensor wf = HostTensor::from<float>("wf", Shape{n_out, k}, DType::F32, wref);
      const std::vector<float> x = random_vec(static_cast<size_t>(tt * k), ++seed);
      std::vector<float> out(static_cast<size_t>(tt * n_out), std::nanf(""));
      std::vector<float> out_f32(out.size(), std::nanf(""));
      cpu::matmul(x.data(), tt, w, out.data(), pool);
      cpu::matmul(x.data(), tt, wf.view(), out_f32.data(), pool);
      EXPECT_EQ(first_bit_difference(out.data(), out_f32.data(), tt * n_out), -1);
      for (int64_t i = 0; i < tt; ++i)
        for (int64_t j = 0; j < n_out; ++j) {
          double ref = 0.0, mag = 0.0;
          for (int64_t q = 0; q < k; ++q) {
            const double p = static_cast<double>(x[static_cast<size_t>(i * k + q)]) *
                             static_cast<double>(wref[static_cast<size_t>(j * k + q)]);
            ref += p;
            mag += std::fabs(p);
          }
          const double got = static_cast<double>(out[static_cast<size_t>(i * n_out + j)]);
          ASSERT_TRUE(std::isfinite(got)) << "out[" << i << ", " << j << "]";
          // float32 products summed in 8 float32 lanes of k / 8 terms: |error| <= ~k/8 * 2^-24 * mag.
          ASSERT_NEAR(got, ref, 1e-5 * mag + 1e-30) << "out[" << i << ", " << j << "]";
        }
    }
  }
}

TEST(QuantKernelsTest, EmbedAndRmsNormReadPackedWeights) {
  ThreadPool pool(2);
  for (DType t : kQuantTypes) {
    if (t == DType::Q8_K) continue;
    const Case& c = find_case(std::string(dtype_name(t)) + ".gguf256");
    SCOPED_TRACE(c.key);
    const Misaligned data(c.packed->bytes.data(), static_cast<int64_t>(c.packed->bytes.size()), 2);
    const TensorView table = packed_view(c, data.data());
    const int32_t ids[] = {1, 0, 1, 1};
    std::vector<float> out(4 * static_cast<size_t>(c.n));
    cpu::embed(table, ids, 4, 2.0f, -1, out.data(), pool);
    std::vector<float> want(out.size());
    for (size_t i = 0; i < 4; ++i)
      for (int64_t j = 0; j < c.n; ++j) want[i * static_cast<size_t>(c.n) + static_cast<size_t>(j)] = c.want(ids[i])[j] * 2.0f;
    EXPECT_EQ(first_bit_difference(out.data(), want.data(), static_cast<int64_t>(out.size())), -1);
    // RMSNorm with a packed gain vector equals RMSNorm with its float32 values.
    const TensorView gain{"gain", c.dtype, Shape{c.n}, data.data() + c.row_bytes};
    const HostTensor gain_f32 = HostTensor::from<float>("gain_f32", Shape{c.n}, DType::F32,
                                                       std::span<const float>(c.want(1), static_cast<size_t>(c.n)));
    const TensorView gain_f32_view = gain_f32.view();
    RmsNormAttrs a;
    a.dim = c.n;
    a.weight_offset = 1.0f;
    const std::vector<float> x = random_vec(3 * static_cast<size_t>(c.n), 99);
    std::vector<float> y(x.size()), y_f32(x.size());
    cpu::rms_norm(x.data(), static_cast<int64_t>(x.size()), &gain, a, y.data(), pool);
    cpu::rms_norm(x.data(), static_cast<int64_t>(x.size()), &gain_f32_view, a, y_f32.data(), pool);
    EXPECT_EQ(first_bit_difference(y.data(), y_f32.data(), static_cast<int64_t>(y.size())), -1);
  }
}

}  // namespace
}  // namespace gemrt
