// Chat templates: a model's own Jinja chat template, rendered exactly as Hugging Face
// transformers' apply_chat_template renders it (jinja2 with trim_blocks and lstrip_blocks, the
// raise_exception / strftime_now globals and transformers' tojson filter).
//
// The context holds what transformers passes to the template: `messages`, `tools` (null when
// none), `documents` (null), `add_generation_prompt`, the special tokens (`bos_token`,
// `eos_token`, ...) and extra keyword arguments such as `enable_thinking`. Use
// nlohmann::ordered_json to keep dict key order as Python does (it shows in `tojson` and in
// loops over a dict); nlohmann::json sorts keys.
//
// Errors (syntax errors, undefined-variable misuse, type errors, raise_exception(msg)) throw
// gemrt::Error with the template line; for raise_exception the message is included verbatim.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gemrt {

namespace jinja {
class Template;
}

struct ChatMessage {
  std::string role;     // "system", "user", "assistant", ...
  std::string content;
};

// A chat template parsed once, rendered many times.
class ChatTemplate {
 public:
  // Parses `source`; throws gemrt::Error naming the line on a syntax error.
  explicit ChatTemplate(const std::string& source);
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;

  std::string render(const nlohmann::json& context) const;
  std::string render(const nlohmann::ordered_json& context) const;

 private:
  std::unique_ptr<jinja::Template> tmpl_;
};

std::string render_chat_template(const std::string& source, const nlohmann::json& context);
std::string render_chat_template(const std::string& source, const nlohmann::ordered_json& context);

// The context transformers builds for plain text messages: messages as {role, content},
// tools = documents = null, add_generation_prompt, bos_token, eos_token.
nlohmann::ordered_json chat_context(const std::vector<ChatMessage>& msgs, bool add_generation_prompt,
                                    const std::string& bos_token, const std::string& eos_token);

std::string render_chat(const std::string& source, const std::vector<ChatMessage>& msgs, bool add_generation_prompt,
                        const std::string& bos_token, const std::string& eos_token);

// A model folder's chat template, found as transformers finds it: `chat_template.jinja`, else
// tokenizer_config.json's `chat_template` (a string, or a list of {name, template} from which
// `name` is picked), else `chat_template.json` (processor configs). bos/eos come from
// tokenizer_config.json when it has them (a string or an {"content": ...} token).
struct ChatTemplateSource {
  std::string source;
  std::string bos_token;
  std::string eos_token;
  std::string path;  // the file the template came from
};

ChatTemplateSource load_chat_template(const std::string& model_dir, const std::string& name = "default");

}  // namespace gemrt
