// gemrt chat MODEL [--system TEXT] [sampling flags]
// An interactive conversation: one user turn per input line; "/exit" or end of input quits,
// "/reset" starts over. The KV cache carries the conversation: each turn feeds only the text the
// template adds after what the session already holds.
#include <cstdio>
#include <iostream>

#include "gemrt/apps/cli_common.h"
#include "gemrt/apps/text_session.h"
#include "gemrt/core/error.h"

namespace gemrt::cli {
namespace {

struct ChatArgs {
  std::string model, system;
  int max_new = 1024;
  int ctx = 8192;
  ComputeFlags compute;
  bool verbose = false;
  SamplingFlags sampling;
};

void chat(const ChatArgs& a) {
  TextSession ts(a.model, a.compute, a.ctx, a.sampling);
  std::vector<ChatMessage> msgs;
  if (!a.system.empty()) msgs.push_back({"system", a.system});
  std::string fed;  // the rendered conversation text the session holds
  std::cerr << "chatting with " << a.model << " (" << ts.sampling().to_string() << "); /exit to quit, /reset to start over\n";
  std::string line;
  while (true) {
    std::cout << "> " << std::flush;
    if (!std::getline(std::cin, line) || line == "/exit") break;
    if (line == "/reset") {
      ts.session().reset();
      msgs.resize(a.system.empty() ? 0 : 1);
      fed.clear();
      continue;
    }
    if (line.empty()) continue;
    msgs.push_back({"user", line});
    const std::string full = ts.render_chat(msgs, true);
    std::vector<int32_t> prompt;
    if (!fed.empty() && full.compare(0, fed.size(), fed) == 0) {
      prompt = ts.encode_special(full.substr(fed.size()));
    } else {  // the template rewrote earlier turns: start the session over
      ts.session().reset();
      prompt = ts.encode_special(full);
    }
    std::string reply;
    const GenerationStats st = ts.generate(prompt, a.max_new, [&](const std::string& text) {
      reply += text;
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
    });
    std::cout << "\n";
    if (a.verbose) std::cerr << summary_line(st) << "\n";
    msgs.push_back({"assistant", reply});
    fed = full + reply;
  }
}

}  // namespace

void add_chat_command(CLI::App& app) {
  auto args = std::make_shared<ChatArgs>();
  CLI::App* cmd = app.add_subcommand("chat", "Interactive conversation with a model");
  cmd->add_option("model", args->model, "GGUF file or Hugging Face checkpoint folder")->required();
  cmd->add_option("--system", args->system, "System prompt");
  cmd->add_option("-n,--max-tokens", args->max_new, "Most tokens per reply")->check(CLI::PositiveNumber);
  cmd->add_option("-c,--ctx", args->ctx, "Context budget in tokens for the whole conversation")->check(CLI::PositiveNumber);
  args->compute.add_to(cmd, Numerics::Fast);
  cmd->add_flag("-v,--verbose", args->verbose, "Print the speed summary after each reply");
  args->sampling.add_to(cmd);
  cmd->callback([args] { chat(*args); });
}

}  // namespace gemrt::cli
