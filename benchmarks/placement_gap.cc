// Optimality gap of gangsched's plans against CBC (issue 5): N small random instances, each planned
// by the real planner and solved exactly by `cbc`; one CSV row per instance on stdout.
//   placement_gap [--instances N] [--seed S] [--workdir DIR] [--cbc PATH]
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>

#include "sim/optimality.h"

namespace {

struct Args {
  int instances = 50;
  unsigned seed = 1;
  std::string workdir = "build/placement-gap";
  std::string cbc = "cbc";
};

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--instances") {
      args.instances = std::stoi(value);
    } else if (flag == "--seed") {
      args.seed = static_cast<unsigned>(std::stoul(value));
    } else if (flag == "--workdir") {
      args.workdir = value;
    } else if (flag == "--cbc") {
      args.cbc = value;
    } else {
      std::cerr << "placement_gap: unknown flag " << flag
                << " (flags: --instances N --seed S --workdir DIR --cbc PATH)\n";
      return 2;
    }
  }
  std::filesystem::create_directories(args.workdir);
  std::mt19937 rng(args.seed);
  std::cout << "instance,nodes,gangs,gangsched_admitted_gpus,gangsched_nodes,gangsched_racks,"
               "gangsched_blocks,gangsched_cost,cbc_admitted_gpus,cbc_nodes,cbc_racks,cbc_blocks,"
               "cbc_cost,cbc_seconds\n";
  for (int i = 0; i < args.instances; ++i) {
    const auto instance = gangsched::sim::RandomGapInstance(rng);
    const auto ours = gangsched::sim::PlanWithGangsched(instance);
    const auto lp = gangsched::sim::WriteGapLp(instance);
    if (!ours || !lp) {
      std::cerr << "placement_gap: instance " << i << ": " << (ours ? lp.error() : ours.error())
                << "\n";
      return 1;
    }
    const std::string base = args.workdir + "/instance-" + std::to_string(i);
    std::ofstream(base + ".lp") << *lp;
    const std::string command =
        args.cbc + " " + base + ".lp solve solu " + base + ".sol > " + base + ".log 2>&1";
    const auto t0 = std::chrono::steady_clock::now();
    const int rc = std::system(command.c_str());
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::ifstream sol(base + ".sol");
    std::stringstream text;
    text << sol.rdbuf();
    const auto best = gangsched::sim::ReadCbcSolution(instance, text.str());
    if (rc != 0 || !best) {
      std::cerr << "placement_gap: instance " << i << ": cbc failed (exit " << rc << ", see "
                << base << ".log): " << (best ? "" : best.error()) << "\n";
      return 1;
    }
    std::cout << i << "," << instance.nodes.size() << "," << instance.gangs.size() << ","
              << ours->admitted_gpus << "," << ours->nodes << "," << ours->racks << ","
              << ours->blocks << "," << ours->Cost() << "," << best->admitted_gpus << ","
              << best->nodes << "," << best->racks << "," << best->blocks << "," << best->Cost()
              << "," << seconds << "\n";
  }
  return 0;
}
