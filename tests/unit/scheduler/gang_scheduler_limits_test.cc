// The engine's limits (issue 15): idle gangs are forgotten so memory stays bounded.
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

}  // namespace
}  // namespace gangsched::scheduler
