// The CUDA backend's environment switches (GEMRT_CUDA_*: debugging aids and experiment switches,
// README "CUDA"). Each is read where it acts, once (its reader keeps the value in a static).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace gemrt::cuda {

// Whether variable `name` is set to exactly `value`.
inline bool env_is(const char* name, const char* value) {
  const char* e = std::getenv(name);
  return e && std::strcmp(e, value) == 0;
}

// Variable `name` as an integer (atoll), or `fallback` where it is unset or empty.
inline int64_t env_int(const char* name, int64_t fallback) {
  const char* e = std::getenv(name);
  return e && *e ? std::atoll(e) : fallback;
}

}  // namespace gemrt::cuda
