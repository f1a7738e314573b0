// Tests for gemrt/core/dtype.h and gemrt/core/half.h.
//
// The 16-bit conversions are checked against bit patterns known independently of the code
// under test (IEEE 754 binary16 / bfloat16 tables), and against a brute-force reference that
// enumerates every representable 16-bit value in double precision and picks the nearest one
// (ties to the even bit pattern).

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gemrt/core/dtype.h"
#include "gemrt/core/error.h"
#include "gemrt/core/half.h"
#include "gemrt/core/shape.h"

namespace gemrt {
namespace {

// ---------------------------------------------------------------------------------------------
// dtype.h

TEST(DtypeTest, BytesPerElement) {
  EXPECT_EQ(dtype_bytes(DType::F32, 1), 4);
  EXPECT_EQ(dtype_bytes(DType::F16, 1), 2);
  EXPECT_EQ(dtype_bytes(DType::BF16, 1), 2);
  EXPECT_EQ(dtype_bytes(DType::I32, 1), 4);
  EXPECT_EQ(dtype_bytes(DType::I64, 1), 8);
  EXPECT_EQ(dtype_bytes(DType::U8, 1), 1);
}

TEST(DtypeTest, BytesScaleWithCount) {
  EXPECT_EQ(dtype_bytes(DType::F32, 0), 0);
  EXPECT_EQ(dtype_bytes(DType::F32, 10), 40);
  EXPECT_EQ(dtype_bytes(DType::BF16, 7), 14);
  EXPECT_EQ(dtype_bytes(DType::F16, 3), 6);
  EXPECT_EQ(dtype_bytes(DType::I64, 5), 40);
  EXPECT_EQ(dtype_bytes(DType::U8, 12345), 12345);
  // Large counts (a 256k x 4k embedding table) must not overflow.
  EXPECT_EQ(dtype_bytes(DType::F32, int64_t{262144} * 4096), int64_t{4294967296});
}

TEST(DtypeTest, FromSafetensorsKnownNames) {
  const struct {
    const char* name;
    DType dtype;
  } cases[] = {{"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16},
               {"I32", DType::I32}, {"I64", DType::I64}, {"U8", DType::U8}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    DType out = DType::U8;
    if (c.dtype == DType::U8) out = DType::F32;  // make sure the value is really written
    ASSERT_TRUE(dtype_from_safetensors(c.name, &out));
    EXPECT_EQ(out, c.dtype);
    // The safetensors spelling round-trips through dtype_name.
    EXPECT_EQ(dtype_name(c.dtype), c.name);
  }
}

TEST(DtypeTest, FromSafetensorsRejectsUnknownNames) {
  for (const char* name : {"F64", "I8", "I16", "U16", "BOOL", "F8_E4M3", "f32", "bf16", "F32 ", " F32", "", "F3"}) {
    SCOPED_TRACE(std::string("'") + name + "'");
    DType out = DType::I64;
    EXPECT_FALSE(dtype_from_safetensors(name, &out));
    EXPECT_EQ(out, DType::I64) << "a failed parse must leave the output untouched";
  }
}

TEST(DtypeTest, InfoMarksFloatTypes) {
  EXPECT_TRUE(dtype_info(DType::F32).is_float);
  EXPECT_TRUE(dtype_info(DType::F16).is_float);
  EXPECT_TRUE(dtype_info(DType::BF16).is_float);
  EXPECT_FALSE(dtype_info(DType::I32).is_float);
  EXPECT_FALSE(dtype_info(DType::I64).is_float);
  EXPECT_FALSE(dtype_info(DType::U8).is_float);
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::I32, DType::I64, DType::U8})
    EXPECT_EQ(dtype_info(t).block_elems, 1) << dtype_name(t);
}

TEST(DtypeShapeTest, NumelRowsAndToString) {
  EXPECT_EQ(Shape{}.numel(), 1);
  EXPECT_EQ(Shape{}.rows(), 1);
  EXPECT_EQ(Shape{}.to_string(), "[]");
  EXPECT_EQ((Shape{2, 3, 4}).numel(), 24);
  EXPECT_EQ((Shape{2, 3, 4}).rows(), 6);
  EXPECT_EQ((Shape{2, 3, 4}).to_string(), "[2, 3, 4]");
  EXPECT_EQ(Shape{7}.rows(), 1);
  // Zero-size tensors: the rows are still the product of the leading dimensions.
  EXPECT_EQ((Shape{3, 0}).numel(), 0);
  EXPECT_EQ((Shape{3, 0}).rows(), 3);
  EXPECT_EQ((Shape{0, 5}).rows(), 0);
  EXPECT_EQ(Shape{0}.rows(), 1);
}

// ---------------------------------------------------------------------------------------------
// half.h: helpers

uint32_t bits(float f) { return std::bit_cast<uint32_t>(f); }
float from_bits(uint32_t u) { return std::bit_cast<float>(u); }

// Exact value of an IEEE binary16 pattern, from the format's definition (1 sign bit, 5
// exponent bits with bias 15, 10 mantissa bits). Not valid for inf / nan.
double f16_value(uint16_t h) {
  const int exp = (h >> 10) & 0x1f;
  const int mant = h & 0x3ff;
  const double mag = exp == 0 ? std::ldexp(mant, -24) : std::ldexp(1024 + mant, exp - 25);
  return (h & 0x8000) ? -mag : mag;
}

// Exact value of a bfloat16 pattern (1 sign bit, 8 exponent bits with bias 127, 7 mantissa
// bits). Not valid for inf / nan.
double bf16_value(uint16_t h) {
  const int exp = (h >> 7) & 0xff;
  const int mant = h & 0x7f;
  const double mag = exp == 0 ? std::ldexp(mant, -133) : std::ldexp(128 + mant, exp - 134);
  return (h & 0x8000) ? -mag : mag;
}

bool is_f16_nan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0; }
bool is_bf16_nan(uint16_t h) { return (h & 0x7f80) == 0x7f80 && (h & 0x7f) != 0; }

