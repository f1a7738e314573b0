// gemrt run MODEL -p PROMPT [--raw] [--system TEXT] [-n N] [sampling flags]
// Formats the prompt with the model's chat template (unless --raw), streams the reply to stdout,
// and prints a one-line summary to stderr.
#include <cstdio>
#include <iostream>

#include "gemrt/apps/cli_common.h"
#include "gemrt/apps/text_session.h"
#include "gemrt/core/error.h"

namespace gemrt::cli {
namespace {

struct RunArgs {
  std::string model, prompt, system;
  bool raw = false;
  int max_new = 256;
  int ctx = 4096;
  ComputeFlags compute;
  SamplingFlags sampling;
};

void run(const RunArgs& a) {
  TextSession ts(a.model, a.compute, a.ctx, a.sampling);
  std::vector<int32_t> prompt;
  if (a.raw) {
    if (!a.system.empty()) fail("--system needs the chat format (drop --raw)");
    prompt = ts.encode_raw(a.prompt);
  } else {
    std::vector<ChatMessage> msgs;
    if (!a.system.empty()) msgs.push_back({"system", a.system});
    msgs.push_back({"user", a.prompt});
    prompt = ts.encode_chat(msgs);
  }
  const GenerationStats st = ts.generate(prompt, a.max_new, [](const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  });
  std::cout << "\n" << std::flush;
  std::cerr << summary_line(st) << "\n";
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Generate a reply to one prompt, streaming text");
  cmd->add_option("model", args->model, "GGUF file or Hugging Face checkpoint folder")->required();
  cmd->add_option("-p,--prompt", args->prompt, "The prompt")->required();
  cmd->add_flag("--raw", args->raw, "Plain completion: no chat template");
  cmd->add_option("--system", args->system, "System prompt (chat format only)");
  cmd->add_option("-n,--max-tokens", args->max_new, "Most tokens to generate")->check(CLI::PositiveNumber);
  cmd->add_option("-c,--ctx", args->ctx, "Context budget in tokens (prompt + reply)")->check(CLI::PositiveNumber);
  args->compute.add_to(cmd, Numerics::Fast);
  args->sampling.add_to(cmd);
  cmd->callback([args] { run(*args); });
}

}  // namespace gemrt::cli
