// Partly bound gangs (DESIGN.md §3.6): a Binding refused after others succeeded leaves the gang
// partly bound; its bound members' capacity is never given away, and its remaining members are
// completed, also when their planned node leaves or their pod is replaced under a new UID. Found
// by the soak (issue 11).
#include <catch2/catch.hpp>
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

struct PartlyBound {
  GangScheduler engine = MakeEngine(MakeCluster(1, 1, 3, 8));
  std::vector<std::string> nodes = AllNodes(engine);
  Pod p0 = GangPod("pb", 2, "pb-0", 8);
  Pod p1 = GangPod("pb", 2, "pb-1", 8);
  std::string n0, n1;

  // pb-0's Binding succeeds, pb-1's is refused.
  PartlyBound() {
    Known(engine, {p0, p1});
    n0 = Narrowed(Filter(engine, p0, nodes, 0));
    n1 = Narrowed(Filter(engine, p1, nodes, 0));
    CHECK(engine.Bind("ml", p0.name, p0.uid, n0, 1).action == BarrierAction::kWait);
    const BarrierDecision d = engine.Bind("ml", p1.name, p1.uid, n1, 2);
    REQUIRE(d.action == BarrierAction::kBind);
    engine.BindResult(p0.uid, true, "", 3);
    engine.BindResult(p1.uid, false, "pods \"pb-1\" not found (UID precondition)", 3);
    REQUIRE(engine.GangOf({"ml", "pb"}, 3)->members_bound == 1);
  }
};

TEST_CASE("a partly bound gang whose planned node leaves keeps its bound member's GPUs",
          "[engine][issue11]") {
  PartlyBound t;
  std::vector<Node> rest;
  for (std::size_t i = 0; i < t.engine.state().node_count(); ++i) {
    if (t.engine.state().node(i).name != t.n1) rest.push_back(t.engine.state().node(i));
  }
  REQUIRE(t.engine.ReplaceNodes(rest).has_value());
  // The hold went with the node; pb-0 still runs on its 8 GPUs, and pb-1 is planned on the node
  // left free, next to pb-0, at the Tick that is due at once, before anything else can take it:
  // 16 GPUs, none free.
  REQUIRE(t.engine.NextDeadline());
  CHECK(*t.engine.NextDeadline() <= 4);
  CHECK(t.engine.Tick(4).empty());
  CHECK(t.engine.state().FreeGpus() == 0);
  const auto status = t.engine.GangOf({"ml", "pb"}, 4);
  REQUIRE(status->plan);
  REQUIRE(status->plan->pods.size() == 1);
  const std::string again = status->plan->pods[0].node;
  CHECK(again != t.n0);
  CHECK(again != t.n1);
  CHECK(Narrowed(Filter(t.engine, t.p1, AllNodes(t.engine), 4)) == again);
  CHECK(t.engine.Bind("ml", t.p1.name, t.p1.uid, again, 5).action == BarrierAction::kBind);
  t.engine.BindResult(t.p1.uid, true, "", 6);
  CHECK(t.engine.GangOf({"ml", "pb"}, 6)->phase == GangPhase::kBound);
  CHECK(t.engine.state().FreeGpus() == 0);
}

