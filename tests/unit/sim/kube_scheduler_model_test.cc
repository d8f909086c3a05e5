// The real engine behind the kube-scheduler model (issue 11): what a user would notice — gangs that
// fit are bound whole, in one rack when a rack holds them; the issue's PS-first gang binds within
// seconds; and seeded random workloads keep every invariant (sim/invariants.h) after every event.
#include "sim/kube_scheduler_model.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <set>

#include "sim/cluster_builder.h"
#include "sim/trace.h"

namespace gangsched::sim {
namespace {

scheduler::Node SimNode(const std::string& block, const std::string& rack, int n, int gpus) {
  scheduler::Node node;
  node.name = rack + "-n" + std::to_string(n);
  node.allocatable = {64'000, 512LL << 30, gpus, 110};
  node.labels[kBlockLabel] = block;
  node.labels[kRackLabel] = rack;
  return node;
}

// Issue 11's cluster: under spine s1 rack r1 with 4 x 8-GPU nodes and rack r2 with 2 x 8-GPU
// nodes; under spine s2 rack r3 with 8 x 4-GPU nodes.
std::vector<scheduler::Node> IssueCluster() {
  std::vector<scheduler::Node> nodes;
  for (int i = 0; i < 4; ++i) nodes.push_back(SimNode("s1", "r1", i, 8));
  for (int i = 0; i < 2; ++i) nodes.push_back(SimNode("s1", "r2", i, 8));
  for (int i = 0; i < 8; ++i) nodes.push_back(SimNode("s2", "r3", i, 4));
  return nodes;
}

WorkloadJob Gang(const std::string& id, Millis arrival, std::vector<RoleTemplate> roles) {
  WorkloadJob job;
  job.id = id;
  job.arrival = arrival;
  job.role_delay = 500;
  job.pod_delay = 10;
  job.duration = 600'000;
  job.roles = std::move(roles);
  return job;
}

std::map<std::string, std::string> RackOf(const std::vector<scheduler::Node>& nodes) {
  std::map<std::string, std::string> rack;
  for (const auto& n : nodes) rack[n.name] = n.labels.at(kRackLabel);
  return rack;
}

std::unique_ptr<KubeSchedulerModel> MakeModel(std::vector<scheduler::Node> nodes,
                                              std::vector<WorkloadJob> jobs,
                                              KubeModelOptions options = {}) {
  auto model = KubeSchedulerModel::Create(std::move(nodes), std::move(jobs), std::move(options));
  REQUIRE(model);
  return std::move(*model);
}

// KUBE_MODEL_TRACE=1 prints the run's story, one line per event and engine answer.
void TraceIfAsked(KubeModelOptions& options) {
  if (std::getenv("KUBE_MODEL_TRACE") == nullptr) return;
  options.trace = [](Millis t, const std::string& line) { std::cout << t << " " << line << "\n"; };
}

bool AllBound(const KubeSchedulerModel& model) {
  for (const JobOutcome& job : model.Jobs()) {
    if (job.bound < 0) return false;
  }
  return true;
}

std::string Explain(const JobOutcome& job) {
  std::string out = "job " + job.id + ":";
  for (const PodOutcome& p : job.pods) {
    out += "\n  " + p.name + " node=" + (p.node.empty() ? "-" : p.node) +
           " attempts=" + std::to_string(p.attempts) + " last reason: " + p.last_reason;
  }
  return out;
}

// With the API state source (the model's default). The engine's notifier, which nudges a planned
// gang's parked members (DESIGN.md §3.7), is not modelled yet: members rejected for want of pods
// come back when the gang's first held bind fails at the hold's expiry (a failed binding cycle
// requeues every parked pod), so a gang created role by role is bound within one hold TTL.
TEST_CASE("gangs that fit are bound whole, each in one rack", "[kube-model]") {
  const auto nodes = GeneratedCluster(1, 5, 4, 8);  // 5 racks of 4 x 8 GPUs
  // Two plain pods first, then four gangs of one rack each, created role by role (master first).
  std::vector<WorkloadJob> jobs;
  for (const char* id : {"p0", "p1"}) {
    WorkloadJob plain = Gang(id, 0, {{"", 1, PodRequests(4)}});
    plain.gang = false;
    jobs.push_back(plain);
  }
  jobs.push_back(Gang("a", 100, {{"worker", 4, PodRequests(8)}}));
  jobs.push_back(Gang("b", 200, {{"master", 1, PodRequests(8)}, {"worker", 3, PodRequests(8)}}));
  jobs.push_back(Gang("c", 300, {{"worker", 8, PodRequests(4)}}));
  jobs.push_back(Gang("d", 400, {{"master", 1, PodRequests(4)}, {"worker", 7, PodRequests(4)}}));
  KubeModelOptions options;
  TraceIfAsked(options);
  auto model = MakeModel(nodes, jobs, options);
  const RunResult run = model->RunUntil([&] { return AllBound(*model); }, 600'000);
  INFO(run.violation.value_or(""));
  REQUIRE_FALSE(run.violation);
  const auto rack = RackOf(nodes);
  for (const JobOutcome& job : model->Jobs()) {
    INFO(Explain(job));
    REQUIRE(job.bound >= 0);
    CHECK(job.bound - job.last_created < options.engine.holds.ttl + 5'000);
    std::set<std::string> racks;
    for (const PodOutcome& p : job.pods) racks.insert(rack.at(p.node));
    CHECK(racks.size() == 1);
  }
}

// Issue 11, the scenario a new user tried with `serve --cluster` (standalone): one gang of 1 PS (no
// GPU) and 4 workers x 8 GPUs, created PS first, the hold TTL at 3 s. It used to be planned as five
// copies of the PS, every worker rejected, nothing bound in 120 s. Now the gang waits for its fifth
// pod; the members rejected before that are parked by kube-scheduler, and the first bind after the
// plan fails once so that kube-scheduler requeues them (standalone gangsched cannot nudge).
TEST_CASE("issue 11: a PS-first gang of 1 PS and 4 x 8-GPU workers binds whole in one rack",
          "[kube-model][issue11]") {
  const auto source = StateSource::kStandalone;
  const auto nodes = IssueCluster();
  WorkloadJob bert = Gang("bert", 0, {{"ps", 1, PodRequests(0)}, {"worker", 4, PodRequests(8)}});
  KubeModelOptions options;
  options.source = source;
  options.engine.holds.ttl = 3'000;  // as in the issue's `--hold-ttl 3s`
  TraceIfAsked(options);
  auto model = MakeModel(nodes, {bert}, options);
  const RunResult run = model->RunUntil([&] { return AllBound(*model); }, 120'000);
  INFO(run.violation.value_or(""));
  const JobOutcome job = model->Jobs().front();
  INFO(Explain(job));
  CHECK_FALSE(run.violation);
  REQUIRE(job.bound >= 0);
  CHECK(job.bound - job.last_created < 10'000);
  const auto rack = RackOf(nodes);
  for (const PodOutcome& p : job.pods) CHECK(rack.at(p.node) == "r1");
}

// 120 random jobs arriving every 15 s on average and running 4 minutes on average: a 64-GPU
// cluster is busy and gangs queue.
std::vector<WorkloadJob> BusyWorkload(std::uint64_t seed, int high_priority_percent) {
  RandomWorkloadOptions w;
  w.jobs = 120;
  w.mean_interarrival = 15'000;
  w.mean_duration = 240'000;
  w.high_priority_percent = high_priority_percent;
  return RandomWorkload(seed, w);
}

// Random workloads with every invariant checked after every event. The seeds are fixed so a
// failure names a seed that replays it.
TEST_CASE("random workloads keep every invariant after every event", "[kube-model]") {
  const std::uint64_t seed = std::getenv("KUBE_MODEL_SEED")
                                 ? std::stoull(std::getenv("KUBE_MODEL_SEED"))
                                 : GENERATE(1, 2, 3);
  // No high-priority jobs here (sim/kube_preemption_test.cc has them), and a drain reservation
  // keeps free capacity from gangs that fit it, which the liveness check does not tell apart: off.
  KubeModelOptions options;
  options.engine.drain_after = 0;
  options.seed = seed;
  TraceIfAsked(options);
  auto model = MakeModel(GeneratedCluster(2, 2, 4, 8), BusyWorkload(seed, 0), options);
  const auto start = std::chrono::steady_clock::now();
  const RunResult run = model->Run(6 * 3'600'000, 20'000);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "kube-model seed " << seed << ": " << model->stats().events << " events in "
            << seconds << " s (" << static_cast<std::int64_t>(model->stats().events / seconds)
            << " events/s), " << model->stats().bindings << " bindings, "
            << model->stats().bind_errors << " failed binds, virtual time " << run.end_time / 1000
            << " s\n";
  INFO(run.violation.value_or(""));
  CHECK_FALSE(run.violation);
  CHECK(model->stats().events >= 5'000);
  int bound = 0;
  for (const JobOutcome& job : model->Jobs()) bound += job.bound >= 0 ? 1 : 0;
  CHECK(bound > 0);
}

// The same random workloads with high-priority jobs and drain reservations on: kube-scheduler's
// preemption runs with the extender's preempt verb and victims are evicted, and drains keep free
// capacity for starving gangs, so liveness is not checked; safety is.
TEST_CASE("random workloads with victim plans and drains stay safe", "[kube-model]") {
  const std::uint64_t seed = GENERATE(4, 5);
  KubeModelOptions options;
  options.seed = seed;
  options.invariants.liveness = false;
  auto model = MakeModel(GeneratedCluster(2, 2, 4, 8), BusyWorkload(seed, 10), options);
  const RunResult run = model->Run(6 * 3'600'000, 20'000);
  INFO(run.violation.value_or(""));
  CHECK_FALSE(run.violation);
  CHECK(model->stats().preempt_calls > 0);
  CHECK(model->stats().victims > 0);
}

}  // namespace
}  // namespace gangsched::sim
