#include "gemrt/model/gemma/gguf_media_tokens.h"

#include <string_view>
#include <unordered_map>
#include <vector>

namespace gemrt {

void set_media_tokens_from_gguf(const GgufFile& text, GemmaFamily family, MediaSpec& m) {
  struct Piece {
    std::string_view text;
    int* id;
  };
  std::vector<Piece> pieces;
  if (family == GemmaFamily::Gemma3) {
    m.image_token = 262144;
    m.boi_token = 255999;
    m.eoi_token = 256000;
    pieces = {{"<image_soft_token>", &m.image_token}, {"<start_of_image>", &m.boi_token}, {"<end_of_image>", &m.eoi_token}};
  } else if (family == GemmaFamily::Gemma4) {
    pieces = {{"<|image|>", &m.image_token}, {"<|image>", &m.boi_token},   {"<image|>", &m.eoi_token},
              {"<|audio|>", &m.audio_token}, {"<|audio>", &m.boa_token},   {"<audio|>", &m.eoa_token},
              {"<|video|>", &m.video_token}};
  }
  if (const GgufValue* tokens = text.find_meta("tokenizer.ggml.tokens"); tokens && !pieces.empty()) {
    std::unordered_map<std::string_view, int*> wanted;
    for (const Piece& p : pieces) wanted.emplace(p.text, p.id);
    const std::vector<std::string_view> vocab = tokens->as_string_array("tokenizer.ggml.tokens");
    for (size_t i = 0; i < vocab.size(); ++i)
      if (const auto it = wanted.find(vocab[i]); it != wanted.end()) *it->second = static_cast<int>(i);
  }
  // Gemma 4 unified's embedders: generation never samples EOA and EOI (spec §7.5; llama.cpp's
  // converter lists them as the vocabulary's suppressed tokens).
  if (m.vision || m.audio) m.suppressed_tokens = {m.eoa_token, m.eoi_token};
}

}  // namespace gemrt
