// The engine's gang-aware preemption (scheduler/gang_preemption.h, DESIGN.md §3.9) through its
// verbs.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <variant>

#include "scheduler/gang_scheduler.h"
#include "tests/support/builders.h"
#include "tests/unit/scheduler/engine_test_support.h"

namespace gangsched::scheduler {
namespace {

using namespace engine_test;  // NOLINT(google-build-using-namespace): the tests' set-up
using testing::MakeCluster;
using testing::MakeNode;

TEST_CASE("preemption never breaks a running gang below its quorum", "[engine]") {
  auto engine = MakeEngine(MakeCluster(1, 1, 3, 8));
  for (int i = 0; i < 2; ++i) {
    Pod p = GangPod("run", 2, "run-" + std::to_string(i), 8);
    p.node_name = "b0-r0-n" + std::to_string(i);
    p.phase = PodPhase::kRunning;
    engine.UpsertPod(p);
  }
  Pod loose;
  loose.uid = "uid-loose";
  loose.name = "loose";
  loose.namespace_name = "ml";
  loose.node_name = "b0-r0-n2";
  loose.phase = PodPhase::kRunning;
  loose.requests = {1000, 0, 8, 1};
  engine.UpsertPod(loose);
  CHECK(engine.GangOf({"ml", "run"}, 0)->phase == GangPhase::kBound);
  const auto kept =
      engine.Preempt(GangPod("vip", 1, "vip", 8),
                     {{"b0-r0-n0", {"uid-run-0"}, 0}, {"b0-r0-n2", {"uid-loose"}, 0}}, 0);
  REQUIRE(kept.size() == 1);
  CHECK(kept[0].node == "b0-r0-n2");
  // A pod outside any gang gets today's answer too, and computes no victim plan.
  Pod lone = GangPod("", 1, "lone", 8);
  lone.annotations.clear();
  lone.priority = 100;
  const auto lone_kept =
      engine.Preempt(lone, {{"b0-r0-n1", {"uid-run-1"}, 0}, {"b0-r0-n2", {"uid-loose"}, 0}}, 0);
  REQUIRE(lone_kept.size() == 1);
  CHECK(lone_kept[0].node == "b0-r0-n2");
  CHECK(engine.state().holds().empty());
}

Pod Urgent(const std::string& gang, int size, int index, int gpus);

TEST_CASE("preemption takes no member of a gang whose Bindings are still in flight",
          "[engine][issue11]") {
  // Found by the soak: one member of gang "binding" is reported bound, the other's Binding is in
  // flight. kube-scheduler's dry run for a plain high-priority pod offers the bound member as a
  // victim; evicting it would leave the other to bind into a broken gang.
  auto engine = MakeEngine(MakeCluster(1, 1, 2, 8));
  const Pod b0 = GangPod("binding", 2, "binding-0", 8);
  const Pod b1 = GangPod("binding", 2, "binding-1", 8);
  Known(engine, {b0, b1});
  const std::string n0 = Narrowed(Filter(engine, b0, AllNodes(engine), 0));
  const std::string n1 = Narrowed(Filter(engine, b1, AllNodes(engine), 0));
  REQUIRE(engine.Bind("ml", b0.name, b0.uid, n0, 1).action == BarrierAction::kWait);
  REQUIRE(engine.Bind("ml", b1.name, b1.uid, n1, 1).action == BarrierAction::kBind);
  engine.BindResult(b0.uid, true, "", 2);
  Pod seen = b0;
  seen.node_name = n0;
  seen.phase = PodPhase::kRunning;
  engine.UpsertPod(seen);
  Pod lone = GangPod("", 1, "lone", 8);
  lone.annotations.clear();
  lone.priority = 100;
  CHECK(engine.Preempt(lone, {{n0, {b0.uid}, 0}}, 3).empty());
  // And no gang-wide victim plan takes it either.
  CHECK(engine.Preempt(Urgent("vip", 2, 0, 8), {{n0, {b0.uid}, 0}}, 3).empty());
}

// ---- Gang-wide victim plans (DESIGN.md §3.9) ----------------------------------------------------

Pod Urgent(const std::string& gang, int size, int index, int gpus) {
  Pod p = GangPod(gang, size, gang + "-" + std::to_string(index), gpus);
  p.priority = 100;
  return p;
}

// Every member of gang `gang` exists (a gang is planned only once its quorum is known).
void KnowGang(GangScheduler& engine, const std::string& gang, int size, int gpus) {
  for (int i = 0; i < size; ++i) engine.UpsertPod(Urgent(gang, size, i, gpus));
}

// The single FailedNodes entry of a filter answer (the pod's node in its gang's victim plan).
std::string Candidate(const FilterLists& a, std::size_t offered) {
  CHECK(a.feasible.empty());
  REQUIRE(a.failed.size() == 1);
  CHECK(a.unresolvable.size() == offered - 1);
  CHECK(a.unresolvable.count(a.failed.begin()->first) == 0);
  return a.failed.begin()->first;
}

// Rack r0: a low-priority gang of two 8-GPU pods. Rack r1: a low-priority lone 8-GPU pod and a
// high-priority one. Every GPU is taken.
GangScheduler FullTwoRacks() {
  auto engine = MakeEngine(MakeCluster(1, 2, 2, 8));
  engine.UpsertPod(Running("old-0", "b0-r0-n0", 8, 0, "old", 2));
  engine.UpsertPod(Running("old-1", "b0-r0-n1", 8, 0, "old", 2));
  engine.UpsertPod(Running("loose", "b0-r1-n0", 8, 0));
  engine.UpsertPod(Running("vip", "b0-r1-n1", 8, 1000));
  return engine;
}

TEST_CASE("a high-priority gang that does not fit gets a victim plan: one candidate per member",
          "[engine][preempt]") {
  auto engine = FullTwoRacks();
  const auto nodes = AllNodes(engine);
  KnowGang(engine, "bert", 2, 8);
  // Two 8-GPU pods: evicting the lone pod alone is not enough and the vip outranks the gang, so
  // the plan takes the whole low-priority gang (rack r0) and leaves the lone pod, which the same
  // placement does not need.
  const FilterLists a0 = Filter(engine, Urgent("bert", 2, 0, 8), nodes, 0);
  const std::string n0 = Candidate(a0, nodes.size());
  CHECK_THAT(a0.failed.at(n0),
             Catch::Contains("gang ml/bert needs this node after preempting 1 lower-priority pod "
                             "(gang ml/old)"));
  const std::string n1 = Candidate(Filter(engine, Urgent("bert", 2, 1, 8), nodes, 1), nodes.size());
  CHECK(std::set<std::string>{n0, n1} == std::set<std::string>{"b0-r0-n0", "b0-r0-n1"});

  const auto status = engine.GangOf({"ml", "bert"}, 2);
  REQUIRE(status);
  CHECK(status->phase == GangPhase::kWaiting);
  CHECK_THAT(status->reason, Catch::Contains("preempts 2 lower-priority pods (gang ml/old)"));
  REQUIRE(status->plan);
  CHECK(status->plan->span_domain == "b0-r0");

  // The preempt verb keeps exactly the member's planned node with the plan's victims there, and
  // drops kube-scheduler's other candidates (the lone pod's node would be its cheapest).
  const std::string old_on_n0 = n0 == "b0-r0-n0" ? "uid-old-0" : "uid-old-1";
  const auto kept = engine.Preempt(Urgent("bert", 2, 0, 8),
                                   {{"b0-r0-n0", {"uid-old-0"}, 0},
                                    {"b0-r0-n1", {"uid-old-1"}, 1},
                                    {"b0-r1-n0", {"uid-loose"}, 0}},
                                   3);
  REQUIRE(kept.size() == 1);
  CHECK(kept[0].node == n0);
  CHECK(kept[0].victim_uids == std::vector<std::string>{old_on_n0});
  // Not in kube-scheduler's list (its dry run samples candidates): answered all the same.
  const auto sampled = engine.Preempt(Urgent("bert", 2, 1, 8), {{"b0-r1-n0", {"uid-loose"}, 0}}, 4);
  REQUIRE(sampled.size() == 1);
  CHECK(sampled[0].node == n1);
}

// Found by the e2e (test_api_gangs.py preempt): once the lone pods a gang preempted had left, a
// member's nominated-node probe (one node) failed to plan the gang inside that node, and the
// victim search then evicted a running gang although the gang fitted in the freed rack.
TEST_CASE("a gang that fits without evicting anything is given no victim plan",
          "[engine][preempt]") {
  auto engine = MakeEngine(MakeCluster(1, 2, 2, 8));  // r0: a low-priority gang; r1: free
  engine.UpsertPod(Running("old-0", "b0-r0-n0", 8, 0, "old", 2));
  engine.UpsertPod(Running("old-1", "b0-r0-n1", 8, 0, "old", 2));
  KnowGang(engine, "bert", 2, 8);
  SECTION("an offer of one full node is not a reason to preempt") {
    const FilterLists a = Filter(engine, Urgent("bert", 2, 0, 8), {"b0-r0-n0"}, 0);
    CHECK(a.feasible.empty());
    CHECK(a.failed.empty());  // no FailedNodes: kube-scheduler must not preempt for it
    CHECK(engine.Preempt(Urgent("bert", 2, 0, 8), {{"b0-r0-n0", {"uid-old-0"}, 0}}, 1).empty());
  }
  SECTION("the nominated-node probe plans the gang on the whole inventory") {
    Pod probe = Urgent("bert", 2, 0, 8);
    probe.nominated_node_name = "b0-r1-n0";
    const FilterLists a = Filter(engine, probe, {"b0-r1-n0"}, 0);
    CHECK(a.failed.empty());
    const auto status = engine.GangOf({"ml", "bert"}, 1);
    REQUIRE(status);
    REQUIRE(status->plan);
    CHECK(status->plan->span_domain == "b0-r1");  // the free rack, not the running gang's
    CHECK(status->phase == GangPhase::kPlanned);
  }
}

TEST_CASE("a victim plan prefers a lone pod to a gang, and never evicts half a gang",
          "[engine][preempt]") {
  SECTION("one lone pod rather than a gang of two") {
    auto engine = MakeEngine(MakeCluster(1, 1, 3, 8));
    engine.UpsertPod(Running("old-0", "b0-r0-n0", 8, 0, "old", 2));
    engine.UpsertPod(Running("old-1", "b0-r0-n1", 8, 0, "old", 2));
    engine.UpsertPod(Running("loose", "b0-r0-n2", 8, 0));
    const auto nodes = AllNodes(engine);
    KnowGang(engine, "small", 2, 4);
    for (int i = 0; i < 2; ++i) {
      const FilterLists a = Filter(engine, Urgent("small", 2, i, 4), nodes, i);
      CHECK(Candidate(a, nodes.size()) == "b0-r0-n2");
      const auto kept = engine.Preempt(Urgent("small", 2, i, 4), {}, i);
      REQUIRE(kept.size() == 1);
      CHECK(kept[0].victim_uids == std::vector<std::string>{"uid-loose"});
    }
  }
  SECTION("lower priority first among equals") {
    auto engine = MakeEngine(MakeCluster(1, 1, 2, 8));
    engine.UpsertPod(Running("low", "b0-r0-n0", 8, 5));
    engine.UpsertPod(Running("lower", "b0-r0-n1", 8, 1));
    const auto nodes = AllNodes(engine);
    KnowGang(engine, "g", 2, 4);
    CHECK(Candidate(Filter(engine, Urgent("g", 2, 0, 4), nodes, 0), nodes.size()) == "b0-r0-n1");
  }
  SECTION("a gang with a member the plan does not need is no victim") {
    // One node's worth of room is needed; evicting the gang would leave its other member
    // running alone, and kube-scheduler evicts only on the node it nominates.
    auto engine = MakeEngine(MakeCluster(1, 1, 2, 8));
    engine.UpsertPod(Running("old-0", "b0-r0-n0", 8, 0, "old", 2));
    engine.UpsertPod(Running("old-1", "b0-r0-n1", 8, 0, "old", 2));
    const auto nodes = AllNodes(engine);
    KnowGang(engine, "one", 2, 4);
    const FilterLists a = Filter(engine, Urgent("one", 2, 0, 4), nodes, 0);
    CHECK(a.failed.empty());
    CHECK(a.unresolvable.size() == nodes.size());
    CHECK(engine.Preempt(Urgent("one", 2, 0, 4), {{"b0-r0-n0", {"uid-old-0"}, 0}}, 1).empty());
    CHECK(engine.state().holds().empty());
  }
  SECTION("nothing of equal or higher priority is evicted") {
    auto engine = MakeEngine(MakeCluster(1, 1, 2, 8));
    engine.UpsertPod(Running("peer", "b0-r0-n0", 8, 100));
    engine.UpsertPod(Running("boss", "b0-r0-n1", 8, 1000));
    const auto nodes = AllNodes(engine);
    KnowGang(engine, "g", 2, 8);
    CHECK(Filter(engine, Urgent("g", 2, 0, 8), nodes, 0).failed.empty());
    CHECK(engine.Preempt(Urgent("g", 2, 0, 8), {{"b0-r0-n0", {"uid-peer"}, 0}}, 0).empty());
  }
}

TEST_CASE("a member whose planned node needs no eviction is no preemption candidate",
          "[engine][preempt]") {
  auto engine = MakeEngine(MakeCluster(1, 1, 2, 8));
  engine.UpsertPod(Running("loose", "b0-r0-n1", 8, 0));
  const auto nodes = AllNodes(engine);
  KnowGang(engine, "bert", 2, 8);
  std::map<std::string, FilterLists> by_node;
  for (int i = 0; i < 2; ++i) {
    const FilterLists a = Filter(engine, Urgent("bert", 2, i, 8), nodes, i);
    CHECK(a.feasible.empty());
    const auto kept = engine.Preempt(Urgent("bert", 2, i, 8), {{"b0-r0-n1", {"uid-loose"}, 0}}, i);
    if (a.failed.empty()) {
      // Its node (n0) is free: reserved for it, never offered to kube-scheduler's preemption
      // (a candidate without victims is an error, reference/extender-protocol.md §2.6).
      CHECK(a.unresolvable.size() == nodes.size());
      CHECK_THAT(a.unresolvable.at("b0-r0-n0"), Catch::Contains("reserved for this pod"));
      CHECK(kept.empty());
      by_node["b0-r0-n0"] = a;
    } else {
      CHECK(Candidate(a, nodes.size()) == "b0-r0-n1");
      REQUIRE(kept.size() == 1);
      CHECK(kept[0].victim_uids == std::vector<std::string>{"uid-loose"});
      by_node["b0-r0-n1"] = a;
    }
  }
  CHECK(by_node.size() == 2);
}

TEST_CASE("a victim plan's reservation keeps freed GPUs for the gang until it is placed there",
          "[engine][preempt]") {
  auto engine = FullTwoRacks();
  const auto nodes = AllNodes(engine);
  KnowGang(engine, "bert", 2, 8);
  const std::string n0 = Candidate(Filter(engine, Urgent("bert", 2, 0, 8), nodes, 0), nodes.size());
  const std::string n1 = Candidate(Filter(engine, Urgent("bert", 2, 1, 8), nodes, 0), nodes.size());
  // kube-scheduler evicts the victims one by one. A smaller pod filtered meanwhile does not get
  // the freed GPUs, nor does a gang of the same priority.
  engine.RemovePod("uid-old-0");
  Pod small = Running("small", "", 2, 0);
  small.phase = PodPhase::kPending;
  CHECK(Filter(engine, small, nodes, 10).feasible.empty());
  CHECK(Filter(engine, Urgent("rival", 1, 0, 8), nodes, 10).feasible.empty());
  // The member whose victim left is still told to wait: the gang is placed whole.
  const FilterLists waiting = Filter(engine, Urgent("bert", 2, 0, 8), nodes, 11);
  CHECK(waiting.feasible.empty());
  engine.RemovePod("uid-old-1");
  // Victims gone: the gang plans normally, onto exactly the reserved nodes.
  CHECK(Narrowed(Filter(engine, Urgent("bert", 2, 0, 8), nodes, 12)) == n0);
  CHECK(Narrowed(Filter(engine, Urgent("bert", 2, 1, 8), nodes, 12)) == n1);
  CHECK(engine.GangOf({"ml", "bert"}, 12)->phase == GangPhase::kPlanned);
  CHECK(engine.Preempt(Urgent("bert", 2, 0, 8), {{"b0-r1-n0", {"uid-loose"}, 0}}, 12).empty());
  CHECK(Filter(engine, small, nodes, 13).feasible.empty());  // still held for bert
}

TEST_CASE("a victim plan's reservation expires like a hold when the victims stay",
          "[engine][preempt]") {
  EngineOptions options;
  options.holds.ttl = 1000;
  options.holds.backoff_initial = 500;
  auto engine = MakeEngine(MakeCluster(1, 1, 2, 8), options);
  engine.UpsertPod(Running("loose", "b0-r0-n1", 8, 0));
  engine.UpsertPod(Running("other", "b0-r0-n0", 4, 0));
  const auto nodes = AllNodes(engine);
  KnowGang(engine, "bert", 2, 8);
  CHECK(Filter(engine, Urgent("bert", 2, 0, 8), nodes, 0).failed.size() == 1);
  CHECK(engine.state().holds().size() == 1);
  CHECK(engine.NextDeadline() == 1000);
  // Members filtered again do not move the deadline: victims that never leave must not pin it.
  Filter(engine, Urgent("bert", 2, 1, 8), nodes, 900);
  CHECK(engine.Tick(1000).empty());  // no held binds to fail
  CHECK(engine.state().holds().empty());
  const auto status = engine.GangOf({"ml", "bert"}, 1000);
  CHECK_THAT(status->reason, Catch::Contains("had not left when its reservation expired"));
  CHECK(status->backoff_until);
  // After the backoff the gang plans its preemption again.
  CHECK(Filter(engine, Urgent("bert", 2, 0, 8), nodes, 2000).failed.size() == 1);
}

}  // namespace
}  // namespace gangsched::scheduler
