// Parity with llama.cpp on one Gemma 3 model stored in 11 GGUF weight formats
// (../shared/fixtures/gguf/README.md). gemrt computes with float32 activations, so it is compared
// with llama.cpp's run on the dequantized weights (`dequant_*`): ||delta|| / ||ref|| < 1e-3 per row
// (the fixture README: a float64 evaluation of the same weights agrees within 5.3e-4; the rest is
// llama.cpp's float16 GELU table), and identical greedy ids.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
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

// llama.cpp's run of a format's dequantized weights (the float32 evaluation of the file).
struct DequantReference {
  std::vector<int32_t> ids, greedy;
  std::vector<float> logits, steps;
};

DequantReference dequant_reference(const std::string& fmt) {
  const std::string ref = base(fmt) + ".reference.safetensors";
  return {values<int32_t>(ref, "input_ids"), values<int32_t>(ref, "dequant_greedy_ids"),
          values<float>(ref, "dequant_logits"), values<float>(ref, "dequant_step_logits")};
}

void matches_dequantized_reference(Backend& backend, const std::string& fmt) {
  const DequantReference r = dequant_reference(fmt);
  const auto& ids = r.ids;
  const auto& want_logits = r.logits;
  const auto& want_steps = r.steps;
  const auto& want_greedy = r.greedy;

  auto model = GemmaModel::load(base(fmt) + ".gguf");
  const int64_t vocab = model->spec().vocab_size;
  ASSERT_EQ(static_cast<size_t>(vocab * static_cast<int64_t>(ids.size())), want_logits.size());
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

TEST_P(GgufParity, MatchesLlamaCppOnDequantizedWeights) {
  cpu::CpuBackend backend(2);
  matches_dequantized_reference(backend, GetParam());
}

// The GPU reads the same packed blocks (dequantized in its kernels): same contract.
TEST_P(GgufParity, CudaMatchesLlamaCppOnDequantizedWeights) {
  GEMRT_CUDA_OR_SKIP(backend);
  matches_dequantized_reference(*backend, GetParam());
}

// Numerics::Fast rounds activations as llama.cpp's CPU kernels do (the fixture's K/V cache is
// F32, as here), so it is compared with llama.cpp's own `logits`. What the numerics allow:
// until the first activation whose rounding lands on the other side of a half-step (a float32
// summation-order difference of ~1e-7 is enough), both engines compute the same codes and agree
// to float32 noise; after such a flip, that row and every later row that attends to it differ by
// an independent rounding, the size of the float32 path's distance. So: the first row (BOS, no
// attention mixing) agrees within 1e-5, no row is further from llama.cpp than the float32 path's
// worst row, and the greedy ids are llama.cpp's. The distances are printed for the log.
// The F16 file is the exception to the first check: its reference differs from gemrt's F16-rounded
// activations by a systematic ~6e-4 per row that we have not traced (the README's own F16 figures
// suggest dot products accumulated in 16 bits, as ggml's NEON FP16 path does); there the fast
// path must still be closer to it than float32 activations are, row median and worst row.
TEST_P(GgufParity, FastNumericsMatchLlamaCppLogits) {
  const std::string ref = base(GetParam()) + ".reference.safetensors";
  const auto ids = values<int32_t>(ref, "input_ids");
  const auto want_logits = values<float>(ref, "logits");
  const auto want_steps = values<float>(ref, "step_logits");
  const auto want_greedy = values<int32_t>(ref, "greedy_ids");
  const auto f32_logits = values<float>(ref, "dequant_logits");

  auto model = GemmaModel::load(base(GetParam()) + ".gguf");
  const int64_t vocab = model->spec().vocab_size;
  cpu::CpuBackend backend(2, Numerics::Fast);
  const int n = static_cast<int>(want_greedy.size());
  Session session(*model, backend, {.max_tokens = static_cast<int>(ids.size()) + n});
  const std::vector<float> logits = session.prefill(ids, LogitsRows::All);
  const int64_t t = static_cast<int64_t>(ids.size());
  std::vector<double> fast(static_cast<size_t>(t)), f32(static_cast<size_t>(t));
  int64_t first_divergent = t;
  for (int64_t i = 0; i < t; ++i) {
    fast[static_cast<size_t>(i)] = test::relative_error(row(logits, vocab, i), row(want_logits, vocab, i));
    f32[static_cast<size_t>(i)] = test::relative_error(row(f32_logits, vocab, i), row(want_logits, vocab, i));
    if (first_divergent == t && fast[static_cast<size_t>(i)] > 1e-5) first_divergent = i;
  }
  const double f32_worst = *std::max_element(f32.begin(), f32.end());
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  if (GetParam() == "F16")
    EXPECT_LT(median(fast), median(f32));
  else
    EXPECT_LT(fast[0], 1e-5) << "row 0 (BOS) must agree to float32 noise";
  for (int64_t i = 0; i < t; ++i) EXPECT_LT(fast[static_cast<size_t>(i)], f32_worst) << "row " << i;
  const GreedyResult g = continue_greedy(session, std::vector<float>(logits.end() - vocab, logits.end()), n, true);
  EXPECT_EQ(g.ids, want_greedy);
  double steps_worst = 0.0;
  for (int i = 0; i < n; ++i) {
    const double e = test::relative_error(g.step_logits[static_cast<size_t>(i)], row(want_steps, vocab, i));
    steps_worst = std::max(steps_worst, e);
    EXPECT_LT(e, f32_worst) << "step " << i;
  }
  std::printf("[ fast vs llama.cpp ] %-4s rows 0..%ld within 1e-5; median row %.1e, worst %.1e, worst step %.1e "
              "(float32 activations: median %.1e, worst %.1e)\n",
              GetParam().c_str(), static_cast<long>(first_divergent) - 1, median(fast),
              *std::max_element(fast.begin(), fast.end()), steps_worst, median(f32), f32_worst);
}

INSTANTIATE_TEST_SUITE_P(Formats, GgufParity, testing::ValuesIn(formats()));

// The bf16 mode (fast numerics on CUDA; issue 5's contract) against the float32 evaluation of
// each file's weights: every prompt row and decode step within 3e-2, the same greedy ids on at
// least 80% of the formats.
TEST(GgufParityBf16, CudaBf16ModeOnEveryFormat) {
  GEMRT_CUDA_OR_SKIP(backend, Numerics::Fast);
  int same_ids = 0, total = 0;
  for (const std::string& fmt : formats()) {
    SCOPED_TRACE(fmt);
    const DequantReference r = dequant_reference(fmt);
    auto model = GemmaModel::load(base(fmt) + ".gguf");
    const test::ReferenceDistance d =
        test::compare_with_reference(*backend, *model, {r.ids, r.logits, r.greedy, r.steps}, 3e-2);
    std::printf("[ bf16 vs float32 ] %-4s worst row %.2e, worst step %.2e, greedy ids %s\n", fmt.c_str(), d.worst_row,
                d.worst_step, d.greedy_ids_match ? "same" : "differ");
    same_ids += d.greedy_ids_match ? 1 : 0;
    ++total;
  }
  EXPECT_GE(same_ids * 10, total * 8) << same_ids << " of " << total << " formats kept the greedy ids";
}

// tools/hf_to_gguf.py wrote tests/data/gguf/NAME-F32.gguf from the checkpoint NAME (the shared
// fixtures, or tests/data/hf) with the registry's gguf package, in llama.cpp's layout (Gemma 1-3:
// norms stored as 1 + w; Gemma 4: per-layer metadata arrays, rope_freqs, layer_output_scale, the
// per-layer-embedding and MoE tensor names). The same weights must give the same logits as the
// safetensors checkpoint (rel err < 1e-5 per row).
class ConvertedGguf : public testing::TestWithParam<std::string> {};

std::string checkpoint_dir(const std::string& name) {
  const std::string own = test::test_data() + "/hf/" + name;
  return std::filesystem::exists(own) ? own : test::shared_fixtures() + "/hf/" + name;
}

TEST_P(ConvertedGguf, MatchesTheSafetensorsCheckpoint) {
  const std::string name = GetParam();
  const std::string dir = checkpoint_dir(name);
  const auto ids = values<int32_t>(dir + "/reference.safetensors", "input_ids");
  cpu::CpuBackend backend(2);
  auto st_model = GemmaModel::load(dir);
  auto gguf_model = GemmaModel::load(test::test_data() + "/gguf/" + name + "-F32.gguf");
  ASSERT_NE(gguf_model->gguf(), nullptr);
  EXPECT_EQ(describe_layers(gguf_model->spec()), describe_layers(st_model->spec()));
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
                         testing::Values("gemma1-pub", "gemma2-pub", "gemma3-linrope-pub", "gemma3n-pub", "gemma3n-a3-share3", "gemma4-dense-pub",
                                         "gemma4-e2b-pub", "gemma4-moe-pub", "gemma4-e-share3", "gemma4-keqv-gqa"),
                         [](const testing::TestParamInfo<std::string>& i) {
                           std::string n = i.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

}  // namespace
}  // namespace gemrt
