#include "gemrt/model/gemma/media_weight_rewrites.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "gemrt/core/error.h"
#include "gemrt/quant/dequantize.h"

namespace gemrt {
namespace {

// Bytes per element of a matrix that can be rearranged element by element (F32, F16, BF16).
size_t element_bytes(const TensorView& w, const char* what) {
  const size_t e = static_cast<size_t>(dtype_info(w.dtype).block_bytes);
  if (dtype_is_quantized(w.dtype) || (e != 2 && e != 4))
    fail(w.name, ": a ", dtype_name(w.dtype), " ", what, " cannot be rearranged (F32, F16 or BF16 expected)");
  return e;
}

// A float32 constant owned by `pool`, as a TensorView named `name`.
TensorView constant(std::vector<std::vector<float>>& pool, std::vector<float> values, const std::string& name,
                    const Shape& shape) {
  pool.push_back(std::move(values));
  return TensorView{name, DType::F32, shape, reinterpret_cast<const std::byte*>(pool.back().data())};
}

}  // namespace

TensorView transposed_copy(const TensorView& w, std::shared_ptr<std::vector<std::byte>>& storage) {
  const size_t e = element_bytes(w, "projection");
  const auto rows = static_cast<size_t>(w.shape[0]), cols = static_cast<size_t>(w.shape[1]);
  storage = std::make_shared<std::vector<std::byte>>(rows * cols * e);
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) std::memcpy(storage->data() + (c * rows + r) * e, w.data + (r * cols + c) * e, e);
  return TensorView{w.name + " (transposed)", w.dtype, Shape{w.shape[1], w.shape[0]}, storage->data()};
}

TensorView chw_patch_columns_as_hwc(const TensorView& w, int64_t p, std::shared_ptr<std::vector<std::byte>>& storage) {
  const size_t e = element_bytes(w, "patch matrix");
  const int64_t values = 3 * p * p;
  const int rank = w.shape.rank();
  const bool kernel = rank == 4 && w.shape[1] == 3 && w.shape[2] == p && w.shape[3] == p;
  const bool matrix = rank == 2 && w.shape[1] == values;
  const bool vector = rank == 1 && w.shape[0] == values;
  if (!kernel && !matrix && !vector)
    fail(w.name, ": patch columns [n, ", values, "], [", values, "] or a kernel [n, 3, ", p, ", ", p, "] expected, got ",
         w.shape.to_string());
  const auto rows = static_cast<size_t>(vector ? 1 : w.shape[0]), pp = static_cast<size_t>(p),
             n = static_cast<size_t>(values);
  storage = std::make_shared<std::vector<std::byte>>(rows * n * e);
  for (size_t o = 0; o < rows; ++o)
    for (size_t c = 0; c < 3; ++c)
      for (size_t y = 0; y < pp; ++y)
        for (size_t x = 0; x < pp; ++x)
          std::memcpy(storage->data() + (o * n + (y * pp + x) * 3 + c) * e, w.data + (o * n + (c * pp + y) * pp + x) * e, e);
  return TensorView{w.name + " (columns row, column, channel)", w.dtype,
                    vector ? Shape{values} : Shape{static_cast<int64_t>(rows), values}, storage->data()};
}

TensorView leading_axes_swapped(const TensorView& w, std::shared_ptr<std::vector<std::byte>>& storage) {
  const size_t e = element_bytes(w, "table");
  if (w.shape.rank() != 3) fail(w.name, ": a rank-3 tensor expected, got ", w.shape.to_string());
  const auto a = static_cast<size_t>(w.shape[0]), b = static_cast<size_t>(w.shape[1]), d = static_cast<size_t>(w.shape[2]);
  storage = std::make_shared<std::vector<std::byte>>(a * b * d * e);
  for (size_t i = 0; i < a; ++i)
    for (size_t j = 0; j < b; ++j) std::memcpy(storage->data() + (j * a + i) * d * e, w.data + (i * b + j) * d * e, d * e);
  return TensorView{w.name + " (axes 0, 1 swapped)", w.dtype, Shape{w.shape[1], w.shape[0], w.shape[2]}, storage->data()};
}

std::vector<float> small_weight_values(const TensorView& w) {
  if (!dtype_info(w.dtype).is_float) fail(w.name, ": must be a float or packed block format, got ", dtype_name(w.dtype));
  std::vector<float> out(static_cast<size_t>(w.shape.numel()));
  quant::dequantize_row(w.dtype, w.data, out.data(), w.shape.numel());
  return out;
}