// Positive magnitudes of a 16-bit format, indexed by bit pattern, from 0 up to and including
// the pattern of +inf, which is given the value the next finite number would have (this is
// where IEEE rounding sends overflowing values: ties at the midpoint go to the even pattern,
// which is inf).
std::vector<double> magnitude_table(double (*value)(uint16_t), uint16_t inf_bits, double inf_stand_in) {
  std::vector<double> t(static_cast<size_t>(inf_bits) + 1);
  for (uint32_t h = 0; h < inf_bits; ++h) t[h] = value(static_cast<uint16_t>(h));
  t[inf_bits] = inf_stand_in;
  return t;
}

const std::vector<double>& f16_table() {
  static const std::vector<double> t = magnitude_table(f16_value, 0x7c00, 65536.0);
  return t;
}
const std::vector<double>& bf16_table() {
  static const std::vector<double> t = magnitude_table(bf16_value, 0x7f80, std::ldexp(1.0, 128));
  return t;
}

// Reference rounding of a non-nan float: the nearest entry of `table`, ties to the even
// pattern; values beyond the last entry become inf.
uint16_t reference_round(const std::vector<double>& table, float f) {
  const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  const double x = std::fabs(static_cast<double>(f));
  const auto hi_it = std::upper_bound(table.begin(), table.end(), x);  // first entry > x
  if (hi_it == table.end()) return static_cast<uint16_t>(sign | (table.size() - 1));
  const auto hi = static_cast<size_t>(hi_it - table.begin());
  const size_t lo = hi - 1;  // table[0] == 0 <= x
  if (table[lo] == x) return static_cast<uint16_t>(sign | lo);
  const double mid = (table[lo] + table[hi]) / 2;  // exact: one more bit than the format
  size_t r;
  if (x < mid) r = lo;
  else if (x > mid) r = hi;
  else r = (lo % 2 == 0) ? lo : hi;
  return static_cast<uint16_t>(sign | r);
}

// ---------------------------------------------------------------------------------------------
// f16

TEST(HalfF16Test, KnownPatternsToFloat) {
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xbc00), -1.0f);
  EXPECT_EQ(f16_to_f32(0x4000), 2.0f);
  EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x3800), 0.5f);
  EXPECT_EQ(f16_to_f32(0x5640), 100.0f);
  EXPECT_EQ(f16_to_f32(0x3555), 0.333251953125f);
  EXPECT_EQ(f16_to_f32(0x2e66), 0.0999755859375f);
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);                 // largest finite
  EXPECT_EQ(f16_to_f32(0xfbff), -65504.0f);
  EXPECT_EQ(f16_to_f32(0x0400), std::ldexp(1.0f, -14));    // smallest normal
  EXPECT_EQ(f16_to_f32(0x03ff), 1023.0f * std::ldexp(1.0f, -24));  // largest subnormal
  EXPECT_EQ(f16_to_f32(0x0200), std::ldexp(1.0f, -15));
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));    // smallest subnormal
  EXPECT_EQ(f16_to_f32(0x0001), 5.9604644775390625e-08f);
  EXPECT_EQ(f16_to_f32(0x8001), -std::ldexp(1.0f, -24));
}

