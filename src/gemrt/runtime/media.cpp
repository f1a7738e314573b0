#include "gemrt/runtime/media.h"

#include <algorithm>

#include "gemrt/core/error.h"
#include "gemrt/model/gemma/gemma4_audio_graph.h"
#include "gemrt/model/gemma/gemma4_vision_graph.h"
#include "gemrt/model/gemma/media_graph.h"
#include "gemrt/runtime/patch_grid.h"

namespace gemrt {

MediaEmbedder::MediaEmbedder(const GemmaModel& model, Backend& backend) : model_(model), backend_(backend) {
  if (!model.media().vision && !model.media().audio && !model.media().siglip && !model.media().gemma4_vision &&
      !model.media().gemma4_audio)
    fail("model '", model.spec().model_type,
         "' has no media embedders (gemma4_unified checkpoints, and gemma3 / gemma4 ones with a vision tower have them)");
}

std::vector<float> MediaEmbedder::embed_image_tower(std::span<const float> pixels, std::span<const int32_t> positions) {
  if (!model_.media_weights().gemma4_vision) fail("this model has no Gemma 4 vision tower weights");
  const Gemma4VisionSpec& s = *model_.media().gemma4_vision;
  const PatchGrid grid = arrange_patch_grid(pixels, positions, s.patch_values(), s.posemb_size, s.pooling);
  if (grid.rows == 0) return {};
  const int64_t n = int64_t{grid.rows} * grid.cols;
  std::vector<int32_t> pos_y(grid.y.size()), rope(2 * grid.x.size()), ids(static_cast<size_t>(n)),
      blocks(2 * static_cast<size_t>(n));
  for (size_t i = 0; i < grid.x.size(); ++i) {
    pos_y[i] = static_cast<int32_t>(s.posemb_size) + grid.y[i];  // the y table's rows (gemma4_vision_graph.h)
    rope[2 * i] = grid.x[i];
    rope[2 * i + 1] = grid.y[i];
    ids[i] = static_cast<int32_t>(i);
    blocks[2 * i] = 0;
    blocks[2 * i + 1] = static_cast<int32_t>(n);
  }
  const auto exe = backend_.compile(build_gemma4_vision_graph(s, *model_.media_weights().gemma4_vision, grid.rows, grid.cols));
  const auto kv = backend_.allocate_kv(gemma4_vision_kv_layout(s, static_cast<int>(n)));
  RunOutputs out;
  exe->run(RunInputs{{"patches", grid.patches}, {"pos_x", grid.x}, {"pos_y", pos_y}, {"rope_positions", rope},
                     {"positions", ids}, {"attention_blocks", blocks}},
           kv.get(), &out);
  return std::move(out.at("features"));
}

std::vector<float> MediaEmbedder::embed_image(std::span<const float> pixels, std::span<const int32_t> positions) {
  if (model_.media().gemma4_vision) return embed_image_tower(pixels, positions);
  if (!model_.media().vision || !model_.media_weights().vision) fail("this model has no vision embedder");
  const VisionEmbedderSpec& spec = *model_.media().vision;
  const int64_t values = spec.patch_values();
  if (positions.size() % 2 != 0 || pixels.size() != positions.size() / 2 * static_cast<size_t>(values))
    fail("image input: ", pixels.size(), " pixel values and ", positions.size(), " position values do not make [P, ",
         values, "] patches with [P, 2] positions");
  std::vector<float> kept;
  std::vector<int32_t> xs, ys;
  for (size_t p = 0; p < positions.size() / 2; ++p) {
    const int32_t x = positions[2 * p], y = positions[2 * p + 1];
    if (x == -1 && y == -1) continue;  // padding
    if (x < 0 || y < 0 || x >= spec.posemb_size || y >= spec.posemb_size)
      fail("image input: patch ", p, " has position (", x, ", ", y, "), outside [0, ", spec.posemb_size,
           ") (or (-1, -1) for padding)");
    xs.push_back(2 * x);  // the pos_embedding table as [2S, D] (media_graph.h)
    ys.push_back(2 * y + 1);
    const float* src = pixels.data() + p * static_cast<size_t>(values);
    kept.insert(kept.end(), src, src + values);
  }
  if (xs.empty()) return {};
  const auto patches = static_cast<int64_t>(xs.size());
  const auto exe = backend_.compile(build_vision_embedder_graph(spec, *model_.media_weights().vision, patches));
  RunOutputs out;
  exe->run(RunInputs{{"pixel_values", kept}, {"pos_x", xs}, {"pos_y", ys}}, nullptr, &out);
  return std::move(out.at("features"));
}

std::vector<float> MediaEmbedder::embed_audio_mel(std::span<const float> mel, std::span<const int32_t> mask,
                                                  Gemma4AudioMask attention) {
  if (!model_.media().gemma4_audio || !model_.media_weights().gemma4_audio) fail("this model has no Gemma 4 audio tower");
  const Gemma4AudioSpec& s = *model_.media().gemma4_audio;
  const int64_t frames = static_cast<int64_t>(mask.size());
  if (mel.size() != mask.size() * static_cast<size_t>(s.mel_bins))
    fail("audio input: ", mel.size(), " mel values and ", mask.size(), " mask values do not make [F, ", s.mel_bins,
         "] frames with an [F] mask");
  if (frames == 0) return {};
  // HF's masks: the features times the frame mask, then the mask taken every 2nd frame per convolution.
  std::vector<float> mel_mask(mask.size()), conv1_mask, token_mask;
  for (size_t f = 0; f < mask.size(); ++f) mel_mask[f] = mask[f] != 0 ? 1.0f : 0.0f;
  for (size_t f = 0; f < mel_mask.size(); f += 2) conv1_mask.push_back(mel_mask[f]);
  for (size_t f = 0; f < conv1_mask.size(); f += 2) token_mask.push_back(conv1_mask[f]);
  const auto exe = backend_.compile(build_gemma4_audio_graph(s, *model_.media_weights().gemma4_audio, frames, attention));
  RunOutputs out;
  exe->run(RunInputs{{"mel", mel}, {"mel_mask", mel_mask},
                     {"conv1_mask", conv1_mask}, {"token_mask", token_mask}},
           nullptr, &out);
  const std::vector<float>& all = out.at("features");
  const size_t hidden = all.size() / token_mask.size();
  std::vector<float> kept;
  for (size_t r = 0; r < token_mask.size(); ++r)
    if (token_mask[r] != 0.0f) kept.insert(kept.end(), all.begin() + static_cast<std::ptrdiff_t>(r * hidden),
                                           all.begin() + static_cast<std::ptrdiff_t>((r + 1) * hidden));
  return kept;
}

std::vector<float> MediaEmbedder::embed_audio(std::span<const float> frames) {
  if (!model_.media().audio || !model_.media_weights().audio) fail("this model has no audio embedder");
  const int64_t s = model_.media().audio->embed_dim;
  if (frames.size() % static_cast<size_t>(s) != 0)
    fail("audio input: ", frames.size(), " samples are not whole frames of ", s);
  if (frames.empty()) return {};
  const auto n = static_cast<int64_t>(frames.size()) / s;
  const auto exe = backend_.compile(build_audio_embedder_graph(*model_.media().audio, *model_.media_weights().audio, n));
  RunOutputs out;
  exe->run(RunInputs{{"audio_frames", frames}}, nullptr, &out);
  return std::move(out.at("features"));
}

std::vector<int32_t> expand_media_markers(const std::string& text, const MediaSpec& media,
                                          std::span<const int64_t> image_tokens, std::span<const int64_t> audio_tokens,
                                          const std::function<std::vector<int32_t>(const std::string&)>& encode) {
  std::vector<int32_t> ids;
  size_t images = 0, audios = 0, pos = 0;
  const std::string image_marker = kImageMarker, audio_marker = kAudioMarker;
  std::string pending;  // text not tokenized yet
  const auto flush = [&] {
    if (pending.empty()) return;
    const std::vector<int32_t> t = encode(pending);
    ids.insert(ids.end(), t.begin(), t.end());
    pending.clear();
  };
  while (true) {
    const size_t i = text.find(image_marker, pos), a = text.find(audio_marker, pos);
    const size_t next = std::min(i, a);
    pending += text.substr(pos, (next == std::string::npos ? text.size() : next) - pos);
    if (next == std::string::npos) {
      flush();
      break;
    }
    const bool image = next == i;
    if (image && images >= image_tokens.size())
      fail("the prompt has more ", image_marker, " markers than the ", image_tokens.size(), " images given");
    if (!image && audios >= audio_tokens.size())
      fail("the prompt has more ", audio_marker, " markers than the ", audio_tokens.size(), " audio clips given");
    const int64_t n = image ? image_tokens[images++] : audio_tokens[audios++];
    if (image) pending += media.image_text_before;
    flush();
    ids.push_back(image ? media.boi_token : media.boa_token);
    ids.insert(ids.end(), static_cast<size_t>(n), image ? media.image_token : media.audio_token);
    ids.push_back(image ? media.eoi_token : media.eoa_token);
    if (image) pending = media.image_text_after;
    pos = next + (image ? image_marker.size() : audio_marker.size());
  }
  if (images != image_tokens.size())
    fail(image_tokens.size(), " images given but the prompt has ", images, " ", image_marker, " markers");
  if (audios != audio_tokens.size())
    fail(audio_tokens.size(), " audio clips given but the prompt has ", audios, " ", audio_marker, " markers");
  return ids;
}

std::vector<float> MediaEmbedder::embed_image_siglip(std::span<const float> pixel_values) {
  if (!model_.media().siglip || !model_.media_weights().siglip) fail("this model has no SigLIP vision tower");
  const SiglipSpec& s = *model_.media().siglip;
  const int size = s.image_size, p = s.patch_size, side = s.patches_per_side();
  if (pixel_values.size() != static_cast<size_t>(s.channels) * static_cast<size_t>(size) * static_cast<size_t>(size))
    fail("image input: ", pixel_values.size(), " pixel values, expected [", s.channels, ", ", size, ", ", size, "]");
  // The patch conv as a product: each patch's values channel-major, then rows, then columns.
  const int64_t n = int64_t{side} * side;
  std::vector<float> patches(static_cast<size_t>(n * s.patch_values()));
  float* out = patches.data();
  for (int py = 0; py < side; ++py)
    for (int px = 0; px < side; ++px)
      for (int c = 0; c < s.channels; ++c)
        for (int y = 0; y < p; ++y)
          for (int x = 0; x < p; ++x)
            *out++ = pixel_values[(static_cast<size_t>(c) * size + static_cast<size_t>(py * p + y)) * size +
                                  static_cast<size_t>(px * p + x)];
  std::vector<int32_t> ids(static_cast<size_t>(n)), blocks(static_cast<size_t>(2 * n));
  for (int32_t i = 0; i < n; ++i) {
    ids[static_cast<size_t>(i)] = i;
    blocks[2 * static_cast<size_t>(i)] = 0;
    blocks[2 * static_cast<size_t>(i) + 1] = static_cast<int32_t>(n);
  }
  const auto exe = backend_.compile(build_siglip_graph(s, *model_.media_weights().siglip));
  const auto kv = backend_.allocate_kv(siglip_kv_layout(s));
  RunOutputs result;
  exe->run(RunInputs{{"pixel_patches", patches}, {"patch_ids", ids}, {"positions", ids}, {"attention_blocks", blocks}},
           kv.get(), &result);
  return std::move(result.at("features"));
}

PromptMedia splice_media(std::span<const int32_t> ids, const GemmaModel& model, std::span<const float> image_rows,
                         std::span<const float> audio_rows) {
  const MediaSpec& m = model.media();
  const auto hidden = static_cast<size_t>(model.spec().hidden_size);
  if (image_rows.size() % hidden != 0 || audio_rows.size() % hidden != 0)
    fail("media rows must be whole rows of ", hidden, " values");
  size_t n_image = 0, n_audio = 0;
  for (int32_t id : ids) {
    n_image += id == m.image_token;
    n_audio += id == m.audio_token;
  }
  if (n_image != image_rows.size() / hidden)
    fail("the prompt has ", n_image, " image tokens (id ", m.image_token, ") but the images give ",
         image_rows.size() / hidden, " rows");
  if (n_audio != audio_rows.size() / hidden)
    fail("the prompt has ", n_audio, " audio tokens (id ", m.audio_token, ") but the audio gives ",
         audio_rows.size() / hidden, " rows");
  PromptMedia p;
  p.rows.reserve(image_rows.size() + audio_rows.size());
  p.index.assign(ids.size(), -1);
  size_t next_image = 0, next_audio = 0;
  for (size_t t = 0; t < ids.size(); ++t) {
    const float* src = nullptr;
    if (ids[t] == m.image_token) src = image_rows.data() + hidden * next_image++;
    else if (ids[t] == m.audio_token) src = audio_rows.data() + hidden * next_audio++;
    if (!src) continue;
    p.index[t] = static_cast<int32_t>(p.rows.size() / hidden);
    p.rows.insert(p.rows.end(), src, src + hidden);
  }
  if (model.spec().bidirectional_vision)
    for (size_t t = 0; t < ids.size();) {
      if (ids[t] != m.image_token) {
        ++t;
        continue;
      }
      size_t e = t;
      while (e < ids.size() && ids[e] == m.image_token) ++e;
      p.blocks.emplace_back(static_cast<int64_t>(t), static_cast<int64_t>(e));
      t = e;
    }
  return p;
}

}  // namespace gemrt
