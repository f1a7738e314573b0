// Parity with Hugging Face transformers on tiny random checkpoints.
//
// Each fixture folder holds a checkpoint and reference.safetensors made by transformers (see
// ../shared/fixtures/README.md and tests/data/make_hf_variants.py). Contract: for `logits`
// (prefill, every position) and for each decode step against the matching row of
// `full_logits`, ||delta|| / ||ref|| < 1e-4 on every row, and greedy ids identical.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "gemrt/backend/cpu/cpu_backend.h"
#include "gemrt/model/gemma/model.h"
#include "gemrt/runtime/generator.h"
#include "gemrt/runtime/session.h"
#include "gemrt/io/json_file.h"
#include "test_util.h"

namespace gemrt {
namespace {

constexpr double kMaxRelError = 1e-4;  // the contract for a float32 engine

struct Reference {
  std::vector<int32_t> input_ids, greedy_ids;
  std::vector<float> logits, full_logits;
  int64_t vocab = 0;
};

Reference load_reference(const std::string& dir) {
  const std::string path = dir + "/reference.safetensors";
  Reference r;
  const HostTensor ids = test::load_tensor(path, "input_ids");
  const HostTensor greedy = test::load_tensor(path, "greedy_ids");
  const HostTensor logits = test::load_tensor(path, "logits");
  const HostTensor full = test::load_tensor(path, "full_logits");
  EXPECT_EQ(ids.dtype, DType::I32);
  EXPECT_EQ(logits.dtype, DType::F32);
  r.input_ids.assign(ids.values<int32_t>().begin(), ids.values<int32_t>().end());
  r.greedy_ids.assign(greedy.values<int32_t>().begin(), greedy.values<int32_t>().end());
  r.logits.assign(logits.values<float>().begin(), logits.values<float>().end());
  r.full_logits.assign(full.values<float>().begin(), full.values<float>().end());
  r.vocab = logits.shape[1];
  return r;
}

std::span<const float> row(const std::vector<float>& m, int64_t vocab, int64_t i) {
  return std::span<const float>(m).subspan(static_cast<size_t>(i * vocab), static_cast<size_t>(vocab));
}

struct Fixture {
  std::string dir;
  LoadOptions options;
};

void PrintTo(const Fixture& f, std::ostream* os) { *os << f.dir; }

// Every checkpoint folder the parity suite covers: the shared Gemma 1/2/3 fixtures plus our own
// HF-generated variants (tests/data/hf: other widths, heads, windows, soft-caps, layer counts).
//
// gemma3-bf16-pub's reference was computed by an HF module that had been cast to bf16 and back:
// its RoPE inverse frequencies are bf16-rounded (HF's from_pretrained keeps them float32, and
// with float32 frequencies the rows differ by up to 7.6e-4). We reproduce that module with
// LoadOptions::rope_freqs_in_weight_dtype; our own bf16 variant (gemma3-bf16-mqa) is referenced
// against a from_pretrained model and runs with the default float32 frequencies.
std::vector<Fixture> fixtures() {
  std::vector<Fixture> all;
  for (const char* name : {"gemma1-pub", "gemma2-pub", "gemma3-pub", "gemma3-linrope-pub", "gemma3n-pub", "gemma4-dense-pub",
                           "gemma4-e2b-pub", "gemma4-moe-pub"})
    all.push_back({test::shared_fixtures() + "/hf/" + name, {}});
  all.push_back({test::shared_fixtures() + "/hf/gemma3-bf16-pub", {.rope_freqs_in_weight_dtype = true}});
  const std::filesystem::path own = test::test_data() + "/hf";
  if (std::filesystem::exists(own)) {
    std::vector<std::string> extra;
    for (const auto& e : std::filesystem::directory_iterator(own))
      if (std::filesystem::exists(e.path() / "reference.safetensors")) extra.push_back(e.path().string());
    std::sort(extra.begin(), extra.end());
    for (auto& dir : extra) all.push_back({std::move(dir), {}});
  }
  return all;
}

std::string fixture_name(const testing::TestParamInfo<Fixture>& info) {
  std::string n = std::filesystem::path(info.param.dir).filename().string();
  for (char& c : n)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

class HfParity : public testing::TestWithParam<Fixture> {};

void prefill_matches(Backend& backend, const Fixture& f) {
  const Reference ref = load_reference(f.dir);
  auto model = GemmaModel::load(f.dir, f.options);
  Session session(*model, backend, {.max_tokens = static_cast<int>(ref.input_ids.size())});
  const std::vector<float> logits = session.prefill(ref.input_ids, LogitsRows::All);
  ASSERT_EQ(logits.size(), ref.logits.size());
  for (int64_t i = 0; i < static_cast<int64_t>(ref.input_ids.size()); ++i)
    EXPECT_LT(test::relative_error(row(logits, ref.vocab, i), row(ref.logits, ref.vocab, i)), kMaxRelError)
        << "row " << i;
}

void greedy_matches(Backend& backend, const Fixture& f) {
  const Reference ref = load_reference(f.dir);
  auto model = GemmaModel::load(f.dir, f.options);
  const int n = static_cast<int>(ref.greedy_ids.size());
  const auto t = static_cast<int64_t>(ref.input_ids.size());
  Session session(*model, backend, {.max_tokens = static_cast<int>(t) + n});
  const GreedyResult g = generate_greedy(session, ref.input_ids, n, true);
  EXPECT_EQ(g.ids, ref.greedy_ids);
  ASSERT_EQ(g.step_logits.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    EXPECT_LT(test::relative_error(g.step_logits[static_cast<size_t>(i)], row(ref.full_logits, ref.vocab, t - 1 + i)),
              kMaxRelError)
        << "decode step " << i;
}

// Chunked prefill (chunks of 3, crossing the sliding windows) and token-by-token decode of the
// whole prompt must give the same logits as one prefill: the ring buffers keep exactly what
// later queries need.
void chunked_and_stepwise_agree(Backend& backend, const Fixture& f) {
  const Reference ref = load_reference(f.dir);
  auto model = GemmaModel::load(f.dir, f.options);
  const auto t = static_cast<int64_t>(ref.input_ids.size());
  Session chunked(*model, backend, {.max_tokens = static_cast<int>(t), .prefill_chunk = 3});
  const std::vector<float> logits = chunked.prefill(ref.input_ids, LogitsRows::All);
  Session stepwise(*model, backend, {.max_tokens = static_cast<int>(t)});
  for (int64_t i = 0; i < t; ++i) {
    EXPECT_LT(test::relative_error(row(logits, ref.vocab, i), row(ref.logits, ref.vocab, i)), kMaxRelError)
        << "chunked row " << i;
    const std::vector<float> step = stepwise.decode(ref.input_ids[static_cast<size_t>(i)]);
    EXPECT_LT(test::relative_error(step, row(ref.logits, ref.vocab, i)), kMaxRelError) << "token-by-token row " << i;
  }
}

TEST_P(HfParity, PrefillLogitsMatchEveryRow) {
  cpu::CpuBackend backend(2);
  prefill_matches(backend, GetParam());
}

TEST_P(HfParity, GreedyDecodeMatchesStepByStep) {
  cpu::CpuBackend backend(2);
  greedy_matches(backend, GetParam());
}

TEST_P(HfParity, ChunkedAndTokenByTokenPrefillAgree) {
  cpu::CpuBackend backend(2);
  chunked_and_stepwise_agree(backend, GetParam());
}

// The same contract on the GPU (precise numerics: float32 arithmetic), same tolerances.
TEST_P(HfParity, CudaPrefillLogitsMatchEveryRow) {
  GEMRT_CUDA_OR_SKIP(backend);
  prefill_matches(*backend, GetParam());
}

TEST_P(HfParity, CudaGreedyDecodeMatchesStepByStep) {
  GEMRT_CUDA_OR_SKIP(backend);
  greedy_matches(*backend, GetParam());
}

TEST_P(HfParity, CudaChunkedAndTokenByTokenPrefillAgree) {
  GEMRT_CUDA_OR_SKIP(backend);
  chunked_and_stepwise_agree(*backend, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, HfParity, testing::ValuesIn(fixtures()), fixture_name);

// The bf16 mode (fast numerics on CUDA; issue 5's contract, for the Gemma 1-3 checkpoints it was
// written for): every prompt row and decode step within ||delta|| / ||ref|| < 3e-2 of the float32
// reference, and the reference's greedy ids on at least 80% of those checkpoints (on random
// weights the top logits can be nearer each other than bf16 rounding moves them, so a pick may
// flip; the issue allows that on one in five). Gemma 3n's and 4's random checkpoints are far more
// sensitive to bf16 rounding (attention scale 1 over unit-normalised q and k): transformers' own
// bf16 model misses its float32 logits by 8e-2 to 5.6e-1 there (tests/data/hf_bf16_errors.json,
// tests/data/measure_hf_bf16.py), so these are held to 1.5x that instead, where it exceeds 3e-2.
TEST(HfParityBf16, CudaBf16ModeOnEveryCheckpoint) {
  GEMRT_CUDA_OR_SKIP(backend, Numerics::Fast);
  const nlohmann::json hf_bf16 = read_json_file(test::test_data() + "/hf_bf16_errors.json");
  int same_ids = 0, total = 0;
  for (const Fixture& f : fixtures()) {
    SCOPED_TRACE(f.dir);
    const Reference ref = load_reference(f.dir);
    auto model = GemmaModel::load(f.dir, f.options);
    const std::string name = std::filesystem::path(f.dir).filename().string();
    const bool scale_1 = model->spec().family == GemmaFamily::Gemma3n || model->spec().family == GemmaFamily::Gemma4;
    double tol = 3e-2;
    if (scale_1) {
      ASSERT_TRUE(hf_bf16.contains(name)) << name << " has no transformers bf16 figure in hf_bf16_errors.json";
      tol = std::max(tol, 1.5 * hf_bf16.at(name).get<double>());
    }
    const auto t = static_cast<int64_t>(ref.input_ids.size());
    const auto n = static_cast<int64_t>(ref.greedy_ids.size());
    const test::ReferenceRun run{ref.input_ids, ref.logits, ref.greedy_ids,
                                 std::span<const float>(ref.full_logits)
                                     .subspan(static_cast<size_t>((t - 1) * ref.vocab), static_cast<size_t>(n * ref.vocab))};
    const test::ReferenceDistance d = test::compare_with_reference(*backend, *model, run, tol);
    std::printf("[ bf16 vs HF float32 ] %-28s worst row %.2e, worst step %.2e (bound %.2e), greedy ids %s\n",
                name.c_str(), d.worst_row, d.worst_step, tol, d.greedy_ids_match ? "same" : "differ");
    if (scale_1) continue;
    same_ids += d.greedy_ids_match ? 1 : 0;
    ++total;
  }
  EXPECT_GE(same_ids * 10, total * 8) << same_ids << " of " << total << " Gemma 1-3 checkpoints kept the greedy ids";
}

}  // namespace
}  // namespace gemrt
