// `make soak`: the kube-scheduler model over many seeds with every fault on (sim/soak.h). Prints
// each failing seed as it happens, then a summary with failures by invariant and the minimized
// trace of the first failure of each. Exits 1 when anything failed.
//   kube_soak [--events N] [--seed S] [--per-run N] [--fault-scale X] [--budget N]
//             [--trace-lines N] [--known-bugs-excluded]
#include <cstdlib>
#include <iostream>
#include <string>

#include "sim/soak.h"

int main(int argc, char** argv) {
  gangsched::sim::SoakOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "kube_soak: " << arg << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--events") {
      options.events = std::stoll(value());
    } else if (arg == "--seed") {
      options.first_seed = std::stoull(value());
    } else if (arg == "--per-run") {
      options.events_per_run = std::stoll(value());
    } else if (arg == "--fault-scale") {
      options.fault_scale = std::stod(value());
    } else if (arg == "--budget") {
      options.minimize_budget = std::stoi(value());
    } else if (arg == "--trace-lines") {
      options.trace_lines = std::stoull(value());
    } else if (arg == "--known-bugs-excluded") {
      options.scope = gangsched::sim::SoakScope::kKnownBugsExcluded;
    } else {
      std::cerr << "kube_soak: unknown argument " << arg
                << " (--events, --seed, --per-run, --fault-scale, --budget, "
                   "--trace-lines, --known-bugs-excluded)\n";
      return 2;
    }
  }
  options.progress = [](const std::string& line) { std::cout << line << std::endl; };
  const gangsched::sim::SoakReport report = gangsched::sim::RunSoak(options);
  std::cout << "\n" << report.Summary();
  return report.failures.empty() ? 0 : 1;
}
