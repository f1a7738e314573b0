// Parity with llama.cpp on one Gemma 3 model stored in 11 GGUF weight formats
// (../shared/fixtures/gguf/README.md). gemrt computes with float32 activations, so it is compared
// with llama.cpp's run on the dequantized weights (`dequant_*`): ||delta|| / ||ref|| < 1e-3 per row
// (the fixture README: a float64 evaluation of the same weights agrees within 5.3e-4; the rest is
// llama.cpp's float16 GELU table), and identical greedy ids.
#include <gtest/gtest.h>

#include <filesystem>

#include "gemrt/backend/cpu/cpu_backend.h"
#include "gemrt/model/gemma/model.h"
#include "gemrt/runtime/generator.h"
#include "gemrt/runtime/session.h"
#include "test_util.h"

namespace gemrt {
namespace {

constexpr double kMaxRelError = 1e-3;

std::vector<std::string> formats() {
  return {"F16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"};
}

std::string base(const std::string& fmt) { return test::shared_fixtures() + "/gguf/gemma3-tiny-pub-" + fmt; }

template <typename T>
std::vector<T> values(const std::string& path, const std::string& name) {
  const HostTensor t = test::load_tensor(path, name);
  return std::vector<T>(t.values<T>().begin(), t.values<T>().end());
}

std::span<const float> row(const std::vector<float>& m, int64_t vocab, int64_t i) {
  return std::span<const float>(m).subspan(static_cast<size_t>(i * vocab), static_cast<size_t>(vocab));
}

class GgufParity : public testing::TestWithParam<std::string> {};

TEST_P(GgufParity, MatchesLlamaCppOnDequantizedWeights) {
  const std::string ref = base(GetParam()) + ".reference.safetensors";
  const auto ids = values<int32_t>(ref, "input_ids");
  const auto want_logits = values<float>(ref, "dequant_logits");
  const auto want_steps = values<float>(ref, "dequant_step_logits");
  const auto want_greedy = values<int32_t>(ref, "dequant_greedy_ids");

  auto model = GemmaModel::load(base(GetParam()) + ".gguf");
  const int64_t vocab = model->spec().vocab_size;
  ASSERT_EQ(static_cast<size_t>(vocab * static_cast<int64_t>(ids.size())), want_logits.size());
  cpu::CpuBackend backend(2);
  const int n = static_cast<int>(want_greedy.size());
  Session session(*model, backend, {.max_tokens = static_cast<int>(ids.size()) + n});
  const std::vector<float> logits = session.prefill(ids, LogitsRows::All);
  for (int64_t i = 0; i < static_cast<int64_t>(ids.size()); ++i)
    EXPECT_LT(test::relative_error(row(logits, vocab, i), row(want_logits, vocab, i)), kMaxRelError) << "row " << i;

  const GreedyResult g = continue_greedy(session, std::vector<float>(logits.end() - vocab, logits.end()), n, true);
  EXPECT_EQ(g.ids, want_greedy);
  for (int i = 0; i < n; ++i)
    EXPECT_LT(test::relative_error(g.step_logits[static_cast<size_t>(i)], row(want_steps, vocab, i)), kMaxRelError)
        << "step " << i;
}

INSTANTIATE_TEST_SUITE_P(Formats, GgufParity, testing::ValuesIn(formats()));

// tools/hf_to_gguf.py wrote tests/data/gguf/NAME-F32.gguf from ../shared/fixtures/hf/NAME with the
// registry's gguf package (norms stored as 1 + w, llama.cpp tensor names). The same weights must
// give the same logits as the safetensors checkpoint (rel err < 1e-5 per row).
class ConvertedGguf : public testing::TestWithParam<std::string> {};

TEST_P(ConvertedGguf, MatchesTheSafetensorsCheckpoint) {
  const std::string name = GetParam();
  const std::string ref = test::shared_fixtures() + "/hf/" + name + "/reference.safetensors";
  const auto ids = values<int32_t>(ref, "input_ids");
  cpu::CpuBackend backend(2);
  auto st_model = GemmaModel::load(test::shared_fixtures() + "/hf/" + name);
  auto gguf_model = GemmaModel::load(test::test_data() + "/gguf/" + name + "-F32.gguf");
  ASSERT_NE(gguf_model->gguf(), nullptr);
  const int64_t vocab = st_model->spec().vocab_size;
  ASSERT_EQ(gguf_model->spec().vocab_size, vocab);
  Session a(*st_model, backend, {.max_tokens = 32});
  Session b(*gguf_model, backend, {.max_tokens = 32});
  const std::vector<float> la = a.prefill(ids, LogitsRows::All);
  const std::vector<float> lb = b.prefill(ids, LogitsRows::All);
  for (int64_t i = 0; i < static_cast<int64_t>(ids.size()); ++i)
    EXPECT_LT(test::relative_error(row(lb, vocab, i), row(la, vocab, i)), 1e-5) << "row " << i;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ConvertedGguf,
                         testing::Values("gemma1-pub", "gemma2-pub", "gemma3-linrope-pub"),
                         [](const testing::TestParamInfo<std::string>& i) {
                           std::string n = i.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

}  // namespace
}  // namespace gemrt
