// gemrt run MODEL -p PROMPT [--raw] [--system TEXT] [-n N] [--mmproj PATH] [--image PATH]... [--audio PATH]...
//           [sampling flags]
// Formats the prompt with the model's chat template (unless --raw), streams the reply to stdout,
// and prints a one-line summary to stderr.
//
// Images (PNG / JPEG) and audio (WAV) go to a Gemma 4 unified model, images to a Gemma 3 or 4 one
// with its vision tower, audio to a Gemma 4 one with its audio tower (a GGUF text model takes its
// towers from llama.cpp's mmproj file, --mmproj): each "<image>" / "<audio>"
// marker of the prompt becomes the next image's or clip's block of soft tokens (media/ prepares
// them as the HF processor does, runtime/media.h embeds and splices them); without markers, the
// media come first, images then audio, before the prompt's text.
#include <cstdio>
#include <iostream>

#include "gemrt/apps/cli_common.h"
#include "gemrt/apps/text_session.h"
#include "gemrt/core/error.h"
#include "gemrt/media/audio_frames.h"
#include "gemrt/media/audio_mel.h"
#include "gemrt/media/image_patches.h"
#include "gemrt/media/image_siglip.h"
#include "gemrt/runtime/media.h"

namespace gemrt::cli {
namespace {

struct RunArgs {
  std::string model, mmproj, prompt, system;
  std::vector<std::string> images, audio;
  int image_tokens = 280;
  bool raw = false;
  int max_new = 256;
  int ctx = 4096;
  ComputeFlags compute;
  SamplingFlags sampling;
};

// The media of the command line through the model's embedders: rows, and soft tokens per item.
struct EmbeddedMedia {
  std::vector<float> image_rows, audio_rows;
  std::vector<int64_t> image_tokens, audio_tokens;
};

EmbeddedMedia embed_media(const RunArgs& a, TextSession& ts) {
  EmbeddedMedia m;
  if (a.images.empty() && a.audio.empty()) return m;
  const GemmaModel& model = ts.model();
  MediaEmbedder embedder(model, ts.backend());
  for (const std::string& path : a.images) {
    if (const auto& s = model.media().siglip) {  // Gemma 3: one square image of image_size pixels
      const std::vector<float> rows = embedder.embed_image_siglip(siglip_pixel_values(decode_image_file(path), s->image_size));
      m.image_rows.insert(m.image_rows.end(), rows.begin(), rows.end());
      m.image_tokens.push_back(s->tokens_per_image);
      continue;
    }
    if (!model.media().vision && !model.media().gemma4_vision) fail(path, ": this model has no vision embedder");
    const ImagePatches p =
        model.media().gemma4_vision  // Gemma 4's tower: 16-px patches, pooled by the tower
            ? image_to_tower_patches(decode_image_file(path), model.media().gemma4_vision->patch_size,
                                     model.media().gemma4_vision->pooling, a.image_tokens)
            : image_to_patches(decode_image_file(path), model.media().vision->patch_size, model.media().vision->pooling,
                               a.image_tokens);
    const std::vector<float> rows = embedder.embed_image(p.pixels, p.positions);
    m.image_rows.insert(m.image_rows.end(), rows.begin(), rows.end());
    m.image_tokens.push_back(p.soft_tokens);
  }
  for (const std::string& path : a.audio) {
    if (model.media().gemma4_audio) {  // Gemma 4's audio tower: log-mel frames, subsampled 4x by the tower
      const AudioMel mel = audio_to_mel(decode_wav_file(path));
      const std::vector<float> rows = embedder.embed_audio_mel(mel.values, mel.mask);
      m.audio_rows.insert(m.audio_rows.end(), rows.begin(), rows.end());
      m.audio_tokens.push_back(static_cast<int64_t>(rows.size()) / model.spec().hidden_size);
      continue;
    }
    if (!model.media().audio) fail(path, ": this model has no audio embedder");
    const AudioFrames f = audio_to_frames(decode_wav_file(path), static_cast<int>(model.media().audio->embed_dim));
    const std::vector<float> rows = embedder.embed_audio(f.frames);
    m.audio_rows.insert(m.audio_rows.end(), rows.begin(), rows.end());
    m.audio_tokens.push_back(f.count);
  }
  return m;
}

void run(const RunArgs& a) {
  TextSession ts(a.model, a.compute, a.ctx, a.sampling, a.mmproj);
  const EmbeddedMedia media = embed_media(a, ts);
  const bool has_media = !media.image_tokens.empty() || !media.audio_tokens.empty();
  std::string text = a.prompt;
  if (has_media && text.find(kImageMarker) == std::string::npos && text.find(kAudioMarker) == std::string::npos) {
    std::string lead;
    for (size_t i = 0; i < media.image_tokens.size(); ++i) lead += kImageMarker;
    for (size_t i = 0; i < media.audio_tokens.size(); ++i) lead += kAudioMarker;
    text = lead + text;
  }
  std::string rendered;
  if (a.raw) {
    if (!a.system.empty()) fail("--system needs the chat format (drop --raw)");
    rendered = text;
  } else {
    std::vector<ChatMessage> msgs;
    if (!a.system.empty()) msgs.push_back({"system", a.system});
    msgs.push_back({"user", text});
    rendered = ts.render_chat(msgs, true);
  }
  std::vector<int32_t> prompt;
  if (!has_media) {
    prompt = a.raw ? ts.encode_raw(rendered) : ts.encode_special(rendered);
  } else {
    // --raw: BOS as the tokenizer adds it, in front of everything (the chat template writes its own).
    if (a.raw) prompt = ts.encode_raw("");
    const std::vector<int32_t> rest =
        expand_media_markers(rendered, ts.model().media(), media.image_tokens, media.audio_tokens,
                             [&](const std::string& piece) { return ts.encode_special(piece); });
    prompt.insert(prompt.end(), rest.begin(), rest.end());
  }
  const PromptMedia spliced = has_media ? splice_media(prompt, ts.model(), media.image_rows, media.audio_rows) : PromptMedia{};
  const GenerationStats st = ts.generate(
      prompt, a.max_new,
      [](const std::string& out) {
        std::fwrite(out.data(), 1, out.size(), stdout);
        std::fflush(stdout);
      },
      has_media ? &spliced : nullptr);
  std::cout << "\n" << std::flush;
  std::cerr << summary_line(st) << "\n";
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Generate a reply to one prompt, streaming text");
  cmd->add_option("model", args->model, "GGUF file or Hugging Face checkpoint folder")->required();
  cmd->add_option("-p,--prompt", args->prompt, "The prompt (\"<image>\" / \"<audio>\" mark where media go)")->required();
  cmd->add_flag("--raw", args->raw, "Plain completion: no chat template");
  cmd->add_option("--system", args->system, "System prompt (chat format only)");
  cmd->add_option("-n,--max-tokens", args->max_new, "Most tokens to generate")->check(CLI::PositiveNumber);
  cmd->add_option("-c,--ctx", args->ctx, "Context budget in tokens (prompt + reply)")->check(CLI::PositiveNumber);
  add_mmproj_option(cmd, args->mmproj);
  cmd->add_option("--image", args->images, "PNG or JPEG image for a model with a vision tower or embedder (repeatable)");
  cmd->add_option("--audio", args->audio, "WAV audio clip for a Gemma 4 model with an audio tower, or a Gemma 4 unified model (repeatable)");
  cmd->add_option("--image-tokens", args->image_tokens, "Soft tokens per image: 70, 140, 280, 560 or 1120")
      ->check(CLI::IsMember({70, 140, 280, 560, 1120}));
  args->compute.add_to(cmd, Numerics::Fast);
  args->sampling.add_to(cmd);
  cmd->callback([args] { run(*args); });
}

}  // namespace gemrt::cli
