// gemrt tokenize --model PATH --text STR [--add-special]
// Prints the token ids as one JSON array. PATH: a GGUF file or a folder with tokenizer files.
#include <iostream>

#include "gemrt/apps/cli_common.h"
#include "gemrt/runtime/model_assets.h"

namespace gemrt::cli {

void add_tokenize_command(CLI::App& app) {
  struct Args {
    std::string model, text;
    bool add_special = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids of a text as a JSON array");
  cmd->add_option("--model", args->model, "GGUF file, or a folder with tokenizer.json / tokenizer.model")->required();
  cmd->add_option("--text", args->text, "The text")->required();
  cmd->add_flag("--add-special", args->add_special, "Add the special tokens the tokenizer adds by default (BOS)");
  cmd->callback([args] {
    const Tokenizer tok = load_tokenizer(args->model);
    const std::vector<int32_t> ids = tok.encode(args->text, args->add_special);
    std::cout << "[";
    for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? ", " : "") << ids[i];
    std::cout << "]\n";
  });
}

}  // namespace gemrt::cli
