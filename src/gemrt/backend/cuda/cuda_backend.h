// The CUDA backend: the same graphs as the CPU backend, run on an NVIDIA GPU. Weights are copied
// to the device once, in their stored dtype (packed GGML blocks stay packed), and shared by every
// graph the backend compiles; the KV cache lives on the device; activations are float32.
//
// Numerics::Precise: float32 arithmetic, no TF32; the parity mode, checked against the same
// fixtures and tolerances as the CPU backend. Numerics::Fast, the bf16 mode: float32 matrices are
// stored as bfloat16; products of more than kMatVecMaxRows rows (prefill) round the activations
// to bfloat16 and run on tensor cores through cuBLASLt (weights in other formats are converted to
// bfloat16 in bounded chunks just before the product); decode's matrix-vector products read the
// stored weights in float32 arithmetic. Checked against the fixtures with rel err < 3e-2.
//
// This header needs no CUDA toolkit: a build without one compiles a stub whose
// device_available() says why no device can be used.
#pragma once

#include <memory>
#include <string>

#include "gemrt/backend/backend.h"

namespace gemrt::cuda {

// Whether this build has CUDA and a device can be used; if not, `why` (when given) says why.
bool device_available(std::string* why = nullptr);

// A backend on CUDA device `device`. Throws gemrt::Error when no device can be used.
std::unique_ptr<Backend> make_backend(int device = 0, Numerics numerics = Numerics::Precise);

}  // namespace gemrt::cuda