TEST(HalfF16Test, ZerosInfinitiesAndNans) {
  EXPECT_EQ(bits(f16_to_f32(0x0000)), 0x00000000u);
  EXPECT_EQ(bits(f16_to_f32(0x8000)), 0x80000000u);  // -0.0 keeps its sign
  EXPECT_EQ(f16_to_f32(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(f16_to_f32(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7e00)));
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7c01)));  // signalling nan, smallest payload
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7fff)));
  EXPECT_TRUE(std::isnan(f16_to_f32(0xfe00)));
  EXPECT_TRUE(std::signbit(f16_to_f32(0xfe00)));

  EXPECT_EQ(f32_to_f16(0.0f), 0x0000);
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(f32_to_f16(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_TRUE(is_f16_nan(f32_to_f16(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(is_f16_nan(f32_to_f16(-std::numeric_limits<float>::quiet_NaN())));
  // A nan whose payload lives only in the low mantissa bits must stay a nan, not become inf.
  EXPECT_TRUE(is_f16_nan(f32_to_f16(from_bits(0x7f800001u))));
  EXPECT_TRUE(is_f16_nan(f32_to_f16(from_bits(0xff800001u))));
  EXPECT_TRUE(is_f16_nan(f32_to_f16(from_bits(0x7f801fffu))));
}

TEST(HalfF16Test, KnownFloatsToPatterns) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(-1.0f), 0xbc00);
  EXPECT_EQ(f32_to_f16(2.0f), 0x4000);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(f32_to_f16(0.5f), 0x3800);
  EXPECT_EQ(f32_to_f16(100.0f), 0x5640);
  EXPECT_EQ(f32_to_f16(1.0f / 3.0f), 0x3555);
  EXPECT_EQ(f32_to_f16(0.1f), 0x2e66);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(-65504.0f), 0xfbff);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -14)), 0x0400);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(f32_to_f16(-std::ldexp(1.0f, -24)), 0x8001);
  EXPECT_EQ(f32_to_f16(1023.0f * std::ldexp(1.0f, -24)), 0x03ff);
}

TEST(HalfF16Test, RoundsToNearestEvenOnTies) {
  // Normal range: spacing of f16 at [1, 2) is 2^-10.
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);         // tie -> even (down)
  EXPECT_EQ(f32_to_f16(1.0f + 3.0f * std::ldexp(1.0f, -11)), 0x3c02);  // tie -> even (up)
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -23)), 0x3c01);  // above tie
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11) - std::ldexp(1.0f, -23)), 0x3c00);  // below tie
  EXPECT_EQ(f32_to_f16(-(1.0f + 3.0f * std::ldexp(1.0f, -11))), 0xbc02);
  // Spacing at [2048, 4096) is 2: odd integers are ties.
  EXPECT_EQ(f32_to_f16(2049.0f), 0x6800);  // 2048
  EXPECT_EQ(f32_to_f16(2051.0f), 0x6802);  // 2052
  EXPECT_EQ(f32_to_f16(2050.0f), 0x6801);
  // Subnormal range: units of 2^-24.
  const float u = std::ldexp(1.0f, -25);  // half a unit
  EXPECT_EQ(f32_to_f16(u), 0x0000);                                   // tie between 0 and 1 -> 0
  EXPECT_EQ(f32_to_f16(-u), 0x8000);
  EXPECT_EQ(f32_to_f16(u + std::ldexp(1.0f, -40)), 0x0001);           // just above the tie
  EXPECT_EQ(f32_to_f16(3.0f * u), 0x0002);                            // tie between 1 and 2 -> 2
  EXPECT_EQ(f32_to_f16(5.0f * u), 0x0002);                            // tie between 2 and 3 -> 2
  EXPECT_EQ(f32_to_f16(2047.0f * u), 0x0400);  // tie between 0x3ff and the smallest normal 0x400
  EXPECT_EQ(f32_to_f16(2045.0f * u), 0x03fe);  // tie between 0x3fe and 0x3ff -> 0x3fe
  // Far below the smallest subnormal: zero with the sign kept.
  EXPECT_EQ(f32_to_f16(1e-10f), 0x0000);
  EXPECT_EQ(f32_to_f16(-1e-10f), 0x8000);
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::min()), 0x0000);
}

