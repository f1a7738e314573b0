#include "gemrt/model/gemma/model.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "gemrt/core/error.h"
#include "gemrt/io/gguf.h"
#include "gemrt/io/json_file.h"
#include "gemrt/io/safetensors.h"
#include "gemrt/model/gemma/gguf_config.h"
#include "gemrt/model/gemma/gguf_media_tokens.h"
#include "gemrt/model/gemma/mmproj_config.h"
#include "gemrt/model/gemma/mmproj_weights.h"

namespace gemrt {

std::unique_ptr<GemmaModel> GemmaModel::load(const std::string& path, const LoadOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(path, ": no such model file or folder");
  auto m = std::unique_ptr<GemmaModel>(new GemmaModel());
  if (!options.mmproj.empty() && !is_gguf_file(path))
    fail(options.mmproj, ": an mmproj file goes with a GGUF text model, but ", path,
         " is not one (a Hugging Face checkpoint carries its towers in its own safetensors)");
  if (fs::is_directory(path, ec)) {
    const std::string config_path = (fs::path(path) / "config.json").string();
    const nlohmann::json config = read_json_file(config_path);  // read once: text and media sides
    m->spec_ = parse_gemma_config(config, config_path);
    m->media_ = parse_media_config(config, config_path);
    m->store_ = SafetensorsCheckpoint::open(path);
    m->weights_ = bind_gemma_weights(m->spec_, *m->store_);
    m->media_weights_ = bind_media_weights(m->media_, m->spec_.hidden_size, *m->store_);
  } else if (is_gguf_file(path)) {
    auto gguf = GgufFile::open(path);
    m->spec_ = gemma_spec_from_gguf(*gguf);
    if (!options.mmproj.empty()) {
      if (!fs::exists(options.mmproj, ec)) fail(options.mmproj, ": no such mmproj file");
      m->mmproj_ = GgufFile::open(options.mmproj);
      m->media_ = media_spec_from_mmproj(*m->mmproj_, m->spec_.family, m->spec_.hidden_size, path);
      set_media_tokens_from_gguf(*gguf, m->spec_.family, m->media_);
      m->spec_ = gemma_spec_from_gguf(*gguf, mmproj_image_blocks(m->media_, m->spec_));
      m->media_weights_ = bind_mmproj_weights(m->media_, m->spec_.hidden_size, *m->mmproj_);
    }
    m->weights_ = bind_gemma_weights(m->spec_, *gguf, GgufWeightNames());
    m->gguf_ = gguf.get();
    m->store_ = std::move(gguf);
  } else {
    fail(path, ": not a model: expected a GGUF file or a Hugging Face checkpoint folder (config.json + *.safetensors)");
  }
  if (options.rope_freqs_in_weight_dtype) {
    const DType dt = m->weights_.embed.dtype;
    const RopeFreqPrecision p = dt == DType::BF16 ? RopeFreqPrecision::BF16
                                : dt == DType::F16 ? RopeFreqPrecision::F16
                                                   : RopeFreqPrecision::F32;
    for (LayerSpec& l : m->spec_.layers) l.rope.precision = p;
  }
  return m;
}

std::unique_ptr<GemmaModel> GemmaModel::synthetic(const std::string& config_json, const SyntheticWeightType& type,
                                                  uint64_t seed) {
  auto m = std::unique_ptr<GemmaModel>(new GemmaModel());
  m->spec_ = load_gemma_config(config_json);
  auto store = std::make_unique<SyntheticStore>("synthetic weights (" + type.name + ") for " + config_json);
  fill_synthetic_gemma(m->spec_, type, seed, *store);
  m->weights_ = bind_gemma_weights(m->spec_, *store);
  m->store_ = std::move(store);
  return m;
}

}  // namespace gemrt
