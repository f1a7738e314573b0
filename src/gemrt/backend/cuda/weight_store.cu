#include "gemrt/backend/cuda/weight_store.h"

#include <string>

#include "gemrt/backend/cuda/cuda_check.h"
#include "gemrt/core/error.h"

namespace gemrt::cuda {

DeviceWeight WeightStore::acquire(const TensorView& w, cudaStream_t stream) {
  std::lock_guard<std::mutex> lock(mu_);
  const DType stored = stored_dtype(w);
  auto it = weights_.find(key(w));
  if (it == weights_.end()) {
    if (!dtype_info(w.dtype).is_float)
      fail("cuda backend: weight ", w.name, " has dtype ", dtype_name(w.dtype), ", not a real-number format");
    DeviceBuffer buf(dtype_bytes(stored, w.shape.numel()), ("cudaMalloc for weight " + w.name).c_str());
    if (stored == w.dtype) {
      check(cudaMemcpyAsync(buf.get(), w.data, static_cast<size_t>(w.nbytes()), cudaMemcpyHostToDevice, stream),
            "copying a weight to the device");
    } else {
      DeviceBuffer staging(w.nbytes(), ("cudaMalloc for weight " + w.name).c_str());
      check(cudaMemcpyAsync(staging.get(), w.data, static_cast<size_t>(w.nbytes()), cudaMemcpyHostToDevice, stream),
            "copying a weight to the device");
      if (w.dtype == DType::F32) {
        cuda::cast_f32(static_cast<const float*>(staging.get()), w.shape.numel(), stored, buf.get(), stream);
      } else {  // F16: row by row (the values are exact in float32, then rounded to nearest even)
        DeviceWeight src;
        src.dtype = w.dtype;
        src.data = staging.get();
        src.rows = w.shape[0];
        src.cols = w.shape.numel() / src.rows;
        src.row_bytes = dtype_bytes(w.dtype, src.cols);
        cuda::weight_rows_to_bf16(src, 0, src.rows, buf.get(), stream);
      }
      check(cudaStreamSynchronize(stream), "converting a weight to bfloat16");
    }
    it = weights_.emplace(key(w), Entry{std::move(buf), 0}).first;
  }
  ++it->second.holders;
  DeviceWeight d;
  d.dtype = stored;
  d.data = it->second.buffer.get();
  d.rows = w.shape.rank() >= 2 ? w.shape[0] : 1;
  d.cols = w.shape.rank() >= 2 ? w.shape.numel() / d.rows : w.shape.numel();
  d.row_bytes = dtype_bytes(stored, d.cols);
  return d;
}

DType WeightStore::stored_dtype(const TensorView& w) const {
  const bool half_or_wider = w.dtype == DType::F32 || w.dtype == DType::F16;
  return numerics_ == Numerics::Fast && half_or_wider && w.shape.rank() >= 2 ? DType::BF16 : w.dtype;
}

void WeightStore::release(const TensorView& w) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = weights_.find(key(w));
  if (it != weights_.end() && --it->second.holders == 0) weights_.erase(it);
}

}  // namespace gemrt::cuda
