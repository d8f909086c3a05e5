// The gangsched binary: the composition root (DESIGN.md §2). Dispatches subcommands; each lives in
// its own unit under cli/ and takes its arguments and streams, so tests run them in-process.
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/exit_codes.h"
#include "cli/explain_command.h"
#include "cli/plan_command.h"
#include "cli/serve_command.h"
#include "cli/simulate_command.h"

#ifndef GANGSCHED_VERSION
#error "GANGSCHED_VERSION must be defined by the build (PROJECT_VERSION)"
#endif

namespace {

constexpr const char* kUsage =
    "usage: gangsched <command> [arguments]\n"
    "\n"
    "commands:\n"
    "  serve [--config FILE] [--listen ADDR:PORT] [--bind-listen ADDR:PORT] [--ops-listen "
    "ADDR:PORT]\n"
    "        [--cluster FILE] [--max-body-bytes N] [--hold-ttl DURATION] [--drain-after DURATION]\n"
    "        [--log-level LEVEL]\n"
    "                 the kube-scheduler extender (filter, prioritize, preempt, bind)\n"
    "  plan --cluster FILE [--output table|json] JOB.yaml...\n"
    "                 where would these jobs go on this cluster (what-if, nothing is changed)\n"
    "  simulate --cluster FILE --trace FILE [--policy NAME]\n"
    "                 replay a trace through the real core (gangsched simulate --help)\n"
    "  explain NAMESPACE/NAME [--server URL] [--output text|json]\n"
    "                 why a gang waits: per domain what is free, held and by whom, what would fit\n"
    "  get gangs [-n NAMESPACE] [--server URL] [--output text|json]\n"
    "                 the gangs a running server knows (--server: its ops listener)\n"
    "  version        print the version and build information\n"
    "  help           print this help\n";

int PrintVersion(std::ostream& out) {
  out << "gangsched " << GANGSCHED_VERSION << "\n"
#if defined(__clang__)
      << "compiler: clang " << __clang_version__ << "\n"
#elif defined(__GNUC__)
      << "compiler: gcc " << __VERSION__ << "\n"
#endif
      << "c++: " << __cplusplus << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    std::cerr << kUsage;
    return gangsched::cli::kExitBadInput;
  }
  const std::string_view command = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "serve") return gangsched::cli::RunServe(rest, std::cout, std::cerr);
  if (command == "plan") return gangsched::cli::RunPlan(rest, std::cout, std::cerr);
  if (command == "simulate") return gangsched::cli::RunSimulate(rest, std::cout, std::cerr);
  if (command == "explain") return gangsched::cli::RunExplain(rest, std::cout, std::cerr);
  if (command == "get") return gangsched::cli::RunGet(rest, std::cout, std::cerr);
  if (command == "version" || command == "--version") return PrintVersion(std::cout);
  std::cerr
      << "gangsched: unknown command \"" << command
      << "\"; the commands are serve, plan, simulate, explain, get and version (gangsched help)\n";
  return gangsched::cli::kExitBadInput;
}