TEST_CASE("a planned node that leaves mid-barrier answers the gang's held binds",
          "[engine][issue11]") {
  // Found by the soak: gangsched dropped the hold of a gang whose planned node left, but never
  // answered the bind requests waiting in its barrier. kube-scheduler kept those pods assumed on
  // their nodes until the bind extender's httpTimeout, and the capacity the engine planned for
  // other pods was taken in kube-scheduler's cache.
  GangScheduler engine = MakeEngine(MakeCluster(1, 1, 3, 8));
  const Pod p0 = GangPod("mb", 3, "mb-0", 8);
  const Pod p1 = GangPod("mb", 3, "mb-1", 8);
  const Pod p2 = GangPod("mb", 3, "mb-2", 8);
  Known(engine, {p0, p1, p2});
  const std::vector<std::string> nodes = AllNodes(engine);
  const std::string n0 = Narrowed(Filter(engine, p0, nodes, 0));
  const std::string n1 = Narrowed(Filter(engine, p1, nodes, 0));
  REQUIRE(engine.Bind("ml", p0.name, p0.uid, n0, 1).action == BarrierAction::kWait);
  REQUIRE(engine.Bind("ml", p1.name, p1.uid, n1, 1).action == BarrierAction::kWait);
  std::vector<Node> rest;
  for (std::size_t i = 0; i < engine.state().node_count(); ++i) {
    if (engine.state().node(i).name != n1) rest.push_back(engine.state().node(i));
  }
  REQUIRE(engine.ReplaceNodes(rest).has_value());
  // The answers are owed at once: the timer runs Tick now, and Tick answers both held binds.
  REQUIRE(engine.NextDeadline());
  CHECK(*engine.NextDeadline() <= 2);
  std::set<std::string> rejected;
  for (const BarrierDecision& d : engine.Tick(2)) {
    CHECK(d.action == BarrierAction::kReject);
    for (const auto& order : d.pods) rejected.insert(order.pod_uid);
  }
  CHECK(rejected == std::set<std::string>{p0.uid, p1.uid});
}

TEST_CASE("a gang found partly bound after a restart gets the room before another gang",
          "[engine][issue11]") {
  // Found by the soak: gangsched restarted while one member's Binding was being retried. Its list
  // showed the gang's other member bound and this one pending, and the first filter after the
  // restart, another gang's, took the only room left; the member never found a node again.
  GangScheduler engine = MakeEngine(MakeCluster(1, 1, 2, 8));
  const std::string n0 = engine.state().node(0).name;
  Pod pending = GangPod("pb", 2, "pb-1", 8);
  Known(engine, {Running("pb-0", n0, 8, 0, "pb", 2), pending});
  // The engine's timer is due at once: the partly bound gang is planned there.
  REQUIRE(engine.NextDeadline());
  CHECK(engine.Tick(1).empty());
  const Pod other = GangPod("x", 1, "x-0", 8);
  Known(engine, {other});
  CHECK(Filter(engine, other, AllNodes(engine), 2).feasible.empty());
  CHECK(!Narrowed(Filter(engine, pending, AllNodes(engine), 3)).empty());

  // And without the Tick: another gang's filter plans the partly bound gang first.
  GangScheduler again = MakeEngine(MakeCluster(1, 1, 2, 8));
  Known(again, {Running("pb-0", n0, 8, 0, "pb", 2), pending, other});
  CHECK(Filter(again, other, AllNodes(again), 2).feasible.empty());
  CHECK(!Narrowed(Filter(again, pending, AllNodes(again), 3)).empty());
}

TEST_CASE(
    "a member recreated under a new UID takes its predecessor's slot before its deletion is seen",
    "[engine][issue11]") {
  // The operator replaced pb-1 (its Binding failed with a UID precondition); the new pod is
  // filtered before the watch reports the old one deleted. Names are unique in a namespace, so the
  // old pod is gone and its slot is the new one's.
  PartlyBound t;
  Pod replacement = t.p1;
  replacement.uid = "uid-pb-1-r1";
  CHECK(Narrowed(Filter(t.engine, replacement, t.nodes, 4)) == t.n1);
  const BarrierDecision d = t.engine.Bind("ml", replacement.name, replacement.uid, t.n1, 5);
  REQUIRE(d.action == BarrierAction::kBind);
  t.engine.BindResult(replacement.uid, true, "", 6);
  CHECK(t.engine.GangOf({"ml", "pb"}, 6)->phase == GangPhase::kBound);
  t.engine.RemovePod(t.p1.uid);  // the late deletion changes nothing
  CHECK(t.engine.GangOf({"ml", "pb"}, 7)->phase == GangPhase::kBound);
  CHECK(t.engine.state().FreeGpus() == 8);
}

}  // namespace
}  // namespace gangsched::scheduler

