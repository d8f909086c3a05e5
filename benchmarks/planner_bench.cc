// Planner benchmarks (issue 2 targets, DESIGN.md §7): plan a 128-pod × 8-GPU gang on a 10,000-node
// 3-level cluster (target under 5 ms) and a 1-GPU pod on the same cluster (target under 50 µs).
// The cluster is 2 zones × 5 blocks × 25 racks × 40 nodes × 8 GPUs with the HGX H100 matrix on
// every node; a seeded random load takes about half the GPUs first, so best fit has real work to
// do. Prints medians and p99 over repeated runs; figures are recorded in docs/benchmarks.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "scheduler/planner.h"
#include "tests/support/builders.h"

namespace gs = gangsched::scheduler;
using gangsched::testing::MakeGang;
using gangsched::testing::MakeNode;
using Clock = std::chrono::steady_clock;

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Stats {
  double median_us = 0;
  double p99_us = 0;
  double min_us = 0;
};

template <typename F>
Stats Measure(int runs, F&& f) {
  std::vector<double> us;
  us.reserve(runs);
  for (int i = 0; i < runs; ++i) {
    const auto t0 = Clock::now();
    f();
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)], us.front()};
}

long RssKiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  const std::string matrix =
      ReadFile(std::string(GANGSCHED_SHARED_DIR) + "/data/topology/hgx_h100_topo_m_gpu_rows.tsv");
  std::vector<gs::Node> nodes;
  for (int z = 0; z < 2; ++z) {
    for (int b = 0; b < 5; ++b) {
      for (int r = 0; r < 25; ++r) {
        for (int n = 0; n < 40; ++n) {
          const std::string zone = "z" + std::to_string(z);
          const std::string block = zone + "-b" + std::to_string(b);
          const std::string rack = block + "-r" + std::to_string(r);
          auto node =
              MakeNode(rack + "-n" + std::to_string(n)).Gpus(8).Zone(zone).Block(block).Rack(rack);
          if (!matrix.empty()) node.Annotation(gs::kGpuTopologyAnnotation, matrix);
          nodes.push_back(node);
        }
      }
    }
  }
  const long rss0 = RssKiB();
  const auto t0 = Clock::now();
  auto created = gs::ClusterState::Create(std::move(nodes));
  const double build_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (!created) {
    std::fprintf(stderr, "cluster: %s\n", created.error().c_str());
    return 1;
  }
  gs::ClusterState state = std::move(*created);

  // Seeded load: each node gets 0..8 GPUs taken (about half the cluster).
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> taken(0, 8);
  for (std::size_t i = 0; i < state.node_count(); ++i) {
    gs::Pod pod;
    pod.uid = "load-" + std::to_string(i);
    pod.node_name = state.node(i).name;
    pod.phase = gs::PodPhase::kRunning;
    pod.requests = {1000, 1LL << 30, taken(rng), 1};
    if (pod.requests.gpus > 0) state.AddPod(pod);
  }
  const long rss1 = RssKiB();
  std::printf(
      "cluster: %zu nodes (2 zones x 5 blocks x 25 racks x 40 nodes x 8 H100), %lld of %lld "
      "GPUs free after seeded load; built in %.1f ms, +%ld KiB RSS\n",
      state.node_count(), static_cast<long long>(state.FreeGpus()),
      static_cast<long long>(state.TotalGpus()), build_ms, rss1 - rss0);

  gs::Planner planner;
  const gs::GangSpec big = MakeGang("bench", "big").Role("worker", 128, 8);
  const gs::GangSpec ps_big =
      MakeGang("bench", "ps").Role("ps", 16, 0, 4000).Role("worker", 128, 8);
  const gs::GangSpec one = MakeGang("bench", "one").Role("worker", 1, 1);
  const gs::GangSpec four = MakeGang("bench", "four").Role("worker", 1, 4);

  auto check = [&](const gs::GangSpec& g, const char* name) {
    const auto r = planner.PlanGang(state, g);
    if (const auto* p = std::get_if<gs::Plan>(&r)) {
      std::printf("  %-34s placed: %zu pods on %d nodes, span level %d (%s)\n", name,
                  p->pods.size(), p->nodes_used, p->span_level, p->span_domain.c_str());
      return true;
    }
    std::printf("  %-34s NOT placed: %s\n", name, std::get<gs::Unplaceable>(r).reason.c_str());
    return false;
  };
  bool ok = check(big, "128 x 8-GPU gang");
  ok = check(ps_big, "16 PS + 128 x 8-GPU workers") && ok;
  ok = check(one, "1-GPU pod") && ok;
  ok = check(four, "4-GPU pod") && ok;

  const int big_runs = quick ? 20 : 200;
  const int small_runs = quick ? 2000 : 20000;
  struct Row {
    const char* what;
    const gs::GangSpec* gang;
    int runs;
    double target_us;
  };
  const Row rows[] = {{"plan 128-pod x 8-GPU gang", &big, big_runs, 5000},
                      {"plan 16 PS + 128 x 8-GPU gang", &ps_big, big_runs, 5000},
                      {"plan 1-GPU pod", &one, small_runs, 50},
                      {"plan 4-GPU pod", &four, small_runs, 50}};
  std::printf("\n%-32s %8s %12s %12s %12s %10s\n", "benchmark", "runs", "median", "p99", "min",
              "target");
  for (const Row& row : rows) {
    const Stats s = Measure(row.runs, [&] {
      auto r = planner.PlanGang(state, *row.gang);
      if (r.index() != 0) std::abort();
    });
    std::printf("%-32s %8d %9.1f us %9.1f us %9.1f us %7.0f us %s\n", row.what, row.runs,
                s.median_us, s.p99_us, s.min_us, row.target_us,
                s.median_us < row.target_us ? "ok" : "MISSED");
  }
  return ok ? 0 : 1;
}