TensorView negated_copy(const TensorView& w, std::shared_ptr<std::vector<float>>& storage) {
  storage = std::make_shared<std::vector<float>>(small_weight_values(w));
  for (float& x : *storage) x = -x;
  return TensorView{w.name + " (negated)", DType::F32, w.shape, reinterpret_cast<const std::byte*>(storage->data())};
}

float torch_softplus(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }

void derive_gemma4_audio_constants(const Gemma4AudioSpec& s, std::span<const std::vector<float>> per_dim_softplus,
                                   std::span<const TensorView> relative_k, std::span<const std::string> names,
                                   Gemma4AudioWeights& w) {
  const auto n_layers = static_cast<size_t>(s.layers);
  if (w.layers.size() != n_layers || per_dim_softplus.size() != n_layers || relative_k.size() != n_layers ||
      names.size() != n_layers)
    fail("Gemma 4 audio tower: the derived constants need one entry per layer (", n_layers, ")");
  const int64_t h = s.hidden, c0 = s.conv_channels0, c1 = s.conv_channels1, hd = s.head_dim();
  w.constants = std::make_shared<std::vector<std::vector<float>>>();
  w.constants->reserve(2 * n_layers + 2);  // views stay valid: no reallocation
  auto& pool = *w.constants;
  w.zero0 = constant(pool, std::vector<float>(static_cast<size_t>(c0)), "audio subsampling layer0 zero bias", Shape{c0});
  w.zero1 = constant(pool, std::vector<float>(static_cast<size_t>(c1)), "audio subsampling layer1 zero bias", Shape{c1});

  // Gemma4AudioRelPositionalEncoding: positions P-1 .. 0, [sin(p * inv_ts), cos(p * inv_ts)], in float32.
  const int64_t rel_context = int64_t{s.chunk} + s.context_left - 1 + s.context_right, n_rel = rel_context / 2 + 1;
  const int64_t n_ts = h / 2;
  const float increment = static_cast<float>(std::log(10000.0) / static_cast<double>(std::max<int64_t>(n_ts - 1, 1)));
  std::vector<float> table(static_cast<size_t>(n_rel * h));
  for (int64_t r = 0; r < n_rel; ++r) {
    const auto pos = static_cast<float>(n_rel - 1 - r);
    for (int64_t j = 0; j < n_ts; ++j) {
      const float inv_ts = std::exp(static_cast<float>(j) * -increment);
      const float t = pos * inv_ts;
      table[static_cast<size_t>(r * h + j)] = std::sin(t);
      table[static_cast<size_t>(r * h + n_ts + j)] = std::cos(t);
    }
  }
  const float q_scale = static_cast<float>(std::pow(static_cast<double>(hd), -0.5) / std::log(2.0));
  for (size_t l = 0; l < n_layers; ++l) {
    const std::vector<float>& per_dim = per_dim_softplus[l];
    if (static_cast<int64_t>(per_dim.size()) != hd)
      fail(names[l], "per_dim_scale: ", per_dim.size(), " values, expected head_dim ", hd);
    // q * q_scale * softplus(per_dim_scale), one vector over the heads.
    std::vector<float> qs(static_cast<size_t>(h));
    for (int64_t j = 0; j < h; ++j) qs[static_cast<size_t>(j)] = q_scale * per_dim[static_cast<size_t>(j % hd)];
    w.layers[l].q_scale = constant(pool, std::move(qs), names[l] + "q_scale (derived)", Shape{h});
    // rel_k = table @ relative_k_proj^T, float32 sums in order.
    const std::vector<float> rk = small_weight_values(relative_k[l]);
    std::vector<float> rel(static_cast<size_t>(n_rel * h));
    for (int64_t r = 0; r < n_rel; ++r)
      for (int64_t o = 0; o < h; ++o) {
        float acc = 0.0f;
        for (int64_t j = 0; j < h; ++j) acc += table[static_cast<size_t>(r * h + j)] * rk[static_cast<size_t>(o * h + j)];
        rel[static_cast<size_t>(r * h + o)] = acc;
      }
    w.layers[l].rel_k = constant(pool, std::move(rel), names[l] + "relative keys (derived)", Shape{n_rel, h});
  }
}

}  // namespace gemrt
