// Synthetic models (model/gemma/synthetic.h) and the random weights behind them
// (quant/random_weights.h): every tensor of the config's shape, in the requested types, bound by
// the real weight map, runnable, reproducible from the seed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "gemrt/backend/cpu/cpu_backend.h"
#include "gemrt/core/error.h"
#include "gemrt/model/gemma/model.h"
#include "gemrt/quant/dequantize.h"
#include "gemrt/quant/random_weights.h"
#include "gemrt/runtime/session.h"
#include "test_util.h"

namespace gemrt {
namespace {

std::string gemma3_config() { return test::shared_fixtures() + "/hf/gemma3-pub/config.json"; }

TEST(RandomWeights, SameBytesForAnyThreadCountAndFiniteValues) {
  for (DType t : {DType::F32, DType::BF16, DType::F16, DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q6_K}) {
    SCOPED_TRACE(std::string(dtype_name(t)));
    const int64_t n = 256 * 4096 * 3;  // several chunks
    std::vector<std::byte> one(static_cast<size_t>(dtype_bytes(t, n))), two(one.size());
    quant::fill_random_weights(t, one.data(), n, 7, 0.02f, 1);
    quant::fill_random_weights(t, two.data(), n, 7, 0.02f, 2);
    EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size()), 0);
    std::vector<float> v(static_cast<size_t>(n));
    quant::dequantize_row(t, one.data(), v.data(), n);
    double ss = 0.0;
    for (float x : v) {
      ASSERT_TRUE(std::isfinite(x));
      ss += static_cast<double>(x) * static_cast<double>(x);
    }
    const double sd = std::sqrt(ss / static_cast<double>(n));
    if (t == DType::F32 || t == DType::BF16 || t == DType::F16) EXPECT_NEAR(sd, 0.02, 0.001);
    else EXPECT_GT(sd, 0.0);
  }
  std::vector<std::byte> a(4096 * 4), b(a.size());
  quant::fill_random_weights(DType::F32, a.data(), 4096, 1, 0.02f);
  quant::fill_random_weights(DType::F32, b.data(), 4096, 2, 0.02f);
  EXPECT_NE(std::memcmp(a.data(), b.data(), a.size()), 0) << "another seed, other weights";
}

TEST(Synthetic, EveryTypeBindsAndRuns) {
  cpu::CpuBackend backend(2);
  const std::vector<int32_t> ids = {2, 10, 20, 30, 40, 50, 60, 70};
  for (const char* type : {"BF16", "F32", "Q8_0", "Q4_K_M"}) {
    SCOPED_TRACE(type);
    const auto model = GemmaModel::synthetic(gemma3_config(), parse_synthetic_weight_type(type), 1);
    const auto& store = dynamic_cast<const SyntheticStore&>(model->store());
    const ModelSpec& spec = model->spec();
    EXPECT_EQ(spec.n_layers(), 7);
    // The gemma3-pub shape has 64-wide rows: Q4_K falls back to Q5_0, Q6_K to Q8_0 (llama.cpp's
    // choices for rows that are not whole 256-value blocks).
    const bool mix = std::string(type) == "Q4_K_M";
    const DType matrices = parse_synthetic_weight_type(type).matrices;
    EXPECT_EQ(model->weights().layers[0].q.dtype, mix ? DType::Q5_0 : matrices);
    EXPECT_EQ(model->weights().layers[0].v->dtype, mix ? DType::Q8_0 : matrices);
    EXPECT_EQ(model->weights().embed.dtype, mix ? DType::Q8_0 : matrices);
    EXPECT_EQ(store.fallbacks().empty(), std::string(type) != "Q4_K_M");
    EXPECT_EQ(model->weights().layers[0].attn_norm.dtype, DType::F32);
    Session session(*model, backend, {.max_tokens = 16});
    const std::vector<float> logits = session.prefill(ids, LogitsRows::All);
    ASSERT_EQ(logits.size(), ids.size() * static_cast<size_t>(spec.vocab_size));
    for (float x : logits) ASSERT_TRUE(std::isfinite(x));
  }
}

TEST(Synthetic, TheSeedFixesTheWeights) {
  const auto type = parse_synthetic_weight_type("BF16");
  const auto a = GemmaModel::synthetic(gemma3_config(), type, 5), b = GemmaModel::synthetic(gemma3_config(), type, 5),
             c = GemmaModel::synthetic(gemma3_config(), type, 6);
  const TensorView &wa = a->weights().layers[3].gate, &wb = b->weights().layers[3].gate,
                   &wc = c->weights().layers[3].gate;
  EXPECT_EQ(std::memcmp(wa.data, wb.data, static_cast<size_t>(wa.nbytes())), 0);
  EXPECT_NE(std::memcmp(wa.data, wc.data, static_cast<size_t>(wa.nbytes())), 0);
}

TEST(Synthetic, UnknownTypeNamesTheAcceptedOnes) {
  try {
    parse_synthetic_weight_type("Q7_X");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("Q7_X"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Q4_K_M"), std::string::npos) << msg;
    EXPECT_NE(msg.find("BF16"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace gemrt