TEST(HalfF16Test, OverflowsToInfinity) {
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7bff);   // below the midpoint to 65536
  EXPECT_EQ(f32_to_f16(65519.996f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);   // midpoint: ties to even, which is inf
  EXPECT_EQ(f32_to_f16(-65520.0f), 0xfc00);
  EXPECT_EQ(f32_to_f16(65536.0f), 0x7c00);
  EXPECT_EQ(f32_to_f16(1e6f), 0x7c00);
  EXPECT_EQ(f32_to_f16(-1e6f), 0xfc00);
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::max()), 0x7c00);
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::lowest()), 0xfc00);
}

// Every f16 pattern converts to the exact value the binary16 definition gives it.
TEST(HalfF16Test, ToFloatMatchesDefinitionExhaustively) {
  int failures = 0;
  for (uint32_t i = 0; i <= 0xffff; ++i) {
    const auto h = static_cast<uint16_t>(i);
    const float f = f16_to_f32(h);
    if (is_f16_nan(h)) {
      if (!std::isnan(f) || std::signbit(f) != ((h & 0x8000) != 0)) {
        ADD_FAILURE() << "f16 nan 0x" << std::hex << i << " -> " << f;
        ++failures;
      }
      continue;
    }
    const bool inf = (h & 0x7fff) == 0x7c00;
    const double want = inf ? ((h & 0x8000) ? -HUGE_VAL : HUGE_VAL) : f16_value(h);
    if (static_cast<double>(f) != want || std::signbit(f) != ((h & 0x8000) != 0)) {
      ADD_FAILURE() << "f16 0x" << std::hex << i << " -> " << f << ", want " << want;
      ++failures;
    }
    if (failures > 10) FAIL() << "too many failures";
  }
}

// f16 -> f32 -> f16 is the identity on all 65536 patterns but the nans (2 x 1023 of them),
// which stay nans.
TEST(HalfF16Test, RoundTripIsExactForAllPatterns) {
  int checked = 0;
  int failures = 0;
  for (uint32_t i = 0; i <= 0xffff; ++i) {
    const auto h = static_cast<uint16_t>(i);
    const uint16_t back = f32_to_f16(f16_to_f32(h));
    if (is_f16_nan(h)) {
      if (!is_f16_nan(back)) {
        ADD_FAILURE() << "nan 0x" << std::hex << i << " came back as 0x" << back;
        ++failures;
      }
      continue;
    }
    ++checked;
    if (back != h) {
      ADD_FAILURE() << "0x" << std::hex << i << " came back as 0x" << back;
      ++failures;
    }
    if (failures > 10) FAIL() << "too many failures";
  }
  EXPECT_EQ(checked, 65536 - 2 * 1023);
}

// Floats just below, at and just above every midpoint between neighbouring f16 values
// (including the midpoint between 65504 and the 65536 that rounds to inf).
TEST(HalfF16Test, RoundsCorrectlyAroundEveryMidpoint) {
  const std::vector<double>& t = f16_table();
  int failures = 0;
  for (size_t h = 0; h + 1 < t.size(); ++h) {
    const auto mid = static_cast<float>((t[h] + t[h + 1]) / 2);
    ASSERT_EQ(static_cast<double>(mid), (t[h] + t[h + 1]) / 2) << "midpoint not exact in float";
    const auto lo = static_cast<uint16_t>(h);
    const auto hi = static_cast<uint16_t>(h + 1);
    const uint16_t even = (h % 2 == 0) ? lo : hi;
    const float below = std::nextafter(mid, 0.0f);
    const float above = std::nextafter(mid, std::numeric_limits<float>::infinity());
    for (const auto& [x, want] : {std::pair{below, lo}, std::pair{mid, even}, std::pair{above, hi}}) {
      for (const float s : {1.0f, -1.0f}) {
        const uint16_t got = f32_to_f16(s * x);
        const auto expected = static_cast<uint16_t>(want | (s < 0 ? 0x8000 : 0));
        if (got != expected) {
          ADD_FAILURE() << "f32_to_f16(" << s * x << ") = 0x" << std::hex << got << ", want 0x" << expected;
          ++failures;
        }
      }
    }
    if (failures > 10) FAIL() << "too many failures";
  }
}

