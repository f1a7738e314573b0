// gemrt: the command-line front end.
#include <iostream>

#include "gemrt/apps/cli_common.h"
#include "gemrt/core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"gemrt: Gemma inference engine"};
  app.require_subcommand(1);
  gemrt::cli::add_logits_command(app);
  gemrt::cli::add_generate_command(app);
  gemrt::cli::add_run_command(app);
  gemrt::cli::add_chat_command(app);
  gemrt::cli::add_inspect_command(app);
  gemrt::cli::add_tokenize_command(app);
  gemrt::cli::add_template_command(app);
  gemrt::cli::add_bench_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const gemrt::Error& e) {
    std::cerr << "gemrt: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "gemrt: internal error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
