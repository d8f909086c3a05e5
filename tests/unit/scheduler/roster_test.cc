// The roster rules (DESIGN.md §3.2, issue 11 item 6): a gang is planned only once its quorum of
// pods is known, with roles and requests from those pods (or its roster), never from guesses; a
// member the plan has no slot for re-plans the gang while nothing of it is bound or at bind; and
// the engine's counters of what it did.
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "scheduler/gang_scheduler.h"
#include "tests/support/builders.h"
#include "tests/unit/scheduler/engine_test_support.h"

namespace gangsched::scheduler {
namespace {

using namespace engine_test;  // NOLINT(google-build-using-namespace): the tests' set-up
using testing::MakeCluster;
using testing::MakeNode;

// Issue 11's cluster: under spine s0, rack r0 of 4 x 8-GPU nodes and rack r1 of 2 x 8-GPU nodes;
// under spine s1, rack r2 of 8 x 4-GPU nodes.
std::vector<Node> ThreeRacks() {
  std::vector<Node> nodes;
  for (int i = 0; i < 4; ++i)
    nodes.push_back(MakeNode("r0-n" + std::to_string(i)).Gpus(8).Block("s0").Rack("r0"));
  for (int i = 0; i < 2; ++i)
    nodes.push_back(MakeNode("r1-n" + std::to_string(i)).Gpus(8).Block("s0").Rack("r1"));
  for (int i = 0; i < 8; ++i)
    nodes.push_back(MakeNode("r2-n" + std::to_string(i)).Gpus(4).Block("s1").Rack("r2"));
  return nodes;
}

// Issue 11's gang: 1 PS with no GPU and 4 workers x 8 GPUs, annotated gang "bert" of 5.
Pod BertPod(const std::string& role, int index) {
  Pod p = GangPod("bert", 5, "bert-" + role + "-" + std::to_string(index), role == "ps" ? 0 : 8);
  p.labels["training.kubeflow.org/replica-type"] = role;
  p.labels["training.kubeflow.org/replica-index"] = std::to_string(index);
  return p;
}

// kube-scheduler, reduced to what matters here: every second each pod not narrowed yet is
// filtered again; a narrowed pod's bind is sent and held by the barrier. Returns when the gang is
// bound (the time), or -1 after `limit`.
Millis RetryUntilBound(GangScheduler& engine, const std::vector<Pod>& order, Millis limit) {
  const auto nodes = AllNodes(engine);
  std::map<std::string, std::string> narrowed;  // uid -> node, once its bind is held
  for (Millis t = 0; t <= limit; t += 1000) {
    for (const BarrierDecision& d : engine.Tick(t)) {
      for (const BindOrder& o : d.pods) narrowed.erase(o.pod_uid);  // bind failed: retried
    }
    for (const Pod& p : order) {
      if (narrowed.count(p.uid)) continue;
      const FilterLists a = Filter(engine, p, nodes, t);
      if (a.feasible.size() != 1) continue;
      narrowed[p.uid] = a.feasible.front();
      const BarrierDecision d = engine.Bind(p.namespace_name, p.name, p.uid, a.feasible.front(), t);
      if (d.action == BarrierAction::kReject) {
        narrowed.erase(p.uid);
      } else if (d.action == BarrierAction::kBind) {
        for (const BindOrder& o : d.pods) engine.BindResult(o.pod_uid, true, "", t);
        return t;
      }
    }
  }
  return -1;
}

TEST_CASE("issue 11: a PS and 4 workers bind whole in one rack, whatever order they come in",
          "[engine][issue11]") {
  const std::vector<Pod> workers = {BertPod("worker", 0), BertPod("worker", 1),
                                    BertPod("worker", 2), BertPod("worker", 3)};
  const Pod ps = BertPod("ps", 0);
  std::vector<std::vector<Pod>> orders = {
      {ps, workers[0], workers[1], workers[2], workers[3]},   // PS first
      {workers[0], workers[1], ps, workers[2], workers[3]},   // in the middle
      {workers[0], workers[1], workers[2], workers[3], ps}};  // last
  for (std::size_t k = 0; k < orders.size(); ++k) {
    INFO("order " << k);
    EngineOptions options;
    options.holds.ttl = 3000;  // the issue's --hold-ttl 3s
    auto engine = MakeEngine(ThreeRacks(), options);
    // Until the fifth pod is seen, nothing is planned or held: no role is guessed.
    const auto nodes = AllNodes(engine);
    for (std::size_t i = 0; i + 1 < orders[k].size(); ++i) {
      const FilterLists a = Filter(engine, orders[k][i], nodes, 0);
      CHECK(a.feasible.empty());
      CHECK_THAT(
          a.unresolvable.begin()->second,
          Catch::Contains("waiting for " + std::to_string(4 - i) + " more pods of gang ml/bert (" +
                          std::to_string(i + 1) + " of 5 seen)"));
      CHECK(engine.state().holds().empty());
    }
    const Millis bound = RetryUntilBound(engine, orders[k], 40'000);
    CHECK(bound >= 0);
    CHECK(bound <= 2000);  // the first retry after the last member's filter
    const auto status = engine.GangOf({"ml", "bert"}, bound);
    REQUIRE(status);
    CHECK(status->phase == GangPhase::kBound);
    CHECK(status->members_bound == 5);
    REQUIRE(status->plan);
    std::map<std::string, int> roles;
    std::set<std::string> racks;
    for (const PodPlacement& p : status->plan->pods) {
      ++roles[p.role_name];
      racks.insert(p.node.substr(0, 2));
    }
    CHECK(roles == std::map<std::string, int>{{"ps", 1}, {"worker", 4}});
    CHECK(racks == std::set<std::string>{"r0"});
    CHECK(engine.state().FreeGpus() == 32 + 16 + 32 - 32);  // the PS uses no GPU
  }
}

TEST_CASE("members without role labels asking different GPUs are planned at their own requests",
          "[engine][issue11]") {
  // A plain-pod gang (gangsched.io annotations only): two pods of 8 GPUs and one of none. Planned
  // as three copies of the largest, it would hold 24 GPUs and strand 8.
  auto engine = MakeEngine(MakeCluster(1, 1, 2, 8));
  const auto nodes = AllNodes(engine);
  const Pod a = GangPod("mix", 3, "mix-a", 8);
  const Pod b = GangPod("mix", 3, "mix-b", 8);
  const Pod cpu = GangPod("mix", 3, "mix-cpu", 0);
  Known(engine, {a, b, cpu});
  const std::string n_cpu = Narrowed(Filter(engine, cpu, nodes, 0));
  const std::string n_a = Narrowed(Filter(engine, a, nodes, 0));
  const std::string n_b = Narrowed(Filter(engine, b, nodes, 0));
  CHECK(n_a != n_b);
  CHECK(engine.state().FreeGpus() == 0);  // 16 held for the two GPU pods, none for the CPU pod
  const auto plan = engine.GangOf({"ml", "mix"}, 0)->plan;
  REQUIRE(plan);
  std::multiset<std::int64_t> gpus;
  for (const PodPlacement& p : plan->pods) gpus.insert(p.requests.gpus);
  CHECK(gpus == std::multiset<std::int64_t>{0, 8, 8});
  CHECK(engine.Bind("ml", "mix-a", a.uid, n_a, 1).action == BarrierAction::kWait);
  CHECK(engine.Bind("ml", "mix-b", b.uid, n_b, 1).action == BarrierAction::kWait);
  const auto d = engine.Bind("ml", "mix-cpu", cpu.uid, n_cpu, 2);
  REQUIRE(d.action == BarrierAction::kBind);
  for (const BindOrder& o : d.pods) engine.BindResult(o.pod_uid, true, "", 3);
  CHECK(engine.GangOf({"ml", "mix"}, 3)->phase == GangPhase::kBound);
  CHECK(engine.state().FreeGpus() == 0);
}

TEST_CASE("an 8-GPU member cannot take a 0-GPU slot at the barrier", "[engine][issue11]") {
  BindBarrier barrier;
  Plan plan;
  plan.gang = {"ml", "g"};
  PodPlacement cpu_slot;
  cpu_slot.role_name = "member";
  cpu_slot.node = "n0";
  cpu_slot.requests = {1000, 1LL << 30, 0, 1};
  PodPlacement gpu_slot = cpu_slot;
  gpu_slot.node = "n1";
  gpu_slot.requests.gpus = 8;
  plan.pods = {cpu_slot, gpu_slot};
  barrier.Open(plan, 1000);
  const auto wrong = barrier.Arrive(plan.gang, "u-gpu", "member", "n0", 1, 8);
  CHECK(wrong.action == BarrierAction::kReject);
  CHECK_THAT(wrong.reason, Catch::Contains("it is planned on node n1"));
  CHECK(barrier.Arrive(plan.gang, "u-gpu", "member", "n1", 2, 8).action == BarrierAction::kWait);
  CHECK(barrier.Arrive(plan.gang, "u-cpu", "member", "n0", 3, 0).action == BarrierAction::kBind);
}

TEST_CASE("a member the plan has no slot for re-plans the gang while nothing of it is at bind",
          "[engine][issue11]") {
  auto engine = MakeEngine(MakeCluster(1, 1, 4, 8));
  const auto nodes = AllNodes(engine);
  const Pod p0 = GangPod("re", 2, "re-0", 4);
  const Pod p1 = GangPod("re", 2, "re-1", 4);
  Known(engine, {p0, p1});
  Narrowed(Filter(engine, p0, nodes, 0));
  Narrowed(Filter(engine, p1, nodes, 0));
  CHECK(engine.state().FreeGpus() == 32 - 8);
  // re-1 is deleted and its replacement asks 8 GPUs: no 4-GPU slot fits it. The gang is planned
  // again for what its pods ask now, and the replacement is narrowed.
  engine.RemovePod(p1.uid);
  const Pod bigger = GangPod("re", 2, "re-1b", 8);
  Narrowed(Filter(engine, bigger, nodes, 10));
  CHECK(engine.state().FreeGpus() == 32 - 12);
  CHECK(engine.counters().plans == 2);
  CHECK(engine.counters().replans == 1);
  std::multiset<std::int64_t> gpus;
  const auto replanned = engine.GangOf({"ml", "re"}, 10);
  REQUIRE(replanned->plan);
  for (const PodPlacement& p : replanned->plan->pods) gpus.insert(p.requests.gpus);
  CHECK(gpus == std::multiset<std::int64_t>{4, 8});
  // re-0 is narrowed again (its slot kept or moved) and the gang binds whole.
  const std::string n0 = Narrowed(Filter(engine, p0, nodes, 11));
  const std::string n1 = Narrowed(Filter(engine, bigger, nodes, 11));
  CHECK(engine.Bind("ml", p0.name, p0.uid, n0, 12).action == BarrierAction::kWait);
  const auto d = engine.Bind("ml", bigger.name, bigger.uid, n1, 13);
  REQUIRE(d.action == BarrierAction::kBind);

  SECTION("not once a member waits at bind") {
    auto held = MakeEngine(MakeCluster(1, 1, 4, 8));
    Known(held, {p0, p1});
    const std::string m0 = Narrowed(Filter(held, p0, nodes, 0));
    Narrowed(Filter(held, p1, nodes, 0));
    CHECK(held.Bind("ml", p0.name, p0.uid, m0, 1).action == BarrierAction::kWait);
    held.RemovePod(p1.uid);
    const FilterLists a = Filter(held, bigger, nodes, 2);
    CHECK(a.feasible.empty());
    CHECK_THAT(a.unresolvable.begin()->second, Catch::Contains("slot of its placement is taken"));
    CHECK(held.counters().replans == 0);
    // The barrier cannot complete without it: the hold expires, and the gang is planned anew for
    // the pods it has now.
    const auto expired = held.Tick(120'000);
    REQUIRE(expired.size() == 1);
    CHECK(held.counters().hold_expiries == 1);
  }
}

TEST_CASE("standalone: the first bind after the plan fails once to requeue the parked members",
          "[engine][issue11]") {
  // Members rejected before their gang was planned wait in kube-scheduler's unschedulable queue
  // for a cluster event; a failed binding cycle is one (DESIGN.md §3.7).
  for (const bool standalone : {true, false}) {
    INFO((standalone ? "standalone" : "API mode (the notifier nudges instead)"));
    EngineOptions options;
    options.requeue_by_bind_error = standalone;
    auto engine = MakeEngine(MakeCluster(1, 1, 3, 8), options);
    const auto nodes = AllNodes(engine);
    const Pod p0 = GangPod("q", 3, "q-0", 8);
    const Pod p1 = GangPod("q", 3, "q-1", 8);
    const Pod p2 = GangPod("q", 3, "q-2", 8);
    CHECK(Filter(engine, p0, nodes, 0).feasible.empty());  // parked
    CHECK(Filter(engine, p1, nodes, 1).feasible.empty());  // parked
    const std::string n2 = Narrowed(Filter(engine, p2, nodes, 2));
    const BarrierDecision first = engine.Bind("ml", p2.name, p2.uid, n2, 3);
    if (!standalone) {
      CHECK(first.action == BarrierAction::kWait);
      continue;
    }
    REQUIRE(first.action == BarrierAction::kReject);
    CHECK_THAT(first.reason, Catch::Contains("2 members rejected before the gang was planned"));
    REQUIRE(first.pods.size() == 1);
    CHECK(first.pods[0].pod_name == "q-2");
    // Requeued, every member is narrowed; q-2 keeps its node, and the next binds are held.
    const std::string n0 = Narrowed(Filter(engine, p0, nodes, 4));
    const std::string n1 = Narrowed(Filter(engine, p1, nodes, 4));
    CHECK(Narrowed(Filter(engine, p2, nodes, 5)) == n2);
    CHECK(engine.Bind("ml", p0.name, p0.uid, n0, 6).action == BarrierAction::kWait);
    CHECK(engine.Bind("ml", p2.name, p2.uid, n2, 6).action == BarrierAction::kWait);
    CHECK(engine.Bind("ml", p1.name, p1.uid, n1, 7).action == BarrierAction::kBind);
  }
}

TEST_CASE("a gang found bound below its declared quorum is not reported bound",
          "[engine][issue11]") {
  // After a restart the watch shows 2 members of a gang of 3 bound: the gang is not "Bound".
  auto engine = MakeEngine(MakeCluster(1, 1, 4, 8));
  engine.UpsertPod(Running("q-0", "b0-r0-n0", 8, 0, "q", 3));
  engine.UpsertPod(Running("q-1", "b0-r0-n1", 8, 0, "q", 3));
  const auto status = engine.GangOf({"ml", "q"}, 0);
  REQUIRE(status);
  CHECK(status->quorum == 3);
  CHECK(status->members_bound == 2);
  CHECK(status->phase != GangPhase::kBound);
}

TEST_CASE("the engine counts plans, re-plans and hold expiries", "[engine]") {
  EngineOptions options;
  options.holds.ttl = 1000;
  options.holds.backoff_initial = 1000;
  auto engine = MakeEngine(MakeCluster(1, 1, 2, 8), options);
  const auto nodes = AllNodes(engine);
  const Pod p0 = GangPod("c", 2, "c-0", 8);
  Known(engine, {p0, GangPod("c", 2, "c-1", 8)});
  Narrowed(Filter(engine, p0, nodes, 0));
  CHECK(engine.counters().plans == 1);
  CHECK(engine.counters().replans == 0);
  engine.Tick(1000);
  CHECK(engine.counters().hold_expiries == 1);
  Narrowed(Filter(engine, p0, nodes, 2500));  // after the backoff
  CHECK(engine.counters().plans == 2);
  CHECK(engine.counters().replans == 1);
  CHECK(engine.counters().victim_plans == 0);
  CHECK(engine.counters().drains == 0);
}

}  // namespace
}  // namespace gangsched::scheduler
