// llama.cpp's companion mmproj GGUF (general.architecture "clip", written by its
// convert_hf_to_gguf.py --mmproj and read by tools/mtmd/clip.cpp): the clip.* metadata and tensor
// shapes as the MediaSpec of the towers the file holds (spec §8.2, §8.3). The weights:
// model/gemma/mmproj_weights.h; the media token ids: model/gemma/gguf_media_tokens.h.
//
// Projector types (clip.projector_type, or clip.vision.projector_type / clip.audio.projector_type
// in a file with both towers; clip.has_vision_encoder / clip.has_audio_encoder say which exist):
//   gemma3   Gemma 3's SigLIP tower and projector -> MediaSpec::siglip
//   gemma4v  Gemma 4's vision tower + embed_vision -> MediaSpec::gemma4_vision
//   gemma4a  Gemma 4's audio tower + embed_audio   -> MediaSpec::gemma4_audio
//   gemma4uv Gemma 4 unified's vision embedder      -> MediaSpec::vision
//   gemma4ua Gemma 4 unified's audio embedder       -> MediaSpec::audio
//
// What the file does not carry comes from llama.cpp's own constants, so that gemrt runs the
// tower llama.cpp runs from the same file:
//   gemma3   tokens per image: (image_size / patch_size / n)^2 with n =
//            clip.vision.projector.scale_factor, else 4 (clip.cpp, PROJECTOR_TYPE_GEMMA3)
//   gemma4v  pooling = clip.vision.projector.scale_factor, else 3; RoPE theta 100 (clip.cpp,
//            PROJECTOR_TYPE_GEMMA4V); head_dim = clip.vision.attention.head_dim, else
//            hidden / heads; KV heads = clip.vision.attention.head_count_kv, else heads
//            (clip.cpp's generic hparams); standardize when v.std_bias and v.std_scale exist; a
//            linear clips where its bounds exist (clip.cpp reads each bound, absent = open)
//   gemma4a  chunks of 12 frames, 12 frames of left context (attention_context_left 13), none to
//            the right, logit cap 50, residual weight 0.5, every norm's eps 1e-6 (the file's eps
//            key is ignored: clip.cpp PROJECTOR_TYPE_GEMMA4A, tools/mtmd/models/gemma4a.cpp, and
//            the attention mask's -1e9 in clip.cpp's gemma4a inputs) — Gemma4AudioConfig's
//            defaults; gradient clipping 1e10 (Gemma4AudioConfig's default; llama.cpp clamps
//            nothing there); the convolution channels, kernel and output width from the tensors
//   gemma4uv LayerNorm eps 1e-5 (gemma4uv.cpp), pooling = clip.vision.projector.scale_factor, else
//            the merged patch width of v.patch_embd (llama.cpp assumes 3, what that width says
//            in every file it runs); gemma4ua: frames of clip.audio.embedding_length samples,
//            RMSNorm eps 1e-6 (clip.cpp PROJECTOR_TYPE_GEMMA4UA)
#pragma once

#include <string>

#include "gemrt/io/gguf.h"
#include "gemrt/model/gemma/config.h"
#include "gemrt/model/gemma/media_config.h"

namespace gemrt {

// The towers of `mmproj` for a text model of `text_family` and embedding width `text_hidden`
// (`text_source` names it in errors). Throws gemrt::Error naming the mmproj file and the key or
// tensor: not an mmproj, no tower, a projector gemrt does not run, a projector of another family
// than the text model's, a clip.*.projection_dim other than the text model's width, a missing or
// bad key. Token ids stay at their defaults (gguf_media_tokens.h sets them).
MediaSpec media_spec_from_mmproj(const GgufFile& mmproj, GemmaFamily text_family, int64_t text_hidden,
                                 const std::string& text_source);

// How an image's tokens attend in the text model the towers join (a GGUF text model does not say:
// transformers reads use_bidirectional_attention from config.json). Gemma 3's projector: Gemma3
// (every Gemma3ForConditionalGeneration). Gemma 4's vision tower: Gemma4Vision, except for a text
// model with per-layer embeddings, causal (None). The released configs set
// use_bidirectional_attention "vision" on 26B-A4B and 31B, null on E2B and E4B, the two with
// per-layer embeddings; llama.cpp (tools/mtmd/mtmd.cpp, mtmd_decode_use_non_causal) tells them
// apart by width (E2B 1536 and E4B 2560 causal, every other width not), which agrees on every
// released model. Gemma 4 unified's embedder: Unified (every layer; its text config defaults
// use_bidirectional_attention to "vision", spec §7.1). Audio blocks are causal.
ImageBlocks mmproj_image_blocks(const MediaSpec& media, const ModelSpec& text);

}  // namespace gemrt
