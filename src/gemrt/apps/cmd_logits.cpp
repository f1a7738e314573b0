// gemrt logits --model PATH [--mmproj PATH] (--ids 2,17,99 | --inputs IN.safetensors) [--prefill P]
//              [--greedy N] --out OUT.safetensors
//
// --mmproj: the towers of a GGUF text model from llama.cpp's mmproj file (the media inputs below
// then go to them as to a checkpoint's own towers).
// IN holds int32 `input_ids` [T] and, for a Gemma 4 unified model, optionally its media
// (apps/media_inputs.h): `pixel_values` + `image_position_ids`, `audio_frames`; for Gemma 4 with an
// audio tower, `audio_mel` [F, 128] + `audio_mel_mask` [F] (--audio-attention sdpa | eager picks
// transformers' conformer mask, model/gemma/gemma4_audio_graph.h); for Gemma 4 with a
// vision tower, `pixel_values` [P, 768] 16-px patches + `image_position_ids` (the processor's,
// padding included); for Gemma 3, `pixel_values` [3, H, W] (the SigLIP tower's input). Their
// embedder / tower outputs replace the image / audio tokens' embeddings (in order) and OUT also
// gets `image_features` / `audio_features` [*, hidden]; the runs of the image token attend
// bidirectionally where the model does (spec §6.5, §7.2).
//
// OUT gets `logits` float32 [T, V] (every prompt position). By default all T ids run as one
// prefill; --prefill P runs the first P as one batch and the rest one at a time through the KV
// cache, the schedule of a generation (fast numerics follow llama.cpp's batched and one-row
// kernels, which round differently, so this reproduces its logits along a greedy continuation).
// With --greedy N also
// `greedy_ids` int32 [N] (decode with the KV cache, argmax, no early stop) and `step_logits`
// float32 [N, V] (row i = the logits that chose greedy_ids[i]).
#include <algorithm>
#include <iostream>
#include <optional>
#include <span>

#include "gemrt/apps/cli_common.h"
#include "gemrt/apps/media_inputs.h"
#include "gemrt/backend/cpu/cpu_backend.h"
#include "gemrt/core/error.h"
#include "gemrt/io/safetensors.h"
#include "gemrt/model/gemma/model.h"
#include "gemrt/runtime/generator.h"
#include "gemrt/runtime/media.h"
#include "gemrt/runtime/session.h"

