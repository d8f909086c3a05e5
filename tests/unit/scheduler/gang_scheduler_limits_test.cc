// The engine's limits (issue 15 items 3-5): idle gangs are forgotten so memory stays bounded, a
// UID names one pod, members declaring different sizes cannot flip their gang's quorum, and a
// gang whose requests add up past int64 is never placed.
#include <algorithm>
#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "scheduler/gang_scheduler.h"
#include "tests/support/builders.h"
#include "tests/unit/scheduler/engine_test_support.h"

namespace gangsched::scheduler {
namespace {

using namespace engine_test;  // NOLINT(google-build-using-namespace): the tests' set-up
using testing::MakeCluster;

Pod SinglePod(const std::string& name, int gpus) {
  Pod p;
  p.uid = "uid-" + name;
  p.namespace_name = "default";
  p.name = name;
  p.requests = {1000, 0, gpus, 1};
  return p;
}

std::set<std::string> GangNames(const GangScheduler& engine, Millis now) {
  std::set<std::string> names;
  for (const GangStatus& g : engine.Gangs(now)) names.insert(g.key.ToString());
  return names;
}

TEST_CASE("gangs unseen for forget_after that hold nothing are forgotten", "[engine][issue15]") {
  EngineOptions options;
  options.holds.ttl = 1000;
  options.holds.backoff_initial = 1000;
  options.holds.backoff_max = 1000;
  options.forget_after = 60'000;
  auto engine = MakeEngine(MakeCluster(1, 1, 2, 8), options);
  const auto nodes = AllNodes(engine);
  // A gang of two planned whose hold expires (nobody reaches bind), as in standalone mode where
  // pods are known only from their filter calls.
  const Pod a0 = GangPod("a", 2, "a-0", 8);
  const Pod a1 = GangPod("a", 2, "a-1", 8);
  CHECK(Filter(engine, a0, nodes, 0).feasible.empty());  // waits for a-1
  Narrowed(Filter(engine, a1, nodes, 0));
  // Gangs of one that do not fit: one never seen again, one filtered again later.
  const Pod huge = SinglePod("huge", 16);
  const Pod retried = SinglePod("retried", 16);
  CHECK(Filter(engine, huge, nodes, 0).feasible.empty());
  CHECK(Filter(engine, retried, nodes, 0).feasible.empty());
  // A gang whose pod the API server lists: it exists until its deletion is seen.
  Known(engine, {GangPod("listed", 2, "listed-0", 8)});
  // A gang bound whole (CPU-only pods): its pods hold capacity.
  const Pod b0 = GangPod("b", 2, "b-0", 0);
  const Pod b1 = GangPod("b", 2, "b-1", 0);
  CHECK(Filter(engine, b0, nodes, 0).feasible.empty());
  const std::string nb1 = Narrowed(Filter(engine, b1, nodes, 0));
  const std::string nb0 = Narrowed(Filter(engine, b0, nodes, 0));
  CHECK(engine.Bind("ml", "b-0", b0.uid, nb0, 10).action == BarrierAction::kWait);
  REQUIRE(engine.Bind("ml", "b-1", b1.uid, nb1, 10).action == BarrierAction::kBind);
  engine.BindResult(b0.uid, true, "", 11);
  engine.BindResult(b1.uid, true, "", 11);

  engine.Tick(1000);  // a's hold expires
  const std::set<std::string> all = {"ml/a", "default/huge", "default/retried", "ml/listed",
                                     "ml/b"};
  CHECK(GangNames(engine, 1000) == all);
  CHECK(Filter(engine, retried, nodes, 30'000).feasible.empty());
  engine.Tick(59'000);
  CHECK(GangNames(engine, 59'000) == all);  // not yet
  // The engine asks for the look: the timer wakes for it without any other deadline.
  REQUIRE(engine.NextDeadline());
  CHECK(*engine.NextDeadline() <= 59'000 + 60'000 / 8);
  engine.Tick(*engine.NextDeadline());
  engine.Tick(61'000 + 60'000 / 8);
  CHECK(GangNames(engine, 70'000) == std::set<std::string>{"default/retried", "ml/listed", "ml/b"});
  CHECK(engine.state().holds().empty());
  engine.Tick(91'000 + 60'000 / 8);
  CHECK(GangNames(engine, 100'000) == std::set<std::string>{"ml/listed", "ml/b"});
  // A pod of a forgotten gang filtered again starts a new record and is planned as before.
  CHECK(Filter(engine, a0, nodes, 100'000).feasible.empty());
  Narrowed(Filter(engine, a1, nodes, 100'000));
  CHECK(engine.GangOf({"ml", "a"}, 100'000)->members_seen == 2);
}

TEST_CASE("forgetting is off by default and never drops a planned gang", "[engine][issue15]") {
  EngineOptions options;
  options.holds.ttl = 600'000;
  auto engine = MakeEngine(MakeCluster(1, 1, 2, 8), options);
  const auto nodes = AllNodes(engine);
  CHECK(Filter(engine, SinglePod("huge", 16), nodes, 0).feasible.empty());
  engine.Tick(10'000'000);
  CHECK(engine.Gangs(10'000'000).size() == 1);

  options.forget_after = 1000;
  auto forgetting = MakeEngine(MakeCluster(1, 1, 2, 8), options);
  const Pod a0 = GangPod("a", 2, "a-0", 8);
  const Pod a1 = GangPod("a", 2, "a-1", 8);
  CHECK(Filter(forgetting, a0, nodes, 0).feasible.empty());
  Narrowed(Filter(forgetting, a1, nodes, 0));
  forgetting.Tick(500'000);  // the hold runs to 600,000: kept, and so is its capacity
  CHECK(GangNames(forgetting, 500'000) == std::set<std::string>{"ml/a"});
  CHECK(forgetting.state().FreeGpus() == 0);
}

TEST_CASE("a second pod under a known UID is refused, naming both pods", "[engine][issue15]") {
  auto engine = MakeEngine(MakeCluster(1, 1, 2, 8));
  const auto nodes = AllNodes(engine);
  const Pod first = SinglePod("first", 8);
  Pod second = SinglePod("second", 8);
  second.uid = first.uid;
  const std::string node = Narrowed(Filter(engine, first, nodes, 0));
  const FilterLists refused = Filter(engine, second, nodes, 1);
  CHECK(refused.feasible.empty());
  REQUIRE_FALSE(refused.unresolvable.empty());
  const std::string& why = refused.unresolvable.begin()->second;
  CHECK_THAT(why, Catch::Contains("default/second") && Catch::Contains("default/first") &&
                      Catch::Contains(first.uid));
  // The second pod's bind does not reach the first one's barrier...
  const BarrierDecision crossed = engine.Bind("default", "second", first.uid, node, 2);
  CHECK(crossed.action == BarrierAction::kReject);
  CHECK_THAT(crossed.reason, Catch::Contains("default/first"));
  // ...and the first pod still binds where it was planned.
  const BarrierDecision bound = engine.Bind("default", "first", first.uid, node, 3);
  REQUIRE(bound.action == BarrierAction::kBind);
  CHECK(bound.pods.at(0).node == node);
  engine.BindResult(first.uid, true, "", 4);
  // Bound, the first pod still owns its UID.
  CHECK(Filter(engine, second, nodes, 5).feasible.empty());
}

TEST_CASE("members declaring different sizes do not flip the gang's quorum", "[engine][issue15]") {
  auto engine = MakeEngine(MakeCluster(1, 1, 4, 8));
  const auto nodes = AllNodes(engine);
  const Pod m0 = GangPod("g", 3, "g-0", 8);
  const Pod m1 = GangPod("g", 2, "g-1", 8);  // declares 2: the gang keeps the 3 declared first
  const Pod m2 = GangPod("g", 3, "g-2", 8);
  CHECK(Filter(engine, m0, nodes, 0).feasible.empty());
  const FilterLists waits = Filter(engine, m1, nodes, 1);
  CHECK(waits.feasible.empty());
  REQUIRE_FALSE(waits.unresolvable.empty());
  CHECK_THAT(waits.unresolvable.begin()->second, Catch::Contains("1 more pods"));
  auto status = engine.GangOf({"ml", "g"}, 1);
  REQUIRE(status);
  CHECK(status->quorum == 3);
  CHECK_THAT(status->reason,
             Catch::Contains("ml/g-1 declares min-members 2") && Catch::Contains("keeps size 3"));
  // Filtered again in any order, the quorum stays 3, and the gang binds only with three members.
  CHECK(Filter(engine, m0, nodes, 2).feasible.empty());
  CHECK(Filter(engine, m1, nodes, 3).feasible.empty());
  CHECK(engine.GangOf({"ml", "g"}, 3)->quorum == 3);
  const std::string n2 = Narrowed(Filter(engine, m2, nodes, 4));
  const std::string n0 = Narrowed(Filter(engine, m0, nodes, 5));
  const std::string n1 = Narrowed(Filter(engine, m1, nodes, 6));
  CHECK(engine.Bind("ml", "g-0", m0.uid, n0, 7).action == BarrierAction::kWait);
  CHECK(engine.Bind("ml", "g-1", m1.uid, n1, 7).action == BarrierAction::kWait);
  const BarrierDecision all = engine.Bind("ml", "g-2", m2.uid, n2, 8);
  REQUIRE(all.action == BarrierAction::kBind);
  CHECK(all.pods.size() == 3);
  for (const Pod& p : {m0, m1, m2}) engine.BindResult(p.uid, true, "", 9);
  status = engine.GangOf({"ml", "g"}, 9);
  CHECK(status->phase == GangPhase::kBound);
  CHECK(status->members_bound == 3);
  CHECK(status->quorum == 3);
}

TEST_CASE("a size every member declares anew is taken while the gang waits", "[engine][issue15]") {
  // A PodGroup's minMember edited: the state source gives every member the new size.
  auto engine = MakeEngine(MakeCluster(1, 1, 4, 8));
  const auto nodes = AllNodes(engine);
  CHECK(Filter(engine, GangPod("g", 3, "g-0", 8), nodes, 0).feasible.empty());
  CHECK(Filter(engine, GangPod("g", 3, "g-1", 8), nodes, 1).feasible.empty());
  CHECK(Filter(engine, GangPod("g", 2, "g-0", 8), nodes, 2).feasible.empty());
  CHECK(engine.GangOf({"ml", "g"}, 2)->quorum == 3);  // g-1 still declares 3
  Narrowed(Filter(engine, GangPod("g", 2, "g-1", 8), nodes, 3));
  const auto status = engine.GangOf({"ml", "g"}, 3);
  CHECK(status->quorum == 2);
  CHECK(status->reason.find("declares min-members") == std::string::npos);
}

TEST_CASE("a gang whose pods' requests add up past int64 is never placed", "[engine][issue15]") {
  // Each pod's own sum is checked when it is decoded; two pods of 2^62 GPUs pass that check, and
  // their gang's sum wrapped to a negative number.
  auto engine = MakeEngine(MakeCluster(1, 1, 2, 8));
  const auto nodes = AllNodes(engine);
  Pod a = GangPod("big", 2, "big-0", 0);
  Pod b = GangPod("big", 2, "big-1", 0);
  a.requests.gpus = b.requests.gpus = std::int64_t{1} << 62;
  CHECK(Filter(engine, a, nodes, 0).feasible.empty());
  const FilterLists refused = Filter(engine, b, nodes, 1);
  CHECK(refused.feasible.empty());
  REQUIRE_FALSE(refused.unresolvable.empty());
  CHECK_THAT(refused.unresolvable.begin()->second, Catch::Contains("gang ml/big") &&
                                                       Catch::Contains("nvidia.com/gpu") &&
                                                       Catch::Contains("2^63-1"));
  CHECK(engine.state().holds().empty());
}

}  // namespace
}  // namespace gangsched::scheduler