// A sweep over the whole float range (every exponent, both signs, subnormals included)
// against the brute-force nearest-value reference.
TEST(HalfF16Test, MatchesReferenceRoundingOverFloatRange) {
  const std::vector<double>& t = f16_table();
  int failures = 0;
  int64_t checked = 0;
  for (uint64_t u = 0; u < 0x7f800000u; u += 4093) {
    for (const uint32_t sign : {0u, 0x80000000u}) {
      const float f = from_bits(static_cast<uint32_t>(u) | sign);
      const uint16_t got = f32_to_f16(f);
      const uint16_t want = reference_round(t, f);
      ++checked;
      if (got != want) {
        ADD_FAILURE() << "f32_to_f16(" << f << " = 0x" << std::hex << bits(f) << ") = 0x" << got << ", want 0x"
                      << want;
        ++failures;
      }
    }
    if (failures > 10) FAIL() << "too many failures";
  }
  EXPECT_GT(checked, 1000000);
}

// ---------------------------------------------------------------------------------------------
// bf16

TEST(HalfBf16Test, KnownPatternsToFloat) {
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(bf16_to_f32(0xbf80), -1.0f);
  EXPECT_EQ(bf16_to_f32(0x4000), 2.0f);
  EXPECT_EQ(bf16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(bf16_to_f32(0x3f00), 0.5f);
  EXPECT_EQ(bf16_to_f32(0x42c8), 100.0f);
  EXPECT_EQ(bf16_to_f32(0x4380), 256.0f);
  EXPECT_EQ(bf16_to_f32(0x4049), 3.140625f);
  EXPECT_EQ(bf16_to_f32(0x7f7f), 3.3895313892515355e38f);  // largest finite
  EXPECT_EQ(bf16_to_f32(0x0080), std::numeric_limits<float>::min());
  EXPECT_EQ(bf16_to_f32(0x0001), std::ldexp(1.0f, -133));  // smallest subnormal
  EXPECT_EQ(bits(bf16_to_f32(0x0000)), 0x00000000u);
  EXPECT_EQ(bits(bf16_to_f32(0x8000)), 0x80000000u);
  EXPECT_EQ(bf16_to_f32(0x7f80), std::numeric_limits<float>::infinity());
  EXPECT_EQ(bf16_to_f32(0xff80), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(bf16_to_f32(0x7fc0)));
  EXPECT_TRUE(std::isnan(bf16_to_f32(0x7f81)));
  EXPECT_TRUE(std::isnan(bf16_to_f32(0xffc0)));
}

TEST(HalfBf16Test, KnownFloatsToPatterns) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(-1.0f), 0xbf80);
  EXPECT_EQ(f32_to_bf16(2.0f), 0x4000);
  EXPECT_EQ(f32_to_bf16(0.5f), 0x3f00);
  EXPECT_EQ(f32_to_bf16(100.0f), 0x42c8);
  EXPECT_EQ(f32_to_bf16(0.1f), 0x3dcd);        // 0x3dcccccd rounds up
  EXPECT_EQ(f32_to_bf16(3.14159265f), 0x4049);  // 0x40490fdb rounds down
  EXPECT_EQ(f32_to_bf16(0.0f), 0x0000);
  EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(f32_to_bf16(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_EQ(f32_to_bf16(3.3895313892515355e38f), 0x7f7f);
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::min()), 0x0080);
}

