#include "gemrt/backend/cuda/blas_lt.h"

#include <cublasLt.h>
#include <dlfcn.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "gemrt/core/error.h"

namespace gemrt::cuda {
namespace {

// The entry points gemrt uses, resolved from the library by name; the types come from the header.
struct LtApi {
  decltype(&cublasLtCreate) create = nullptr;
  decltype(&cublasLtMatmulDescCreate) desc_create = nullptr;
  decltype(&cublasLtMatmulDescSetAttribute) desc_set = nullptr;
  decltype(&cublasLtMatrixLayoutCreate) layout_create = nullptr;
  decltype(&cublasLtMatmulPreferenceCreate) pref_create = nullptr;
  decltype(&cublasLtMatmulPreferenceSetAttribute) pref_set = nullptr;
  decltype(&cublasLtMatmulPreferenceDestroy) pref_destroy = nullptr;
  decltype(&cublasLtMatmulAlgoGetHeuristic) heuristic = nullptr;
  decltype(&cublasLtMatmul) matmul = nullptr;
  decltype(&cublasLtGetStatusString) status_string = nullptr;
};

// One cached product shape: descriptors and the algorithm the heuristic chose. Descriptors live
// as long as the process (the library is never unloaded either).
struct Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo{};
};

// (dtype, t, n, k, ldw, ldo, alignment of x, w, out in bytes)
using PlanKey = std::tuple<int, int64_t, int64_t, int64_t, int64_t, int64_t, int, int, int>;

int alignment(const void* p, int64_t ld_bytes) {
  int a = 256;
  const auto addr = reinterpret_cast<uintptr_t>(p);
  while (a > 1 && (addr % static_cast<uintptr_t>(a) != 0 || ld_bytes % a != 0)) a /= 2;
  return a;
}

class Lt {
 public:
  static Lt& get() {
    static Lt* lt = new Lt();  // never destroyed: cuBLASLt must not be torn down after the CUDA runtime
    return *lt;
  }

  void gemm(DType dt, const void* x, const void* w, int64_t t, int64_t n, int64_t k, int64_t ldw, float* out,
            int64_t ldo, void* workspace, cudaStream_t stream) {
    const int64_t esize = 2;
    const PlanKey key{static_cast<int>(dt), t, n, k, ldw, ldo, alignment(x, k * esize), alignment(w, ldw * esize),
                      alignment(out, ldo * 4)};
    const Plan& p = plan(key);
    const float one = 1.0f, zero = 0.0f;
    // Column-major view: D [n, t] (ld ldo) = op(A)ᵀ [n, k] · B [k, t], A = w as [k, n] (ld ldw),
    // B = x as [k, t] (ld k). That is out [t, n] row-major.
    check(api_.matmul(handle_, p.desc, &one, w, p.a, x, p.b, &zero, out, p.d, out, p.d, &p.algo, workspace,
                      kBlasWorkspaceBytes, stream),
          "cublasLtMatmul");
  }

 private:
  Lt() {
    std::string tried;
    const char* env = std::getenv("GEMRT_CUBLASLT");
    const std::string names[] = {env ? env : "", "libcublasLt.so." + std::to_string(CUBLAS_VER_MAJOR),
                                 "/usr/local/cuda/lib64/libcublasLt.so." + std::to_string(CUBLAS_VER_MAJOR)};
    for (const std::string& name : names) {
      if (name.empty()) continue;
      lib_ = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (lib_) break;
      tried += (tried.empty() ? "" : ", ") + name;
    }
    if (!lib_)
      fail("cuda backend: fast numerics need cuBLASLt, which could not be loaded (tried ", tried,
           "); install the CUDA toolkit's cuBLAS, set GEMRT_CUBLASLT to the library's path, or use --numerics precise");
    resolve(api_.create, "cublasLtCreate");
    resolve(api_.desc_create, "cublasLtMatmulDescCreate");
    resolve(api_.desc_set, "cublasLtMatmulDescSetAttribute");
    resolve(api_.layout_create, "cublasLtMatrixLayoutCreate");
    resolve(api_.pref_create, "cublasLtMatmulPreferenceCreate");
    resolve(api_.pref_set, "cublasLtMatmulPreferenceSetAttribute");
    resolve(api_.pref_destroy, "cublasLtMatmulPreferenceDestroy");
    resolve(api_.heuristic, "cublasLtMatmulAlgoGetHeuristic");
    resolve(api_.matmul, "cublasLtMatmul");
    resolve(api_.status_string, "cublasLtGetStatusString");
    check(api_.create(&handle_), "cublasLtCreate");
  }

