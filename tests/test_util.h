// Helpers shared by the tests: fixture paths, temporary folders, error metrics.
#pragma once

#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "gemrt/backend/backend.h"
#include "gemrt/core/tensor.h"

namespace gemrt {
class GemmaModel;
}

namespace gemrt::test {

// ../shared/fixtures of the checkout (read-only); GEMRT_FIXTURES overrides it (the GPU machine
// gets a copy of the fixtures inside the working tree).
std::string shared_fixtures();
// tests/data of the checkout (GEMRT_TEST_DATA overrides it, as GEMRT_FIXTURES above).
std::string test_data();
// The built gemrt CLI.
std::string cli_path();

// The CUDA backend on device 0, or null with `why` saying why none can be used (no CUDA in the
// build, no device): GPU tests then skip with that reason (GEMRT_CUDA_OR_SKIP).
std::unique_ptr<Backend> cuda_backend(std::string* why, Numerics numerics = Numerics::Precise);

// GEMRT_CUDA_OR_SKIP(backend) or GEMRT_CUDA_OR_SKIP(backend, Numerics::Fast).
#define GEMRT_CUDA_OR_SKIP(var, ...)                                                              \
  std::string var##_why;                                                                           \
  std::unique_ptr<Backend> var = ::gemrt::test::cuda_backend(&var##_why __VA_OPT__(, ) __VA_ARGS__); \
  if (!var) GTEST_SKIP() << "CUDA test skipped: " << var##_why

// A reference run of a fixture: logits of every prompt row [T, V]; the greedy continuation and,
// for each of its tokens, the logits that chose it [N, V] (row 0 is the last prompt row's).
struct ReferenceRun {
  std::span<const int32_t> ids;
  std::span<const float> logits;
  std::span<const int32_t> greedy;
  std::span<const float> steps;
};

// How far a backend is from a reference run: the worst prompt row and the worst decode step
// (decoding the reference's greedy tokens, so a different pick does not derail the comparison),
// each as ||delta|| / ||ref||, and whether free-running greedy decoding picked the same tokens.
// Adds a test failure for every row or step at or above `max_rel`.
struct ReferenceDistance {
  double worst_row = 0.0;
  double worst_step = 0.0;
  bool greedy_ids_match = false;
};
ReferenceDistance compare_with_reference(Backend& backend, const GemmaModel& model, const ReferenceRun& ref,
                                         double max_rel);

// A fresh folder removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// The message of the gemrt::Error that `f` throws ("" when it throws none).
std::string error_message(const std::function<void()>& f);

// ||a - b|| / ||b|| (b is the reference).
double relative_error(std::span<const float> a, std::span<const float> ref);

// Every row of `got` (as many values as `want`, rows of want's last dimensions) within `max_rel`
// of want's row (a test failure naming `what` and the row otherwise); returns the worst.
double expect_rows_close(std::span<const float> got, const HostTensor& want, double max_rel, const std::string& what);

// A tensor read whole from a safetensors file, by name (fails the test if absent).
HostTensor load_tensor(const std::string& path, const std::string& name);

// The first `rows` rows of a [R, ...] tensor (e.g. the logits of a prompt's first tokens).
HostTensor leading_rows(HostTensor t, int64_t rows);

// A row of n values in weight dtype t (F16, BF16 or a packed block format) with random codes
// and scales of magnitude 1e-3 .. 1e-1 (F16 / BF16: standard normal values).
std::vector<std::byte> random_weight_row(DType t, int64_t n, uint32_t seed);

// For Q4_1 / Q5_1 weights dotted with Q8_1 activations: the dot product uses each activation
// block's stored s = f16(d * sum(codes)), not the exact d * sum(codes). Returns
// sum_b m_b * (s_b - d_b * sum(codes_b)), to add to a reference computed from dequantized values
// (0 for every other weight format).
double q8_1_offset_correction(DType weight, const std::byte* w, const std::byte* a, int64_t n);

// Writes `text` to `path`.
void write_text(const std::string& path, const std::string& text);

// Runs a shell command; returns its exit status and fills `output` with stdout+stderr.
int run_command(const std::string& cmd, std::string* output);

}  // namespace gemrt::test