TEST(HalfBf16Test, NansStayNans) {
  EXPECT_TRUE(is_bf16_nan(f32_to_bf16(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(is_bf16_nan(f32_to_bf16(-std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::signbit(bf16_to_f32(f32_to_bf16(-std::numeric_limits<float>::quiet_NaN()))));
  // Payload only in the low 16 bits: plain truncation would give inf, rounding would carry
  // into the exponent; both are wrong.
  EXPECT_TRUE(is_bf16_nan(f32_to_bf16(from_bits(0x7f800001u))));
  EXPECT_TRUE(is_bf16_nan(f32_to_bf16(from_bits(0xff800001u))));
  EXPECT_TRUE(is_bf16_nan(f32_to_bf16(from_bits(0x7fffffffu))));
  EXPECT_TRUE(is_bf16_nan(f32_to_bf16(from_bits(0x7f808000u))));
}

TEST(HalfBf16Test, RoundsToNearestEvenOnTies) {
  // Spacing of bf16 at [1, 2) is 2^-7.
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);         // tie -> even (down)
  EXPECT_EQ(f32_to_bf16(1.0f + 3.0f * std::ldexp(1.0f, -8)), 0x3f82);  // tie -> even (up)
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -23)), 0x3f81);
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8) - std::ldexp(1.0f, -23)), 0x3f80);
  EXPECT_EQ(f32_to_bf16(-(1.0f + 3.0f * std::ldexp(1.0f, -8))), 0xbf82);
  // Spacing at [256, 512) is 2: odd integers are ties.
  EXPECT_EQ(f32_to_bf16(257.0f), 0x4380);  // 256
  EXPECT_EQ(f32_to_bf16(259.0f), 0x4382);  // 260
  EXPECT_EQ(f32_to_bf16(257.5f), 0x4381);  // 258
  // Float subnormals.
  EXPECT_EQ(f32_to_bf16(from_bits(0x00000001u)), 0x0000);
  EXPECT_EQ(f32_to_bf16(from_bits(0x00008000u)), 0x0000);  // tie -> 0
  EXPECT_EQ(f32_to_bf16(from_bits(0x00018000u)), 0x0002);  // tie -> 2
  EXPECT_EQ(f32_to_bf16(from_bits(0x80018000u)), 0x8002);
}

TEST(HalfBf16Test, OverflowsToInfinity) {
  EXPECT_EQ(f32_to_bf16(from_bits(0x7f7f7fffu)), 0x7f7f);  // below the midpoint
  EXPECT_EQ(f32_to_bf16(from_bits(0x7f7f8000u)), 0x7f80);  // midpoint to 2^128: ties to inf
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::lowest()), 0xff80);
}

TEST(HalfBf16Test, ToFloatMatchesDefinitionAndRoundTripsExhaustively) {
  int failures = 0;
  for (uint32_t i = 0; i <= 0xffff; ++i) {
    const auto h = static_cast<uint16_t>(i);
    const float f = bf16_to_f32(h);
    if (is_bf16_nan(h)) {
      if (!std::isnan(f) || !is_bf16_nan(f32_to_bf16(f))) {
        ADD_FAILURE() << "bf16 nan 0x" << std::hex << i;
        ++failures;
      }
      continue;
    }
    const bool inf = (h & 0x7fff) == 0x7f80;
    const double want = inf ? ((h & 0x8000) ? -HUGE_VAL : HUGE_VAL) : bf16_value(h);
    if (static_cast<double>(f) != want || std::signbit(f) != ((h & 0x8000) != 0)) {
      ADD_FAILURE() << "bf16 0x" << std::hex << i << " -> " << f << ", want " << want;
      ++failures;
    }
    if (f32_to_bf16(f) != h) {
      ADD_FAILURE() << "bf16 0x" << std::hex << i << " came back as 0x" << f32_to_bf16(f);
      ++failures;
    }
    if (failures > 10) FAIL() << "too many failures";
  }
}

TEST(HalfBf16Test, MatchesReferenceRoundingOverFloatRange) {
  const std::vector<double>& t = bf16_table();
  int failures = 0;
  int64_t checked = 0;
  // The stride is odd, so the low halves vary across the sweep; the inner loop adds the low
  // halves that matter most (around the midpoint).
  for (uint64_t u = 0; u < 0x7f800000u; u += 16381) {
    for (const uint32_t low : {0u, 1u, 0x7fffu, 0x8000u, 0x8001u, 0xffffu}) {
      for (const uint32_t sign : {0u, 0x80000000u}) {
        const uint32_t b = low == 0 ? static_cast<uint32_t>(u) : ((static_cast<uint32_t>(u) & 0xffff0000u) | low);
        const float f = from_bits(b | sign);
        const uint16_t got = f32_to_bf16(f);
        const uint16_t want = reference_round(t, f);
        ++checked;
        if (got != want) {
          ADD_FAILURE() << "f32_to_bf16(" << f << " = 0x" << std::hex << bits(f) << ") = 0x" << got << ", want 0x"
                        << want;
          ++failures;
        }
      }
    }
    if (failures > 10) FAIL() << "too many failures";
  }
  EXPECT_GT(checked, 1000000);
}

}  // namespace
}  // namespace gemrt
