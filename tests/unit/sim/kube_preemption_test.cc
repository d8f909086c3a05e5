// kube-scheduler's preemption, Kubeflow job objects and PodGroups in the kube-scheduler model
// (issue 11 item 1): a high-priority gang evicts a whole lower-priority gang through the extender's
// preempt verb and binds on the nodes it was nominated to, while a plain pod's per-pod preemption
// never breaks a running gang; and a Kubeflow job or a coscheduling PodGroup binds whole whether
// gangsched sees its job object or PodGroup before its pods or after them.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <iostream>
#include <set>

#include "sim/cluster_builder.h"
#include "sim/kube_scheduler_model.h"
#include "sim/trace.h"

namespace gangsched::sim {
namespace {

WorkloadJob Job(const std::string& id, Millis arrival, Millis duration, std::int32_t priority,
                std::vector<RoleTemplate> roles) {
  WorkloadJob job;
  job.id = id;
  job.arrival = arrival;
  job.duration = duration;
  job.priority = priority;
  job.role_delay = 200;
  job.pod_delay = 10;
  job.roles = std::move(roles);
  job.tolerations.push_back({kGpuTaintKey, true, "", std::nullopt});
  return job;
}

WorkloadJob Plain(const std::string& id, Millis arrival, Millis duration, std::int32_t priority,
                  std::int64_t gpus) {
  WorkloadJob job = Job(id, arrival, duration, priority, {{"", 1, PodRequests(gpus)}});
  job.gang = false;
  return job;
}

// API mode as shipped: gangsched's notifier nudges parked members when their gang can go.
KubeModelOptions Options() {
  KubeModelOptions options;
  options.engine.drain_after = 0;
  options.nudges = true;
  if (std::getenv("KUBE_MODEL_TRACE") != nullptr) {
    options.trace = [](Millis t, const std::string& line) {
      std::cout << t << " " << line << "\n";
    };
  }
  return options;
}

std::unique_ptr<KubeSchedulerModel> MakeModel(std::vector<scheduler::Node> nodes,
                                              std::vector<WorkloadJob> jobs,
                                              KubeModelOptions options) {
  auto model = KubeSchedulerModel::Create(std::move(nodes), std::move(jobs), std::move(options));
  REQUIRE(model);
  return std::move(*model);
}

const JobOutcome& Find(const std::vector<JobOutcome>& jobs, const std::string& id) {
  for (const JobOutcome& j : jobs) {
    if (j.id == id) return j;
  }
  FAIL("no job " << id);
  return jobs.front();
}

std::string Story(const std::vector<JobOutcome>& jobs) {
  std::string out;
  for (const JobOutcome& job : jobs) {
    out += "job " + job.id + " bound=" + std::to_string(job.bound) +
           " finished=" + std::to_string(job.finished) +
           " preempted=" + std::to_string(job.preempted) + "\n";
    for (const PodOutcome& p : job.pods) {
      out +=
          "  " + p.name + " node=" + (p.node.empty() ? "-" : p.node) + " " + p.last_reason + "\n";
    }
  }
  return out;
}

// Runs the jobs on the nodes until nothing is left to happen (an hour at most), with every
// invariant checked after every event.
struct Ran {
  ModelStats stats;
  std::vector<JobOutcome> jobs;
  const JobOutcome& operator[](const std::string& id) const { return Find(jobs, id); }
};
Ran RunToEnd(const std::vector<scheduler::Node>& nodes, const std::vector<WorkloadJob>& jobs) {
  auto model = MakeModel(nodes, jobs, Options());
  const RunResult run = model->Run(3'600'000);
  Ran ran{model->stats(), model->Jobs()};
  INFO(Story(ran.jobs) << run.violation.value_or(""));
  REQUIRE_FALSE(run.violation);
  return ran;
}

TEST_CASE("a high-priority gang evicts a whole low-priority gang and binds where it was nominated",
          "[kube-model][preemption]") {
  // One rack of 4 x 8 GPUs, filled by two low-priority gangs of 2 x 8 GPUs running 10 minutes
  // (the second a little shorter). A priority-100 gang of 2 x 8 GPUs arrives a minute later and
  // runs 2 minutes.
  const Ran ran = RunToEnd(GeneratedCluster(1, 1, 4, 8),
                           {
                               Job("low-a", 0, 600'000, 0, {{"worker", 2, PodRequests(8)}}),
                               Job("low-b", 5'000, 590'000, 0, {{"worker", 2, PodRequests(8)}}),
                               Job("high", 60'000, 120'000, 100, {{"worker", 2, PodRequests(8)}}),
                           });
  INFO(Story(ran.jobs));
  const JobOutcome& a = ran["low-a"];
  const JobOutcome& b = ran["low-b"];
  const JobOutcome& high = ran["high"];
  // The high-priority gang did not wait for a low one to finish: it preempted one, whole.
  REQUIRE(high.bound >= 0);
  CHECK(high.bound < 75'000);
  CHECK(ran.stats.preempt_calls > 0);
  CHECK(ran.stats.preemptions == 2);  // one per node of the victim gang
  CHECK(ran.stats.victims == 2);
  CHECK(a.preempted + b.preempted >= 1);
  CHECK((a.preempted == 0 || b.preempted == 0));
  // The victim came back whole after the high gang finished and ran the time it had left: its
  // whole run, less the time it had run before it was evicted.
  const JobOutcome& victim = a.preempted > 0 ? a : b;
  const JobOutcome& spared = a.preempted > 0 ? b : a;
  REQUIRE(victim.finished >= 0);
  CHECK(victim.finished > high.finished);
  CHECK(spared.finished - spared.bound == (&spared == &a ? 600'000 : 590'000));
}

TEST_CASE("a high-priority gang never breaks a running gang to make room",
          "[kube-model][preemption]") {
  // The low gang spans all four nodes; the high gang needs two of them. Evicting the low gang's
  // pods on two nodes would leave the rest running below its quorum, and kube-scheduler evicts
  // only on the node it chooses: the engine finds no victim plan, and the high gang waits.
  const Ran ran = RunToEnd(GeneratedCluster(1, 1, 4, 8),
                           {
                               Job("low", 0, 600'000, 0, {{"worker", 4, PodRequests(8)}}),
                               Job("high", 60'000, 120'000, 100, {{"worker", 2, PodRequests(8)}}),
                           });
  INFO(Story(ran.jobs));
  const JobOutcome& low = ran["low"];
  const JobOutcome& high = ran["high"];
  CHECK(ran.stats.preempt_calls > 0);  // kube-scheduler's dry run found candidates
  CHECK(ran.stats.victims == 0);
  CHECK(low.preempted == 0);
  CHECK(low.finished - low.bound == 600'000);
  REQUIRE(high.bound >= 0);
  CHECK(high.bound >= low.finished);
}

TEST_CASE("a plain pod's preemption takes a plain pod, never a member of a running gang",
          "[kube-model][preemption]") {
  // Three 8-GPU nodes: a low-priority plain pod of 8 GPUs and then a low-priority gang of 2 x 8
  // GPUs fill them; then a priority-100 plain pod of 8 GPUs arrives. kube-scheduler's dry run
  // finds a candidate on every node and would pick a gang member's (the latest started victim);
  // the extender's preempt verb drops the two that would break the gang.
  const Ran ran = RunToEnd(GeneratedCluster(1, 1, 3, 8),
                           {
                               Plain("small", 0, 600'000, 0, 8),
                               Job("gang", 1'000, 600'000, 0, {{"worker", 2, PodRequests(8)}}),
                               Plain("urgent", 30'000, 60'000, 100, 8),
                           });
  INFO(Story(ran.jobs));
  const JobOutcome& gang = ran["gang"];
  const JobOutcome& small = ran["small"];
  const JobOutcome& urgent = ran["urgent"];
  CHECK(gang.preempted == 0);
  CHECK(small.preempted == 1);
  REQUIRE(urgent.bound >= 0);
  CHECK(urgent.bound < 40'000);
  CHECK(ran.stats.victims == 1);
  // The gang ran undisturbed.
  CHECK(gang.finished - gang.bound == 600'000);
}

TEST_CASE(
    "a Kubeflow job or PodGroup binds whole whether its object is seen before or after its pods",
    "[kube-model][issue11]") {
  const Millis offset = GENERATE(-2'000, 0, 15'000);
  const bool pod_group = GENERATE(false, true);
  // A PS-first TFJob: its pods carry only the training-operator's labels, so its size is the job
  // object's. One rack of 4 x 8 GPUs and one of 8 x 4 GPUs.
  std::vector<scheduler::Node> nodes = GeneratedCluster(1, 1, 4, 8);
  for (scheduler::Node n : GeneratedCluster(1, 1, 8, 4)) {
    n.name = "b-" + n.name;
    n.labels[kRackLabel] = "b-" + n.labels.at(kRackLabel);
    n.labels[kBlockLabel] = "b-" + n.labels.at(kBlockLabel);
    nodes.push_back(n);
  }
  WorkloadJob tf =
      Job("tf", 1'000, 600'000, 0, {{"ps", 1, PodRequests(0)}, {"worker", 4, PodRequests(8)}});
  tf.kubeflow = !pod_group;
  tf.pod_group = pod_group;
  tf.roster_offset = offset;
  auto model = MakeModel(nodes, {tf}, Options());
  const RunResult run = model->RunUntil([&] { return model->Jobs().front().bound >= 0; }, 300'000);
  const auto out = model->Jobs();
  INFO((pod_group ? "PodGroup" : "TFJob") << " seen at offset " << offset << "\n"
                                          << Story(out) << run.violation.value_or(""));
  REQUIRE_FALSE(run.violation);
  const JobOutcome& job = out.front();
  REQUIRE(job.bound >= 0);
  // Not before the job object says how large the gang is; within seconds of it or of the last pod.
  CHECK(job.bound >= tf.arrival + offset);
  CHECK(job.bound - std::max(job.last_created, tf.arrival + offset) < 15'000);
  std::set<std::string> racks;
  for (const PodOutcome& p : job.pods) racks.insert(p.node.substr(0, 2));
  CHECK(racks.size() == 1);
}

}  // namespace
}  // namespace gangsched::sim
