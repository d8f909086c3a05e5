// `gangsched simulate` on the kube-scheduler model (sim/model_simulation.h): what a user of the
// report would notice. gangsched binds gangs whole and never holds a GPU idle for a partial gang;
// GPUs are conserved in every sample; the per-pod baselines run with no engine at all, pack or
// spread as their scoring says and strand GPUs in partial gangs; a job runs longer when it spans
// racks; the time from a gang's last pod to the gang bound is what a hand count says; and
// gangsched's nudges requeue a planned gang's parked members instead of the 5-minute flush; and
// coscheduling binds a group whole and gives back what its rejected waiting pod had taken.
#include "sim/model_simulation.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <memory>
#include <random>
#include <set>

#include "sim/cluster_builder.h"
#include "tests/unit/sim/sim_test_jobs.h"

namespace gangsched::sim {
namespace {

// A plain one-pod job of `gpus` GPUs created at `arrival` ms, running `duration` s.
WorkloadJob PlainPod(const std::string& id, Millis arrival, int gpus, std::int64_t duration) {
  WorkloadJob w = ToWorkload(Job(id, 0, duration, 1, gpus), 0, 0);
  w.arrival = arrival;
  return w;
}

// The model under a profile of kube-scheduler's own plugins (no engine).
std::unique_ptr<KubeSchedulerModel> ProfileModel(const std::vector<scheduler::Node>& nodes,
                                                 const std::vector<WorkloadJob>& jobs,
                                                 const char* policy) {
  KubeModelOptions options;
  options.profile = MakeKubeProfile(policy);
  REQUIRE(options.profile);
  options.invariants.whole_gangs = options.profile->Groups();
  auto model = KubeSchedulerModel::Create(nodes, jobs, options);
  REQUIRE(model);
  return std::move(*model);
}

Report Run(const std::vector<scheduler::Node>& nodes, const std::vector<SimJob>& jobs,
           const char* policy) {
  auto report = SimulateOnModel(nodes, jobs, policy);
  INFO(policy << ": " << (report ? "" : report.error()));
  REQUIRE(report.has_value());
  return *report;
}

TEST_CASE("on the model, gangsched binds every gang whole and conserves GPUs", "[sim][model]") {
  const auto nodes = GeneratedCluster(2, 2, 2, 8);  // 64 GPUs
  const auto jobs = RandomJobs(3, 60);
  const Report report = Run(nodes, jobs, "gangsched");
  CHECK(report.summary.engine == "kube-scheduler-model");
  CHECK(report.summary.finished == 60);
  CHECK(report.summary.max_idle_partial_gpus == 0);
  for (const Sample& s : report.samples) {
    CHECK(s.allocated_gpus + s.free_gpus == 64);
    CHECK(s.allocated_gpus <= 64);
    CHECK(s.idle_partial_gpus == 0);
  }
  for (const JobRecord& r : report.jobs) {
    REQUIRE(r.bound_ms >= 0);
    CHECK(r.bound_ms >= r.last_created_ms);
    CHECK(r.start * 1000 <= r.bound_ms);
    CHECK(r.finish >= r.start + r.run_time - 1);
  }
  CHECK(report.summary.gangs_bound == 60);
  REQUIRE(report.summary.counters.hold_expiries.has_value());
  REQUIRE(report.summary.counters.nudges.has_value());
  REQUIRE(report.summary.counters.preemptions.has_value());
  CHECK(*report.summary.counters.preemptions == 0);  // every job has priority 0
}

TEST_CASE("on the model, the per-pod baselines strand GPUs in partial gangs", "[sim][model]") {
  // Two 16-GPU gangs of 8-GPU pods at once on 24 GPUs: pod by pod, each gets one node and the
  // third node goes to one of them; the other waits with 8 GPUs bound and idle until the first
  // finishes. gangsched places one gang whole and the other after it.
  const auto nodes = GeneratedCluster(1, 1, 3, 8);
  const std::vector<SimJob> jobs = {Job("a", 0, 1'000, 2, 8), Job("b", 0, 1'000, 2, 8)};
  for (const char* policy : {"binpack", "default-scheduler"}) {
    const Report report = Run(nodes, jobs, policy);
    CHECK(report.summary.max_idle_partial_gpus == 8);
    CHECK(report.summary.finished == 2);
    CHECK(report.summary.counters.notes.front().find("no extender") != std::string::npos);
  }
  CHECK(Run(nodes, jobs, "gangsched").summary.max_idle_partial_gpus == 0);
}

TEST_CASE("the baselines run with no engine, binpack packs and default-scheduler spreads",
          "[sim][model]") {
  const auto nodes = GeneratedCluster(1, 1, 2, 8);
  for (const auto& [policy, same_node] :
       {std::pair{"binpack", true}, std::pair{"default-scheduler", false}}) {
    auto model =
        ProfileModel(nodes, {PlainPod("p1", 0, 2, 1'000), PlainPod("p2", 5'000, 2, 1'000)}, policy);
    CHECK(model->engine() == nullptr);
    model->Run(60'000);
    const auto jobs = model->Jobs();
    REQUIRE(jobs[0].pods[0].node != "");
    REQUIRE(jobs[1].pods[0].node != "");
    INFO(policy);
    CHECK((jobs[0].pods[0].node == jobs[1].pods[0].node) == same_node);
  }
}

TEST_CASE("on the model, a gang's run time and its wait follow the span and a hand count",
          "[sim][model]") {
  // Two 16-GPU gangs of 8-GPU pods on one rack of two 8-GPU nodes: "a" (arrives at 0) spans the
  // rack, so it runs 100 s x 1.10 (all-reduce, one rack) = 110 s; "b" (arrives at 10 s) waits
  // for "a" to finish. Each gang's first worker is created 20 ms before its second, rejected
  // (too few pods of its gang exist) and parked; the second one's filter plans the gang, and the
  // notifier's next look (its loop runs every second) nudges the first. So a's wait, from its
  // last pod (20 ms) to bound, is 980 ms to that look plus the model's latencies (cycles, bind
  // calls, the Bindings' post, the watch: tens of ms); b's is a.bound + 110 s - 10.02 s plus
  // latencies again: about 101 s. Without the span factor it would be about 91 s.
  const auto nodes = GeneratedCluster(1, 1, 2, 8);
  const Report report = Run(nodes, {Job("a", 0, 100, 2, 8), Job("b", 10, 100, 2, 8)}, "gangsched");
  const JobRecord& a = report.jobs[0];
  const JobRecord& b = report.jobs[1];
  CHECK(a.run_time == 110);
  CHECK(a.placement.span == SpanClass::kRack);
  CHECK(a.last_created_ms == 20);
  CHECK(b.last_created_ms == 10'020);
  CHECK(a.bound_ms - a.last_created_ms >= 980);
  CHECK(a.bound_ms - a.last_created_ms < 1'100);
  CHECK(b.bound_ms - b.last_created_ms >= 100'960);
  CHECK(b.bound_ms - b.last_created_ms < 101'200);
  // Nearest rank over two values: p50 is a's wait, p99 b's.
  CHECK(report.summary.p50_gang_bound == Approx((a.bound_ms - a.last_created_ms) / 1e3));
  CHECK(report.summary.p99_gang_bound == Approx((b.bound_ms - b.last_created_ms) / 1e3));
}

TEST_CASE("trace jobs become pods as the training-operator creates them", "[sim][model]") {
  SimJob job;
  job.id = "t";
  job.arrival = 7;
  job.duration = 30;
  job.gang = ShapeGang("t", 20, PodShape::kPacked);  // 2 x 8 GPUs and a 4-GPU tail
  std::reverse(job.gang.roles.begin(), job.gang.roles.end());
  job.gang.roles.front().name = "worker";  // two roles of one name
  scheduler::RoleSpec ps;
  ps.name = "ps";
  ps.replicas = 2;
  job.gang.roles.push_back(ps);
  const WorkloadJob w = ToWorkload(job, 500, 20);
  CHECK(w.arrival == 7'000);
  CHECK(w.duration == 30'000);
  CHECK(w.gang);
  REQUIRE(w.roles.size() == 3);
  CHECK(w.roles[0].name == "ps");
  CHECK(w.roles[1].name == "worker");
  CHECK(w.roles[2].name == "worker-2");
  CHECK(w.roles[1].requests.gpus == 4);
  CHECK(w.roles[2].requests.gpus == 8);
  CHECK(w.roles[2].replicas == 2);
  CHECK(w.role_delay == 500);
  CHECK(w.pod_delay == 20);
}

TEST_CASE("gangsched's nudges requeue a planned gang's parked parameter server", "[sim][model]") {
  // The PS is created first and rejected (too few pods of its gang exist), so it is parked; the
  // workers arrive 500 ms later and the gang is planned. Nothing else happens in the cluster:
  // without a nudge the PS waits for the 5-minute flush, the hold (60 s) expires and the gang is
  // bound only after it; with nudges it is bound within seconds.
  const auto nodes = GeneratedCluster(1, 1, 4, 8);
  SimJob job;
  job.id = "bert";
  job.duration = 600;
  job.gang = ShapeGang("bert", 4, PodShape::kPsWorkers);
  job.gpus = 4;
  const WorkloadJob w = ToWorkload(job, 500, 20);
  REQUIRE(w.roles.front().name == "ps");
  for (const bool nudges : {false, true}) {
    KubeModelOptions options;
    options.nudges = nudges;
    auto model = KubeSchedulerModel::Create(nodes, {w}, options);
    REQUIRE(model);
    (*model)->Run(900'000);
    const JobOutcome o = (*model)->Jobs().front();
    REQUIRE(o.bound >= 0);
    INFO("nudges " << nudges);
    if (nudges) {
      CHECK(o.bound - o.last_created < 5'000);
      CHECK((*model)->stats().nudges >= 1);
    } else {
      CHECK(o.bound - o.last_created > 60'000);
      CHECK((*model)->engine()->counters().hold_expiries >= 1);
    }
  }
}

TEST_CASE("coscheduling on the model binds a group whole and frees what its waiting pod took",
          "[sim][model]") {
  // Two 8-GPU nodes. "a" (one 8-GPU pod) runs from 0 s for 1000 s; "b" (two 8-GPU pods, 10 s)
  // cannot fit beside it; "c" (one 8-GPU pod, 20 s) can. Under coscheduling b's first pod is
  // assumed on the free node and waits at Permit, its second fails, and PostFilter rejects the
  // waiting one: nothing of b is bound before a finishes, and c gets the free node at once.
  // binpack binds b's first pod at once and c waits for a.
  const auto nodes = GeneratedCluster(1, 1, 2, 8);
  const std::vector<WorkloadJob> jobs = {PlainPod("a", 0, 8, 1'000),
                                         ToWorkload(Job("b", 10, 100, 2, 8), 500, 20),
                                         PlainPod("c", 20'000, 8, 1'000)};
  for (const char* policy : {"coscheduling", "binpack"}) {
    auto model = ProfileModel(nodes, jobs, policy);
    const RunResult run = model->Run(5'000'000);
    INFO(policy << " " << run.violation.value_or(""));
    REQUIRE_FALSE(run.violation);
    const auto out = model->Jobs();
    REQUIRE(out[0].finished >= 1'000'000);
    const bool cosched = std::string(policy) == "coscheduling";
    int early = 0;  // pods of b bound while a runs
    for (const PodOutcome& pod : out[1].pods) early += pod.bound < out[0].finished ? 1 : 0;
    CHECK(early == (cosched ? 0 : 1));
    CHECK(out[1].bound >= out[0].finished);
    CHECK((out[2].bound - out[2].last_created < 5'000) == cosched);
  }
}

}  // namespace
}  // namespace gangsched::sim
