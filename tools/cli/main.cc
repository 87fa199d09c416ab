// `unihal`: the command-line front end. Library errors arrive as Status and leave as
// "unihal: error: ..." on stderr with one exit code per error class (docs/cli.md).
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "cli/cli_common.h"

namespace unihal::cli {
namespace {

int PrintError(const std::string& message, int exit_code) {
  std::fprintf(stderr, "unihal: error: %s\n", message.c_str());
  return exit_code;
}

int Main(int argc, char** argv) {
  CLI::App app{"unihal: run ONNX models on every device of this machine", "unihal"};
  app.set_version_flag("--version", "unihal 0.1.0");
  app.require_subcommand(1);
  const std::vector<Command> commands = {AddDevicesCommand(app), AddRunCommand(app),
                                         AddBenchCommand(app),   AddPlanCommand(app),
                                         AddHealthCommand(app),  AddStatsCommand(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    std::string command = "unihal";
    for (const CLI::App* sub : app.get_subcommands()) command += " " + sub->get_name();
    return PrintError(std::string(e.what()) + "\nrun '" + command + " --help' for usage",
                      kExitUsage);
  }
  for (const Command& command : commands) {
    if (!command.app->parsed()) continue;
    const Status status = command.run();
    if (status.ok()) return kExitOk;
    return PrintError(status.message(), ExitCodeFor(status.code()));
  }
  return PrintError("no command given; run 'unihal --help'", kExitUsage);
}

}  // namespace
}  // namespace unihal::cli

int main(int argc, char** argv) {
  // The CLI is the edge where exceptions stop: none escapes as a crash.
  try {
    return unihal::cli::Main(argc, argv);
  } catch (const std::bad_alloc&) {
    return unihal::cli::PrintError("out of memory", unihal::cli::kExitResourceExhausted);
  } catch (const std::exception& e) {
    return unihal::cli::PrintError(std::string("unexpected error: ") + e.what(),
                                   unihal::cli::kExitInternal);
  } catch (...) {
    return unihal::cli::PrintError("unexpected error", unihal::cli::kExitInternal);
  }
}
