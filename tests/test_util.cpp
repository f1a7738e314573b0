#include "test_util.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>

#include "gemrt/backend/cuda/cuda_backend.h"
#include "gemrt/core/error.h"
#include "gemrt/core/half.h"
#include "gemrt/io/safetensors.h"
#include "gemrt/model/gemma/model.h"
#include "gemrt/quant/random_weights.h"
#include "gemrt/runtime/generator.h"
#include "gemrt/runtime/session.h"

namespace gemrt::test {

std::string shared_fixtures() {
  const char* env = std::getenv("GEMRT_FIXTURES");
  return env && *env ? env : GEMRT_SHARED_FIXTURES;
}

std::unique_ptr<Backend> cuda_backend(std::string* why, Numerics numerics) {
  if (!cuda::device_available(why)) return nullptr;
  return cuda::make_backend(0, numerics);
}
std::string test_data() {
  const char* env = std::getenv("GEMRT_TEST_DATA");
  return env && *env ? env : GEMRT_TEST_DATA;
}
std::string cli_path() { return GEMRT_CLI_PATH; }

TempDir::TempDir() {
  std::random_device rd;
  const auto base = std::filesystem::temp_directory_path();
  for (;;) {
    path_ = base / ("gemrt-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    if (std::filesystem::create_directory(path_)) break;
  }
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

double expect_rows_close(std::span<const float> got, const HostTensor& want, double max_rel, const std::string& what) {
  const int64_t rows = want.shape[0], width = want.shape.numel() / rows;
  EXPECT_EQ(got.size(), static_cast<size_t>(rows * width)) << what;
  if (got.size() != static_cast<size_t>(rows * width)) return 1.0;
  double worst = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    const auto at = static_cast<size_t>(r * width), n = static_cast<size_t>(width);
    const double e = relative_error(got.subspan(at, n), want.values<float>().subspan(at, n));
    EXPECT_LT(e, max_rel) << what << " row " << r;
    worst = std::max(worst, e);
  }
  return worst;
}

std::string error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

double relative_error(std::span<const float> a, std::span<const float> ref) {
  EXPECT_EQ(a.size(), ref.size());
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < std::min(a.size(), ref.size()); ++i) {
    const double d = static_cast<double>(a[i]) - static_cast<double>(ref[i]);
    num += d * d;
    den += static_cast<double>(ref[i]) * static_cast<double>(ref[i]);
  }
  return std::sqrt(num) / std::sqrt(den);
}

ReferenceDistance compare_with_reference(Backend& backend, const GemmaModel& model, const ReferenceRun& ref,
                                         double max_rel) {
  const int64_t vocab = model.spec().vocab_size;
  const auto t = static_cast<int64_t>(ref.ids.size());
  const auto n = static_cast<int64_t>(ref.greedy.size());
  const auto row = [vocab](std::span<const float> m, int64_t i) {
    return m.subspan(static_cast<size_t>(i * vocab), static_cast<size_t>(vocab));
  };
  EXPECT_EQ(ref.logits.size(), static_cast<size_t>(t * vocab));
  EXPECT_EQ(ref.steps.size(), static_cast<size_t>(n * vocab));
  ReferenceDistance d;
  if (ref.logits.size() != static_cast<size_t>(t * vocab) || ref.steps.size() != static_cast<size_t>(n * vocab))
    return d;

  Session forced(model, backend, {.max_tokens = static_cast<int>(t + n)});
  std::vector<float> logits = forced.prefill(ref.ids, LogitsRows::All);
  for (int64_t i = 0; i < t; ++i) {
    const double e = relative_error(row(logits, i), row(ref.logits, i));
    EXPECT_LT(e, max_rel) << "prompt row " << i;
    d.worst_row = std::max(d.worst_row, e);
  }
  std::vector<float> step(logits.end() - vocab, logits.end());
  for (int64_t i = 0; i < n; ++i) {
    const double e = relative_error(step, row(ref.steps, i));
    EXPECT_LT(e, max_rel) << "decode step " << i;
    d.worst_step = std::max(d.worst_step, e);
    if (i + 1 < n) step = forced.decode(ref.greedy[static_cast<size_t>(i)]);
  }

  Session free_running(model, backend, {.max_tokens = static_cast<int>(t + n)});
  const GreedyResult g = generate_greedy(free_running, ref.ids, static_cast<int>(n), false);
  d.greedy_ids_match = std::equal(g.ids.begin(), g.ids.end(), ref.greedy.begin(), ref.greedy.end());
  return d;
}

HostTensor load_tensor(const std::string& path, const std::string& name) {
  for (HostTensor& t : read_safetensors(path))
    if (t.name == name) return t;
  ADD_FAILURE() << path << " has no tensor " << name;
  return {};
}

HostTensor leading_rows(HostTensor t, int64_t rows) {
  if (t.shape.rank() < 1 || rows > t.shape[0]) {
    ADD_FAILURE() << t.name << " " << t.shape.to_string() << " has fewer than " << rows << " rows";
    return t;
  }
  const int64_t row_values = t.shape.numel() / t.shape[0];
  t.bytes.resize(static_cast<size_t>(dtype_bytes(t.dtype, rows * row_values)));
  std::vector<int64_t> dims = t.shape.dims();
  dims[0] = rows;
  t.shape = Shape(std::move(dims));
  return t;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

int run_command(const std::string& cmd, std::string* output) {
  output->clear();
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) output->append(buf.data(), n);
  const int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::vector<std::byte> random_weight_row(DType t, int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> row(static_cast<size_t>(dtype_bytes(t, n)));
  if (t == DType::F16 || t == DType::BF16) {
    std::normal_distribution<float> g(0.0f, 1.0f);
    for (int64_t i = 0; i < n; ++i) {
      const uint16_t h = t == DType::F16 ? f32_to_f16(g(rng)) : f32_to_bf16(g(rng));
      std::memcpy(row.data() + 2 * i, &h, 2);
    }
    return row;
  }
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& b : row) b = static_cast<std::byte>(byte(rng));
  std::uniform_real_distribution<float> mag(1e-3f, 1e-1f);
  const int64_t bb = dtype_info(t).block_bytes;
  for (int64_t b = 0; b < n / dtype_info(t).block_elems; ++b)
    for (int off : quant::block_f16_fields(t)) {
      const uint16_t h = f32_to_f16(mag(rng));
      std::memcpy(row.data() + b * bb + off, &h, 2);
    }
  return row;
}

double q8_1_offset_correction(DType weight, const std::byte* w, const std::byte* a, int64_t n) {
  if (weight != DType::Q4_1 && weight != DType::Q5_1) return 0.0;
  const int64_t wb = dtype_info(weight).block_bytes;
  double c = 0.0;
  for (int64_t b = 0; b < n / 32; ++b) {
    uint16_t m, d, s;
    std::memcpy(&m, w + b * wb + 2, 2);  // Q4_1 / Q5_1: d at 0, m at 2
    std::memcpy(&d, a + b * 36, 2);      // Q8_1: d at 0, s at 2, 32 int8 codes at 4
    std::memcpy(&s, a + b * 36 + 2, 2);
    int sum = 0;
    for (int j = 0; j < 32; ++j) sum += static_cast<int8_t>(a[b * 36 + 4 + j]);
    c += static_cast<double>(f16_to_f32(m)) *
         (static_cast<double>(f16_to_f32(s)) - static_cast<double>(f16_to_f32(d)) * sum);
  }
  return c;
}

}  // namespace gemrt::test
