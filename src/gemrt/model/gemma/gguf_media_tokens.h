// The media token ids of a GGUF text model. A GGUF has no keys for them (transformers reads them
// from config.json); its vocabulary holds their pieces, as llama.cpp's tools/mtmd does when it
// writes "<start_of_image>" / "<|image>" around the media (spec §9.1):
//   Gemma 3: image "<image_soft_token>", boi "<start_of_image>", eoi "<end_of_image>"
//   Gemma 4: image "<|image|>", boi "<|image>", eoi "<image|>", audio "<|audio|>", boa "<|audio>",
//            eoa "<audio|>", video "<|video|>"
// Each id is where tokenizer.ggml.tokens holds its piece; without that piece (or without a
// vocabulary) the released models' id (spec §4.1: 262144 / 255999 / 256000; §6.1: MediaSpec's
// defaults). tools/hf_to_gguf.py writes the pieces of a tokenizer-less test checkpoint at its
// config's ids. With Gemma 4 unified's embedders (MediaSpec::vision / audio) also the tokens
// generation suppresses, EOA and EOI (spec §7.5).
#pragma once

#include "gemrt/io/gguf.h"
#include "gemrt/model/gemma/config.h"
#include "gemrt/model/gemma/media_config.h"

namespace gemrt {

void set_media_tokens_from_gguf(const GgufFile& text, GemmaFamily family, MediaSpec& media);

}  // namespace gemrt