  template <typename F>
  void resolve(F& fn, const char* name) {
    fn = reinterpret_cast<F>(dlsym(lib_, name));
    if (!fn) fail("cuda backend: the cuBLASLt library lacks ", name);
  }

  void check(cublasStatus_t s, const char* what) const {
    if (s != CUBLAS_STATUS_SUCCESS)
      fail("cuda backend: ", what, " failed: ", api_.status_string ? api_.status_string(s) : "", " (status ",
           static_cast<int>(s), ")");
  }

  const Plan& plan(const PlanKey& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = plans_.find(key);
    if (it != plans_.end()) return it->second;
    const auto [dt_int, t, n, k, ldw, ldo, align_x, align_w, align_out] = key;
    const cudaDataType_t in = static_cast<DType>(dt_int) == DType::BF16 ? CUDA_R_16BF : CUDA_R_16F;
    Plan p;
    check(api_.desc_create(&p.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
    const cublasOperation_t transpose = CUBLAS_OP_T, none = CUBLAS_OP_N;
    check(api_.desc_set(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &transpose, sizeof(transpose)), "setting TRANSA");
    check(api_.desc_set(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &none, sizeof(none)), "setting TRANSB");
    check(api_.layout_create(&p.a, in, static_cast<uint64_t>(k), static_cast<uint64_t>(n), ldw), "layout of w");
    check(api_.layout_create(&p.b, in, static_cast<uint64_t>(k), static_cast<uint64_t>(t), k), "layout of x");
    check(api_.layout_create(&p.d, CUDA_R_32F, static_cast<uint64_t>(n), static_cast<uint64_t>(t), ldo),
          "layout of out");
    cublasLtMatmulPreference_t pref = nullptr;
    check(api_.pref_create(&pref), "cublasLtMatmulPreferenceCreate");
    const uint64_t ws = kBlasWorkspaceBytes;
    const uint32_t aw = static_cast<uint32_t>(align_w), ax = static_cast<uint32_t>(align_x),
                   ao = static_cast<uint32_t>(align_out);
    check(api_.pref_set(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)), "setting the workspace");
    check(api_.pref_set(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &aw, sizeof(aw)), "setting alignment");
    check(api_.pref_set(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &ax, sizeof(ax)), "setting alignment");
    check(api_.pref_set(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &ao, sizeof(ao)), "setting alignment");
    check(api_.pref_set(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &ao, sizeof(ao)), "setting alignment");
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    const cublasStatus_t s = api_.heuristic(handle_, p.desc, p.a, p.b, p.d, p.d, pref, 1, &result, &found);
    api_.pref_destroy(pref);
    if (s != CUBLAS_STATUS_SUCCESS || found == 0)
      fail("cuda backend: cuBLASLt has no algorithm for a ", dtype_name(static_cast<DType>(dt_int)), " product of [",
           t, ", ", k, "] by [", n, ", ", k, "]ᵀ (status ", static_cast<int>(s), ")");
    p.algo = result.algo;
    return plans_.emplace(key, p).first->second;
  }

  void* lib_ = nullptr;
  LtApi api_;
  cublasLtHandle_t handle_ = nullptr;
  std::mutex mu_;
  std::map<PlanKey, Plan> plans_;
};

}  // namespace

void gemm_half(DType dt, const void* x, const void* w, int64_t t, int64_t n, int64_t k, int64_t ldw, float* out,
               int64_t ldo, void* workspace, cudaStream_t stream) {
  if (dt != DType::BF16 && dt != DType::F16) fail("cuda backend: gemm_half takes BF16 or F16, not ", dtype_name(dt));
  if (t == 0 || n == 0) return;
  Lt::get().gemm(dt, x, w, t, n, k, ldw, out, ldo, workspace, stream);
}

}  // namespace gemrt::cuda
