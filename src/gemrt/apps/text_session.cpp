#include "gemrt/apps/text_session.h"

#include <cstdio>

#include "gemrt/core/error.h"
#include "gemrt/text/stream_decoder.h"

namespace gemrt::cli {

namespace {
std::unique_ptr<GemmaModel> load_model(const std::string& path, const std::string& mmproj) {
  preload_with_progress(path);
  return GemmaModel::load(path, {.mmproj = mmproj});
}
}  // namespace

TextSession::TextSession(const std::string& model_path, const ComputeFlags& compute, int ctx,
                         const SamplingFlags& flags, const std::string& mmproj)
    : model_(load_model(model_path, mmproj)),
      assets_(load_model_assets(model_path, *model_)),
      backend_(compute.make_backend()) {
  session_ = std::make_unique<Session>(*model_, *backend_,
                                       SessionOptions{.max_tokens = ctx, .kv_dtype = compute.kv_dtype()});
  sampler_ = std::make_unique<Sampler>(flags.apply(assets_.sampling));
}

std::vector<int32_t> TextSession::encode_raw(const std::string& text) const {
  return assets_.tokenizer.encode(text, /*add_special=*/true);
}

std::string TextSession::render_chat(const std::vector<ChatMessage>& msgs, bool add_generation_prompt) const {
  if (!assets_.chat_template)
    fail("this model has no chat template (tokenizer.chat_template / tokenizer_config.json); use --raw");
  return gemrt::render_chat(*assets_.chat_template, msgs, add_generation_prompt, assets_.bos_token, assets_.eos_token);
}

std::vector<int32_t> TextSession::encode_special(const std::string& text) const {
  return assets_.tokenizer.encode(text, /*add_special=*/false);
}

std::vector<int32_t> TextSession::encode_chat(const std::vector<ChatMessage>& msgs) const {
  return encode_special(render_chat(msgs, true));
}

GenerationStats TextSession::generate(std::vector<int32_t> prompt, int max_new,
                                      const std::function<void(const std::string&)>& on_text, const PromptMedia* media) {
  PromptMedia shifted;  // the media of the prompt after the pending token is put in front
  if (pending_ >= 0) {
    prompt.insert(prompt.begin(), pending_);
    if (media) {
      shifted = *media;
      shifted.index.insert(shifted.index.begin(), -1);
      for (auto& [b, e] : shifted.blocks) ++b, ++e;
      media = &shifted;
    }
  }
  if (session_->position() + static_cast<int64_t>(prompt.size()) >= session_->max_tokens())
    fail("the prompt (", prompt.size(), " tokens) does not fit the context budget of ", session_->max_tokens(),
         " tokens (", session_->position(), " used); raise --ctx");
  StreamDecoder decoder = assets_.tokenizer.stream_decoder(/*skip_special=*/true);
  GenerateOptions opts;
  opts.max_new_tokens = max_new;
  opts.stop_ids = assets_.stop_ids;
  opts.media = media;
  const std::vector<int>& suppressed = model_->media().suppressed_tokens;
  opts.suppress_ids.assign(suppressed.begin(), suppressed.end());
  const GenerationStats st = gemrt::generate(*session_, prompt, *sampler_, opts, [&](int32_t id) {
    const std::string text = decoder.push(id);
    if (!text.empty()) on_text(text);
    return true;
  });
  const std::string rest = decoder.flush();
  if (!rest.empty()) on_text(rest);
  pending_ = st.pending_token;
  return st;
}

std::string summary_line(const GenerationStats& st) {
  const auto rate = [](int n, double s) { return s > 0.0 ? n / s : 0.0; };
  char buf[256];
  // Decode rate: tokens decoded after the first one, over the decode time.
  const int decoded = st.generated_tokens > 0 ? st.generated_tokens - (st.pending_token >= 0 ? 1 : 0) : 0;
  std::snprintf(buf, sizeof buf, "prompt %d tokens, generated %d tokens | prefill %.1f tok/s, decode %.1f tok/s",
                st.prompt_tokens, st.generated_tokens, rate(st.prompt_tokens, st.prefill_seconds),
                rate(decoded, st.decode_seconds));
  return buf;
}

}  // namespace gemrt::cli
