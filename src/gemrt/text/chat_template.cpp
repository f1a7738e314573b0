#include "gemrt/text/chat_template.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gemrt/core/error.h"
#include "gemrt/io/json_file.h"
#include "gemrt/text/jinja_eval.h"
#include "gemrt/text/jinja_json.h"

namespace gemrt {

namespace fs = std::filesystem;

ChatTemplate::ChatTemplate(const std::string& source) : tmpl_(std::make_unique<jinja::Template>(source)) {}
ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

std::string ChatTemplate::render(const nlohmann::json& context) const {
  if (!context.is_object()) fail("chat template: the render context must be a JSON object");
  return tmpl_->render(jinja::from_json(context));
}

std::string ChatTemplate::render(const nlohmann::ordered_json& context) const {
  if (!context.is_object()) fail("chat template: the render context must be a JSON object");
  return tmpl_->render(jinja::from_json(context));
}

std::string render_chat_template(const std::string& source, const nlohmann::json& context) {
  return ChatTemplate(source).render(context);
}

std::string render_chat_template(const std::string& source, const nlohmann::ordered_json& context) {
  return ChatTemplate(source).render(context);
}

nlohmann::ordered_json chat_context(const std::vector<ChatMessage>& msgs, bool add_generation_prompt,
                                    const std::string& bos_token, const std::string& eos_token) {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  for (const ChatMessage& m : msgs) messages.push_back({{"role", m.role}, {"content", m.content}});
  nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
  ctx["messages"] = std::move(messages);
  ctx["tools"] = nullptr;
  ctx["documents"] = nullptr;
  ctx["add_generation_prompt"] = add_generation_prompt;
  ctx["bos_token"] = bos_token;
  ctx["eos_token"] = eos_token;
  return ctx;
}

std::string render_chat(const std::string& source, const std::vector<ChatMessage>& msgs, bool add_generation_prompt,
                        const std::string& bos_token, const std::string& eos_token) {
  return ChatTemplate(source).render(chat_context(msgs, add_generation_prompt, bos_token, eos_token));
}

namespace {

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), ": cannot open");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A special token in tokenizer_config.json: "<bos>", or {"content": "<bos>", ...}, or null.
std::string token_text(const nlohmann::json& cfg, const char* key) {
  const auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
  return "";
}

// tokenizer_config.json / chat_template.json `chat_template`: a string, or [{name, template}].
bool pick_template(const nlohmann::json& value, const std::string& name, const std::string& path, std::string* out) {
  if (value.is_string()) {
    if (name != "default") return false;
    *out = value.get<std::string>();
    return true;
  }
  if (!value.is_array()) {
    if (value.is_null()) return false;
    fail(path, ": `chat_template` must be a string or a list of {name, template}");
  }
  std::string names;
  for (const auto& entry : value) {
    if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") || !entry["name"].is_string() ||
        !entry["template"].is_string())
      fail(path, ": each `chat_template` entry must be an object with string `name` and `template`");
    const std::string n = entry["name"].get<std::string>();
    if (n == name) {
      *out = entry["template"].get<std::string>();
      return true;
    }
    names += (names.empty() ? "" : ", ") + n;
  }
  fail(path, ": no chat template named '", name, "' (it has: ", names, ")");
}

}  // namespace

ChatTemplateSource load_chat_template(const std::string& model_dir, const std::string& name) {
  const fs::path dir(model_dir);
  if (!fs::is_directory(dir)) fail(model_dir, ": not a folder (expected a model folder holding a chat template)");
  ChatTemplateSource result;
  const fs::path config_path = dir / "tokenizer_config.json";
  nlohmann::json config;
  if (fs::exists(config_path)) {
    config = read_json_file(config_path.string());
    if (!config.is_object()) fail(config_path.string(), ": expected a JSON object");
    result.bos_token = token_text(config, "bos_token");
    result.eos_token = token_text(config, "eos_token");
  }
  const fs::path jinja_path =
      name == "default" ? dir / "chat_template.jinja" : dir / "additional_chat_templates" / (name + ".jinja");
  if (fs::exists(jinja_path)) {
    result.source = read_text(jinja_path);
    result.path = jinja_path.string();
    return result;
  }
  if (config.is_object() && config.contains("chat_template") &&
      pick_template(config["chat_template"], name, config_path.string(), &result.source)) {
    result.path = config_path.string();
    return result;
  }
  const fs::path processor_path = dir / "chat_template.json";
  if (fs::exists(processor_path)) {
    const nlohmann::json proc = read_json_file(processor_path.string());
    if (proc.is_object() && proc.contains("chat_template") &&
        pick_template(proc["chat_template"], name, processor_path.string(), &result.source)) {
      result.path = processor_path.string();
      return result;
    }
  }
  fail(model_dir, ": no chat template",
       name == "default" ? "" : " named '" + name + "'",
       " (looked for chat_template.jinja, `chat_template` in tokenizer_config.json, and chat_template.json)");
}

}  // namespace gemrt