namespace gangsched::scheduler {
namespace {

using namespace engine_test;  // NOLINT(google-build-using-namespace): the tests' set-up
using testing::MakeCluster;

TEST_CASE("a recreated member's predecessor waiting at bind is answered at the next tick",
          "[engine][issue11]") {
  // pb-1 waits in the barrier when it is deleted and recreated; the replacement is filtered before
  // the watch reports the deletion. The old pod's held bind is owed an answer: NextDeadline asks
  // for a tick at once, and Tick answers it. The replacement takes the slot and the gang binds.
  auto engine = MakeEngine(MakeCluster(1, 1, 3, 8));
  const auto nodes = AllNodes(engine);
  const Pod p0 = GangPod("rw", 2, "rw-0", 8);
  const Pod p1 = GangPod("rw", 2, "rw-1", 8);
  Known(engine, {p0, p1});
  const std::string n0 = Narrowed(Filter(engine, p0, nodes, 0));
  const std::string n1 = Narrowed(Filter(engine, p1, nodes, 0));
  CHECK(engine.Bind("ml", p1.name, p1.uid, n1, 1).action == BarrierAction::kWait);
  Pod replacement = p1;
  replacement.uid = "uid-rw-1-r1";
  const std::string again = Narrowed(Filter(engine, replacement, nodes, 5));
  CHECK(engine.NextDeadline() == 5);
  const std::vector<BarrierDecision> owed = engine.Tick(5);
  REQUIRE(owed.size() == 1);
  CHECK(owed[0].action == BarrierAction::kReject);
  REQUIRE(owed[0].pods.size() == 1);
  CHECK(owed[0].pods[0].pod_uid == p1.uid);
  CHECK(engine.NextDeadline() != 5);
  CHECK(engine.Bind("ml", p0.name, p0.uid, n0, 6).action == BarrierAction::kWait);
  CHECK(engine.Bind("ml", replacement.name, replacement.uid, again, 7).action ==
        BarrierAction::kBind);
}

}  // namespace
}  // namespace gangsched::scheduler

namespace gangsched::scheduler {
namespace {

using namespace engine_test;  // NOLINT(google-build-using-namespace): the tests' set-up

TEST_CASE("a partly bound gang's retried member goes straight through to its Binding",
          "[engine][issue11]") {
  // Found by the soak (seed 459): pb-1 is retried after its Binding was refused; the last look
  // before posting found its node over-full and released the partly bound gang. What is bound of
  // a released gang stays bound; kube-scheduler's own filters found room for the retried pod.
  PartlyBound t;
  Pod squatter = Running("squatter", t.n1, 8, 0);
  t.engine.UpsertPod(squatter);
  CHECK(t.engine.Bind("ml", t.p1.name, t.p1.uid, t.n1, 4).action == BarrierAction::kBind);
  CHECK(t.engine.GangOf({"ml", "pb"}, 4)->phase == GangPhase::kBinding);
}

TEST_CASE("the last look before binding does not count victim plans as taking room", "[engine]") {
  // A victim plan holds capacity its victims still use (DESIGN.md §3.9): its node looks over-full
  // until they leave, but no pod took the room of the gang being bound.
  auto state = ClusterState::Create({testing::MakeNode("n0").Gpus(8)});
  REQUIRE(state);
  Pod victim = Running("victim", "n0", 4, 0);
  state->AddPod(victim);
  auto hold = [](const std::string& gang, std::int64_t gpus) {
    Plan plan;
    plan.gang = {"ml", gang};
    PodPlacement p;
    p.role_name = "worker";
    p.node = "n0";
    p.requests = {1000, 1LL << 30, gpus, 1};
    plan.pods = {p};
    return plan;
  };
  state->Hold(hold("binding", 4));
  state->Hold(hold("preemptor", 4));  // evicts the victim for its 4 GPUs
  BarrierDecision d;
  d.action = BarrierAction::kBind;
  d.gang = {"ml", "binding"};
  d.pods = {{"uid-b", "n0", "ml", "b"}};
  CHECK_THAT(RecheckTargets(*state, d), Catch::Contains("no longer has room"));
  CHECK(RecheckTargets(*state, d, [](const GangKey& key) {
          return key == GangKey{"ml", "preemptor"};
        }).empty());
}

}  // namespace
}  // namespace gangsched::scheduler
