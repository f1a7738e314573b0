// gemrt template --model PATH --messages FILE.json [--add-generation-prompt]
// Prints the model's chat template rendered over the messages, and nothing else.
#include <iostream>

#include "gemrt/apps/cli_common.h"
#include "gemrt/core/error.h"
#include "gemrt/io/gguf.h"
#include "gemrt/io/json_file.h"
#include "gemrt/text/builtin_templates.h"
#include "gemrt/text/chat_template.h"
#include "gemrt/text/gguf_vocab.h"
#include "gemrt/text/tokenizer.h"

namespace gemrt::cli {
namespace {

// The template source plus the bos/eos pieces it may reference.
ChatTemplateSource template_for(const std::string& path) {
  if (!is_gguf_file(path)) return load_chat_template(path);
  auto g = GgufFile::open(path);
  std::optional<std::string> src = chat_template_from_gguf(*g);
  if (!src) {  // many Gemma GGUF files carry none: use the family's built-in template
    const char* builtin = builtin_chat_template(g->architecture());
    if (!builtin) fail(path, ": no tokenizer.chat_template in this GGUF file");
    src = builtin;
  }
  const Vocab v = vocab_from_gguf(*g);
  ChatTemplateSource t;
  t.source = *src;
  t.path = path;
  if (v.bos_id >= 0) t.bos_token = v.pieces[static_cast<size_t>(v.bos_id)];
  if (v.eos_id >= 0) t.eos_token = v.pieces[static_cast<size_t>(v.eos_id)];
  return t;
}

}  // namespace

void add_template_command(CLI::App& app) {
  struct Args {
    std::string model, messages;
    bool add_generation_prompt = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("template", "Render the model's chat template over messages");
  cmd->add_option("--model", args->model, "GGUF file, or a folder with tokenizer_config.json")->required();
  cmd->add_option("--messages", args->messages, "JSON file: an array of {\"role\", \"content\"} objects")->required();
  cmd->add_flag("--add-generation-prompt", args->add_generation_prompt, "End with the model's turn opener");
  cmd->callback([args] {
    const nlohmann::json msgs = read_json_file(args->messages);
    if (!msgs.is_array()) fail(args->messages, ": expected a JSON array of messages");
    for (size_t i = 0; i < msgs.size(); ++i)
      if (!msgs[i].is_object() || !msgs[i].contains("role") || !msgs[i].contains("content"))
        fail(args->messages, ": message ", i, " must be an object with 'role' and 'content'");
    const ChatTemplateSource t = template_for(args->model);
    nlohmann::json ctx;
    ctx["messages"] = msgs;
    ctx["add_generation_prompt"] = args->add_generation_prompt;
    ctx["bos_token"] = t.bos_token;
    ctx["eos_token"] = t.eos_token;
    std::cout << render_chat_template(t.source, ctx) << std::flush;
  });
}

}  // namespace gemrt::cli
