// The simulator over every policy (one typed suite, STYLE.md "Tests"): GPUs are conserved at every
// event, gang policies never run a job partly, the same seed gives the same report; then what a
// user would notice of each policy: spread spreads, bin-packing packs, gangsched keeps gangs in one
// rack, and the default scheduler deadlocks on partial gangs and says how many GPUs they hold idle.
#include "sim/simulator.h"

#include <catch2/catch.hpp>
#include <random>
#include <set>

#include "sim/cluster_builder.h"
#include "sim/trace.h"
#include "tests/unit/sim/sim_test_jobs.h"

namespace gangsched::sim {
namespace {

struct Gangsched {
  static constexpr const char* kName = "gangsched";
};
struct GangBinpack {
  static constexpr const char* kName = "gang-binpack";
};
struct Binpack {
  static constexpr const char* kName = "binpack";
};
struct DefaultScheduler {
  static constexpr const char* kName = "default-scheduler";
};

// A random mixed workload: jobs of 1-24 GPUs in both pod shapes, arriving over a day.
std::vector<SimJob> RandomJobs(unsigned seed, int count) {
  std::mt19937 rng(seed);
  const int sizes[] = {1, 1, 1, 2, 4, 4, 8, 8, 12, 16, 24};
  std::vector<SimJob> jobs;
  for (int i = 0; i < count; ++i) {
    const int gpus = sizes[std::uniform_int_distribution<int>(0, 10)(rng)];
    const auto shape = i % 2 == 0 ? PodShape::kPacked : PodShape::kPsWorkers;
    SimJob job;
    job.id = "j" + std::to_string(i);
    job.arrival = std::uniform_int_distribution<std::int64_t>(0, 86'400)(rng);
    job.duration = std::uniform_int_distribution<std::int64_t>(600, 20'000)(rng);
    job.gang = ShapeGang(job.id, gpus, shape);
    job.gpus = gpus;
    jobs.push_back(job);
  }
  return jobs;
}

Report Run(const char* policy_name, const std::vector<scheduler::Node>& nodes,
           const std::vector<SimJob>& jobs, unsigned seed, const SimOptions& options = {}) {
  const auto policy = MakePolicy(policy_name);
  REQUIRE(policy != nullptr);
  std::mt19937 rng(seed);
  auto report = Simulate(nodes, jobs, *policy, rng, options);
  REQUIRE(report.has_value());
  return *report;
}

TEMPLATE_TEST_CASE("the simulator conserves GPUs at every event", "[sim]", Gangsched, GangBinpack,
                   Binpack, DefaultScheduler) {
  const auto nodes = GeneratedCluster(2, 2, 3, 8);
  const auto jobs = RandomJobs(7, 120);
  int events = 0;
  SimOptions options;
  options.on_event = [&](const EventView& view) {
    ++events;
    std::int64_t bound = 0, free = 0, held = 0;
    for (std::size_t n = 0; n < view.state.node_count(); ++n) {
      const auto& usage = view.state.usage(n);
      const auto& node = view.state.node(n);
      REQUIRE(usage.used.gpus + usage.held.gpus <= node.allocatable.gpus);
      REQUIRE(usage.used.milli_cpu <= node.allocatable.milli_cpu);
      bound += usage.used.gpus;
      held += usage.held.gpus;
      free += view.state.Free(n).gpus;
    }
    std::int64_t placed = 0;
    for (const auto& job : view.jobs) {
      if (job.phase == JobPhase::kFinished || job.phase == JobPhase::kWaiting) {
        REQUIRE(job.placed_gpus == 0);
      }
      placed += job.placed_gpus;
    }
    REQUIRE(held == 0);  // every hold is committed or released within the moment
    REQUIRE(bound == placed);
    REQUIRE(bound + free == view.state.TotalGpus());
  };
  const auto report = Run(TestType::kName, nodes, jobs, 1, options);
  CHECK(events > 100);
  CHECK(report.summary.jobs == 120);
}

TEMPLATE_TEST_CASE("the same seed gives the same report", "[sim]", Gangsched, GangBinpack, Binpack,
                   DefaultScheduler) {
  const auto nodes = GeneratedCluster(1, 2, 4, 8);
  const auto jobs = RandomJobs(11, 80);
  const auto a = Run(TestType::kName, nodes, jobs, 42);
  const auto b = Run(TestType::kName, nodes, jobs, 42);
  REQUIRE(a.jobs.size() == b.jobs.size());
  for (std::size_t i = 0; i < a.jobs.size(); ++i) {
    CHECK(a.jobs[i].start == b.jobs[i].start);
    CHECK(a.jobs[i].finish == b.jobs[i].finish);
    CHECK(a.jobs[i].placement.nodes == b.jobs[i].placement.nodes);
  }
  CHECK(a.summary.mean_jct == b.summary.mean_jct);
  CHECK(a.summary.decisions == b.summary.decisions);
  CHECK(a.samples.size() == b.samples.size());
}

TEST_CASE("the seed reaches the default scheduler's tie-breaking", "[sim]") {
  // One one-GPU job on eight equal empty nodes: the node is a tie kube-scheduler breaks at random;
  // four seeds must not all pick the same node.
  const auto nodes = GeneratedCluster(1, 1, 8, 8);
  std::set<std::size_t> chosen;
  for (unsigned seed = 1; seed <= 4; ++seed) {
    SimOptions options;
    options.on_event = [&](const EventView& view) {
      for (std::size_t n = 0; n < view.state.node_count(); ++n) {
        if (view.state.usage(n).used.gpus > 0) chosen.insert(n);
      }
    };
    Run("default-scheduler", nodes, {Job("j", 0, 1000, 1, 1)}, seed, options);
  }
  CHECK(chosen.size() > 1);
}

TEMPLATE_TEST_CASE("a gang policy never runs a job partly", "[sim]", Gangsched, GangBinpack) {
  const auto nodes = GeneratedCluster(1, 2, 2, 8);
  const auto jobs = RandomJobs(3, 100);
  SimOptions options;
  options.on_event = [&](const EventView& view) {
    for (const auto& job : view.jobs) {
      REQUIRE(job.phase != JobPhase::kPartial);
      if (job.phase == JobPhase::kRunning) REQUIRE(job.placed_gpus == job.gpus);
      if (job.phase == JobPhase::kWaiting) REQUIRE(job.placed_pods == 0);
    }
  };
  const auto report = Run(TestType::kName, nodes, jobs, 1, options);
  CHECK(report.summary.unfinished == 0);
  CHECK(report.summary.max_idle_partial_gpus == 0);
}

TEST_CASE("default scheduler spreads, bin-packing packs", "[sim]") {
  // Four one-GPU jobs arrive on an empty rack of four 8-GPU nodes and all run at once.
  const auto nodes = GeneratedCluster(1, 1, 4, 8);
  std::vector<SimJob> jobs;
  for (int i = 0; i < 4; ++i) jobs.push_back(Job("j" + std::to_string(i), 0, 100, 1, 1));
  auto nodes_in_use = [&](const char* policy) {
    std::set<std::size_t> used;
    SimOptions options;
    options.on_event = [&](const EventView& view) {
      if (view.time != 0) return;
      for (std::size_t n = 0; n < view.state.node_count(); ++n) {
        if (view.state.usage(n).used.gpus > 0) used.insert(n);
      }
    };
    Run(policy, nodes, jobs, 1, options);
    return used.size();
  };
  CHECK(nodes_in_use("default-scheduler") == 4);
  CHECK(nodes_in_use("binpack") == 1);
  CHECK(nodes_in_use("gang-binpack") == 1);
}

TEST_CASE("gangsched keeps a gang in one rack when one rack can hold it", "[sim]") {
  // Two racks of two 8-GPU nodes. Two long 4-GPU jobs take 8 GPUs; then a 12-GPU job of three 4-GPU
  // pods arrives. One rack still has 16 free GPUs, so the minimal span is one rack and two nodes.
  // Gang + bin-packing scores node by node without topology and breaks ties at random.
  const auto nodes = GeneratedCluster(1, 2, 2, 8);
  const std::vector<SimJob> jobs = {Job("a", 0, 10'000, 1, 4), Job("b", 1, 10'000, 1, 4),
                                    Job("c", 2, 100, 3, 4)};
  const auto ours = Run("gangsched", nodes, jobs, 1);
  REQUIRE(ours.jobs[2].start == 2);
  CHECK(ours.jobs[2].placement.racks == 1);
  CHECK(ours.jobs[2].placement.nodes == 2);
  CHECK(ours.jobs[2].placement.min_span);
  CHECK(ours.jobs[2].run_time == 110);  // one rack: x1.10
  int theirs_spread = 0;
  for (unsigned seed = 1; seed <= 8; ++seed) {
    const auto theirs = Run("gang-binpack", nodes, jobs, seed);
    CHECK(theirs.jobs[2].placement.racks >= 1);
    theirs_spread += theirs.jobs[2].placement.racks > 1 ? 1 : 0;
  }
  CHECK(theirs_spread > 0);  // without topology some seeds split the gang over both racks
}

TEST_CASE("default scheduler deadlocks on partial gangs and reports the idle GPUs", "[sim]") {
  // 8 GPUs. Two 6-pod jobs arrive together: the interleaved pod queue gives each 4 pods, neither
  // can start, and nothing else will ever free a GPU.
  const auto nodes = GeneratedCluster(1, 1, 2, 4);
  const std::vector<SimJob> jobs = {Job("a", 0, 100, 6, 1), Job("b", 0, 100, 6, 1)};
  const auto stuck = Run("default-scheduler", nodes, jobs, 1);
  CHECK(stuck.summary.unfinished == 2);
  CHECK(stuck.summary.finished == 0);
  CHECK(stuck.summary.max_idle_partial_gpus == 8);
  CHECK(stuck.jobs[0].phase == JobPhase::kPartial);
  CHECK(stuck.jobs[1].phase == JobPhase::kPartial);

  const auto whole = Run("gangsched", nodes, jobs, 1);
  CHECK(whole.summary.finished == 2);
  CHECK(whole.summary.max_idle_partial_gpus == 0);
  CHECK(whole.jobs[1].start == whole.jobs[0].finish);  // b waits for a, whole
}

TEST_CASE("run time grows with span as the communication model says", "[sim]") {
  // A 16-GPU all-reduce job of two 8-GPU pods on a cluster of 8-GPU nodes, one per rack.
  const auto nodes = GeneratedCluster(1, 2, 1, 8);
  const auto report = Run("gangsched", nodes, {Job("big", 0, 1000, 2, 8)}, 1);
  REQUIRE(report.jobs[0].placement.span == SpanClass::kBlock);
  CommModel model;
  CHECK(report.jobs[0].run_time ==
        static_cast<std::int64_t>(1000 * model.all_reduce[static_cast<int>(SpanClass::kBlock)]));
  const auto one_node =
      Run("gangsched", GeneratedCluster(1, 1, 1, 16), {Job("big", 0, 1000, 2, 8)}, 1);
  CHECK(one_node.jobs[0].run_time == 1000);
}

TEST_CASE("a job that cannot fit the empty cluster is rejected, not left waiting", "[sim]") {
  const auto nodes = GeneratedCluster(1, 1, 2, 8);
  const auto report =
      Run("gangsched", nodes, {Job("huge", 0, 10, 3, 8), Job("ok", 0, 10, 1, 8)}, 1);
  CHECK(report.summary.rejected == 1);
  CHECK(report.summary.finished == 1);
  CHECK(report.jobs[0].phase == JobPhase::kRejected);
}

}  // namespace
}  // namespace gangsched::sim