namespace gemrt::cli {
namespace {

struct LogitsArgs {
  std::string model, mmproj, ids, inputs, out;
  int greedy = 0;
  int prefill = 0;  // 0: all ids in one batch
  std::string audio_attention = "sdpa";  // Gemma 4's audio tower: which transformers mask (gemma4_audio_graph.h)
  ComputeFlags compute;
  bool rope_freqs_in_weight_dtype = false;
};

void run_logits(const LogitsArgs& a) {
  const std::vector<int32_t> ids = a.inputs.empty() ? parse_id_list(a.ids) : read_input_ids(a.inputs);
  if (ids.empty()) fail("no input ids");
  auto model = GemmaModel::load(a.model, {.rope_freqs_in_weight_dtype = a.rope_freqs_in_weight_dtype, .mmproj = a.mmproj});
  const std::unique_ptr<Backend> backend = a.compute.make_backend();
  const MediaInputs media_in = a.inputs.empty() ? MediaInputs{} : read_media_inputs(a.inputs);
  std::vector<HostTensor> out;
  std::optional<PromptMedia> media;
  if (media_in.has_image || media_in.has_audio || media_in.has_audio_mel) {
    if (a.prefill > 0) fail("--prefill: a prompt with media runs as one prefill");
    MediaEmbedder embedder(*model, *backend);
    std::vector<float> image, audio;
    const int64_t hidden = model->spec().hidden_size;
    if (media_in.has_image) {
      image = media_in.positions.empty() ? embedder.embed_image_siglip(media_in.pixels)
                                         : embedder.embed_image(media_in.pixels, media_in.positions);
      out.push_back(HostTensor::from<float>("image_features", Shape{static_cast<int64_t>(image.size()) / hidden, hidden},
                                            DType::F32, image));
    }
    if (media_in.has_audio) {
      audio = embedder.embed_audio(media_in.audio_frames);
    } else if (media_in.has_audio_mel) {
      if (!model->media().gemma4_audio) fail(a.inputs, ": 'audio_mel' but this model has no Gemma 4 audio tower");
      if (media_in.audio_mel_bins != model->media().gemma4_audio->mel_bins)
        fail(a.inputs, ": 'audio_mel' has ", media_in.audio_mel_bins, " bins, the audio tower takes ",
             model->media().gemma4_audio->mel_bins);
      audio = embedder.embed_audio_mel(media_in.audio_mel, media_in.audio_mel_mask,
                                       a.audio_attention == "eager" ? Gemma4AudioMask::Eager : Gemma4AudioMask::Sdpa);
    }
    if (media_in.has_audio || media_in.has_audio_mel) {
      out.push_back(HostTensor::from<float>("audio_features", Shape{static_cast<int64_t>(audio.size()) / hidden, hidden},
                                            DType::F32, audio));
    }
    media = splice_media(ids, *model, image, audio);
  }
  SessionOptions opts;
  opts.max_tokens = static_cast<int>(ids.size()) + std::max(a.greedy, 0);
  opts.kv_dtype = a.compute.kv_dtype();
  Session session(*model, *backend, opts);

  const int64_t t = static_cast<int64_t>(ids.size());
  const int64_t vocab = model->spec().vocab_size;
  const int64_t batch = a.prefill > 0 ? std::min<int64_t>(a.prefill, t) : t;
  std::vector<float> logits = session.prefill(std::span<const int32_t>(ids.data(), static_cast<size_t>(batch)),
                                              LogitsRows::All, media ? &*media : nullptr);
  for (int64_t i = batch; i < t; ++i) {
    const std::vector<float> row = session.decode(ids[static_cast<size_t>(i)]);
    logits.insert(logits.end(), row.begin(), row.end());
  }
  out.push_back(HostTensor::from<float>("logits", Shape{t, vocab}, DType::F32, logits));

  if (a.greedy > 0) {
    std::vector<float> last(logits.end() - vocab, logits.end());
    const GreedyResult g = continue_greedy(session, std::move(last), a.greedy, true);
    std::vector<float> steps;
    for (const auto& row : g.step_logits) steps.insert(steps.end(), row.begin(), row.end());
    out.push_back(HostTensor::from<int32_t>("greedy_ids", Shape{a.greedy}, DType::I32, g.ids));
    out.push_back(HostTensor::from<float>("step_logits", Shape{a.greedy, vocab}, DType::F32, steps));
  }
  write_safetensors(a.out, out);
}

}  // namespace

void add_logits_command(CLI::App& app) {
  auto args = std::make_shared<LogitsArgs>();
  CLI::App* cmd = app.add_subcommand("logits", "Run a prompt and write its logits (and greedy decode) to safetensors");
  cmd->add_option("--model", args->model, "GGUF file or Hugging Face checkpoint folder")->required();
  add_mmproj_option(cmd, args->mmproj);
  auto* ids = cmd->add_option("--ids", args->ids, "Comma-separated token ids, e.g. 2,17,99");
  auto* inputs = cmd->add_option("--inputs", args->inputs, "safetensors file with int32 input_ids [T] (and media: pixel_values [+ image_position_ids], audio_frames or audio_mel + audio_mel_mask)");
  cmd->add_option("--audio-attention", args->audio_attention,
                  "Gemma 4 audio tower: transformers' sdpa mask (default) or its eager one (inverted; the fixtures' eager runs)")
      ->check(CLI::IsMember({"sdpa", "eager"}));
  ids->excludes(inputs);
  cmd->add_option("--prefill", args->prefill,
                  "Run only the first N ids as one batch, the rest one at a time through the KV cache (0 = all at once)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--greedy", args->greedy, "Also decode N tokens greedily with the KV cache")->check(CLI::NonNegativeNumber);
  cmd->add_option("--out", args->out, "Output .safetensors path")->required();
  args->compute.add_to(cmd, Numerics::Precise);
  cmd->add_flag("--rope-freqs-in-weight-dtype", args->rope_freqs_in_weight_dtype,
                "Round RoPE frequencies to the checkpoint dtype, like an HF model cast with model.to(dtype)");
  cmd->callback([args, ids, inputs] {
    if (ids->count() == 0 && inputs->count() == 0) throw CLI::RequiredError("--ids or --inputs");
    run_logits(*args);
  });
}

}  // namespace gemrt::cli
