// GGUF metadata -> ModelSpec for general.architecture gemma, gemma2 and gemma3 (spec §8).
#pragma once

#include "gemrt/io/gguf.h"
#include "gemrt/model/gemma/config.h"

namespace gemrt {

// GGUF conventions that differ from HF, applied here once:
//  - norm weights of gemma/gemma2/gemma3 are stored as 1 + w: norm_offset = 0 (spec §8.4, P2);
//  - the attention scale is usually not stored: {arch}.attention.scale when present, else
//    1/sqrt(head_dim), or 1/sqrt(hidden/heads) for the 27B shapes (Gemma 2: 46 layers, Gemma 3:
//    62 layers), as llama.cpp decides (spec §8.5, P9);
//  - vocabulary size = rows of token_embd (Gemma 3 files truncate the padded rows).
// A GGUF says nothing about how an image's tokens attend: `image_blocks` comes from the mmproj
// that goes with it (model/gemma/mmproj_config.h), None for a text-only run.
ModelSpec gemma_spec_from_gguf(const GgufFile& gguf, ImageBlocks image_blocks = ImageBlocks::None);

}  // namespace gemrt
