#include "gemrt/model/gemma/model.h"

#include <filesystem>

#include "gemrt/core/error.h"
#include "gemrt/io/safetensors.h"

namespace gemrt {

std::unique_ptr<GemmaModel> GemmaModel::load(const std::string& path, const LoadOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(path, ": no such model folder");
  if (!fs::is_directory(path, ec)) fail(path, ": expected a Hugging Face checkpoint folder (config.json + *.safetensors)");
  auto m = std::unique_ptr<GemmaModel>(new GemmaModel());
  m->spec_ = load_gemma_config(path);
  m->store_ = SafetensorsCheckpoint::open(path);
  m->weights_ = bind_gemma_weights(m->spec_, *m->store_);
  if (options.rope_freqs_in_weight_dtype) {
    const DType dt = m->weights_.embed.dtype;
    const RopeFreqPrecision p = dt == DType::BF16 ? RopeFreqPrecision::BF16
                                : dt == DType::F16 ? RopeFreqPrecision::F16
                                                   : RopeFreqPrecision::F32;
    for (LayerSpec& l : m->spec_.layers) l.rope.precision = p;
  }
  return m;
}

}  // namespace gemrt
