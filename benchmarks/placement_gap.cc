// Optimality gap of gangsched's plans against CBC (issue 5, issue 12 item 4): N random instances,
// each planned by the real planner and solved by `cbc`; one CSV row per instance on stdout.
//   placement_gap [--instances N] [--seed S] [--size small|large] [--time-limit SECONDS]
//                 [--workdir DIR] [--cbc PATH]
// small: up to 64 GPUs (sim::kSmallGap); large: 128 to 512 GPUs (sim::kLargeGap). CBC gets a
// wall-clock limit per instance; when it stops there, the row keeps its best solution and the
// bound it proved, so the gap is known to lie between the two.
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
  std::string size = "small";
  int time_limit = 60;
  std::string workdir = "build/placement-gap";
  std::string cbc = "cbc";
};

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

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
    } else if (flag == "--size" && (value == "small" || value == "large")) {
      args.size = value;
    } else if (flag == "--time-limit") {
      args.time_limit = std::stoi(value);
    } else if (flag == "--workdir") {
      args.workdir = value;
    } else if (flag == "--cbc") {
      args.cbc = value;
    } else {
      std::cerr << "placement_gap: unknown flag " << flag << " " << value
                << " (flags: --instances N --seed S --size small|large --time-limit SECONDS "
                   "--workdir DIR --cbc PATH)\n";
      return 2;
    }
  }
  const gangsched::sim::GapShape& shape =
      args.size == "large" ? gangsched::sim::kLargeGap : gangsched::sim::kSmallGap;
  std::filesystem::create_directories(args.workdir);
  std::mt19937 rng(args.seed);
  std::cout << "instance,nodes,gpus,gangs,gang_gpus,gangsched_admitted_gpus,gangsched_nodes,"
               "gangsched_racks,gangsched_blocks,gangsched_cost,cbc_admitted_gpus,cbc_nodes,"
               "cbc_racks,cbc_blocks,cbc_cost,cbc_status,cbc_bound,cbc_seconds\n";
  for (int i = 0; i < args.instances; ++i) {
    const auto instance = gangsched::sim::RandomGapInstance(rng, shape);
    const auto ours = gangsched::sim::PlanWithGangsched(instance);
    std::int64_t gang_gpus = 0;
    for (const auto& g : instance.gangs) {
      gang_gpus += g.roles.front().per_pod.gpus * g.roles.front().replicas;
    }
    const bool admit_all = ours && ours->admitted_gpus == gang_gpus;
    const auto lp = gangsched::sim::WriteGapLp(instance, admit_all);
    if (!ours || !lp) {
      std::cerr << "placement_gap: instance " << i << ": " << (ours ? lp.error() : ours.error())
                << "\n";
      return 1;
    }
    const std::string base = args.workdir + "/" + args.size + "-" + std::to_string(i);
    std::ofstream(base + ".lp") << *lp;
    std::filesystem::remove(base + ".sol");
    const std::string command = args.cbc + " " + base + ".lp timeMode elapsed sec " +
                                std::to_string(args.time_limit) + " solve solu " + base +
                                ".sol > " + base + ".log 2>&1";
    const auto t0 = std::chrono::steady_clock::now();
    const int rc = std::system(command.c_str());
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto best =
        gangsched::sim::ReadCbcResult(instance, ReadText(base + ".sol"), ReadText(base + ".log"));
    if (rc != 0 || !best) {
      std::cerr << "placement_gap: instance " << i << ": cbc failed (exit " << rc << ", see "
                << base << ".log): " << (best ? "" : best.error()) << "\n";
      return 1;
    }
    // Stopped before any solution: gangsched's plan is the best known one.
    if (!best->has_solution) best->best = *ours;
    std::int64_t gpus = 0;
    for (const auto& n : instance.nodes) gpus += n.allocatable.gpus;
    std::cout << i << "," << instance.nodes.size() << "," << gpus << "," << instance.gangs.size()
              << "," << gang_gpus << "," << ours->admitted_gpus << "," << ours->nodes << ","
              << ours->racks << "," << ours->blocks << "," << ours->Cost() << ","
              << best->best.admitted_gpus << "," << best->best.nodes << "," << best->best.racks
              << "," << best->best.blocks << "," << best->best.Cost() << ","
              << (best->optimal ? "optimal" : "stopped") << ","
              << (best->span_bound ? std::to_string(*best->span_bound) : "") << "," << seconds
              << "\n";
  }
  return 0;
}
