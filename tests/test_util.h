// Helpers shared by the tests: fixture paths, temporary folders, error metrics.
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "gemrt/backend/backend.h"
#include "gemrt/core/tensor.h"

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

#define GEMRT_CUDA_OR_SKIP(var)                                                 \
  std::string var##_why;                                                         \
  std::unique_ptr<Backend> var = ::gemrt::test::cuda_backend(&var##_why);        \
  if (!var) GTEST_SKIP() << "CUDA test skipped: " << var##_why

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

// ||a - b|| / ||b|| (b is the reference).
double relative_error(std::span<const float> a, std::span<const float> ref);

// A tensor read whole from a safetensors file, by name (fails the test if absent).
HostTensor load_tensor(const std::string& path, const std::string& name);

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
