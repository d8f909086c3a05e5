// Drain reservations (scheduler/drain.h, DESIGN.md §3.9) through the engine's verbs.
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

// ---- Drain reservations (DESIGN.md §3.9) -------------------------------------------------------

// Two racks of three 8-GPU nodes, full but for 2 GPUs on b0-r1-n2; a gang of two 8-GPU pods (the
// same priority as everything running: nothing to preempt) waits.
GangScheduler StarvingCluster(Millis drain_after, std::int32_t running_priority = 0,
                              int max_drains = 0) {
  EngineOptions options;
  options.drain_after = drain_after;
  options.max_drains = max_drains;
  auto engine = MakeEngine(MakeCluster(1, 2, 3, 8), options);
  for (int r = 0; r < 2; ++r) {
    for (int n = 0; n < 3; ++n) {
      const std::string node = "b0-r" + std::to_string(r) + "-n" + std::to_string(n);
      engine.UpsertPod(Running("p" + std::to_string(r) + std::to_string(n), node,
                               r == 1 && n == 2 ? 6 : 8, running_priority));
    }
  }
  return engine;
}

Pod Small(const std::string& name, int gpus) {
  Pod p = Running(name, "", gpus, 0);
  p.phase = PodPhase::kPending;
  return p;
}

TEST_CASE("a gang that waited past the threshold drains its best domain", "[engine][drain]") {
  auto engine = StarvingCluster(1000);
  const auto nodes = AllNodes(engine);
  const Pod bert = GangPod("bert", 2, "bert-0", 8);
  Known(engine, {GangPod("bert", 2, "bert-1", 8)});
  CHECK(Filter(engine, bert, nodes, 0).feasible.empty());
  CHECK(engine.state().holds().empty());  // not waited long enough
  CHECK(Filter(engine, bert, nodes, 999).feasible.empty());
  CHECK(engine.state().holds().empty());

  // Rack r1 has the most free GPUs: its 2 free GPUs are kept for the gang.
  const FilterLists starving = Filter(engine, bert, nodes, 1000);
  CHECK(starving.feasible.empty());
  CHECK(starving.failed.empty());
  CHECK_THAT(starving.unresolvable.begin()->second,
             Catch::Contains("draining rack b0-r1 for gang ml/bert: 2 of 16 GPUs free"));
  auto status = engine.GangOf({"ml", "bert"}, 1000);
  CHECK(status->phase == GangPhase::kWaiting);
  CHECK_THAT(status->reason,
             Catch::Equals("draining rack b0-r1 for gang ml/bert: 2 of 16 GPUs free"));
  CHECK_FALSE(status->plan);
  CHECK(engine.state().FreeGpus() == 0);

  // Capacity freed in the domain is kept: a smaller pod does not get it.
  engine.RemovePod("uid-p12");
  CHECK_THAT(engine.GangOf({"ml", "bert"}, 1001)->reason, Catch::Contains("8 of 16 GPUs free"));
  CHECK(Filter(engine, Small("small", 2), nodes, 1001).feasible.empty());
  engine.RemovePod("uid-p11");
  CHECK_THAT(engine.GangOf({"ml", "bert"}, 1002)->reason, Catch::Contains("16 of 16 GPUs free"));
  CHECK(Filter(engine, Small("small", 2), nodes, 1002).feasible.empty());
  // Beyond the gang's need the domain is open: a smaller pod fits beside the reservation.
  engine.RemovePod("uid-p10");
  CHECK(Narrowed(Filter(engine, Small("small", 2), nodes, 1003)).rfind("b0-r1-", 0) == 0);

  // The gang is placed in the drained rack; the reservation ends.
  std::set<std::string> placed;
  for (int i = 0; i < 2; ++i) {
    placed.insert(
        Narrowed(Filter(engine, GangPod("bert", 2, "bert-" + std::to_string(i), 8), nodes, 1004)));
  }
  CHECK(placed.size() == 2);
  for (const auto& n : placed) CHECK(n.rfind("b0-r1-", 0) == 0);
  status = engine.GangOf({"ml", "bert"}, 1004);
  CHECK(status->phase == GangPhase::kPlanned);
  CHECK(status->reason.empty());
  REQUIRE(status->plan);
  CHECK(status->plan->pods.size() == 2);
}

TEST_CASE("one drain per domain: the longest-waiting, then the higher-priority gang has it",
          "[engine][drain]") {
  auto engine = StarvingCluster(1000, 1000);  // nothing can be preempted
  const auto nodes = AllNodes(engine);
  const Pod bert = GangPod("bert", 2, "bert-0", 8);
  Known(engine, {GangPod("bert", 2, "bert-1", 8), GangPod("later", 2, "later-1", 8),
                 GangPod("vip", 2, "vip-1", 8)});
  CHECK(Filter(engine, bert, nodes, 0).feasible.empty());
  CHECK(Filter(engine, bert, nodes, 1000).feasible.empty());
  CHECK_THAT(engine.GangOf({"ml", "bert"}, 1000)->reason, Catch::Contains("draining rack b0-r1"));
  // A gang of the same priority that has waited less takes another rack.
  const Pod later = GangPod("later", 2, "later-0", 8);
  CHECK(Filter(engine, later, nodes, 500).feasible.empty());
  CHECK(Filter(engine, later, nodes, 1600).feasible.empty());
  CHECK_THAT(engine.GangOf({"ml", "later"}, 1600)->reason,
             Catch::Equals("draining rack b0-r0 for gang ml/later: 0 of 16 GPUs free"));
  CHECK_THAT(engine.GangOf({"ml", "bert"}, 1600)->reason, Catch::Contains("draining rack b0-r1"));
  // A higher-priority gang outranks both: it takes a rack, and that rack's gang loses its drain.
  Pod vip = GangPod("vip", 2, "vip-0", 8);
  vip.priority = 10;
  CHECK(Filter(engine, vip, nodes, 2000).feasible.empty());
  CHECK(Filter(engine, vip, nodes, 3000).feasible.empty());
  CHECK_THAT(engine.GangOf({"ml", "vip"}, 3000)->reason, Catch::Contains("draining rack b0-r"));
  int lost = 0;
  for (const char* gang : {"bert", "later"}) {
    const std::string reason = engine.GangOf({"ml", gang}, 3000)->reason;
    if (reason.find("its drain reservation went to gang ml/vip") != std::string::npos) ++lost;
  }
  CHECK(lost == 1);
  // Still one reservation per rack.
  std::map<std::string, int> drains;
  for (const GangStatus& g : engine.Gangs(3000)) {
    if (g.reason.rfind("draining rack ", 0) == 0) ++drains[g.reason.substr(14, 5)];
  }
  CHECK(drains == std::map<std::string, int>{{"b0-r0", 1}, {"b0-r1", 1}});
  CHECK(engine.state().FreeGpus() == 0);
}

TEST_CASE("planner.max_drains caps the drains cluster-wide; a stronger gang takes the weakest's",
          "[engine][drain]") {
  // The same three gangs as above, with at most one drain at a time: bert has it; later, which
  // would take the other rack without the cap, waits undrained; vip outranks bert and takes it.
  auto engine = StarvingCluster(1000, 1000, 1);
  const auto nodes = AllNodes(engine);
  const Pod bert = GangPod("bert", 2, "bert-0", 8);
  const Pod later = GangPod("later", 2, "later-0", 8);
  Pod vip = GangPod("vip", 2, "vip-0", 8);
  vip.priority = 10;
  Known(engine, {GangPod("bert", 2, "bert-1", 8), GangPod("later", 2, "later-1", 8),
                 GangPod("vip", 2, "vip-1", 8)});
  CHECK(Filter(engine, bert, nodes, 0).feasible.empty());
  CHECK(Filter(engine, later, nodes, 500).feasible.empty());
  CHECK(Filter(engine, bert, nodes, 1000).feasible.empty());
  CHECK(Filter(engine, later, nodes, 1600).feasible.empty());
  auto draining = [&](Millis now) {
    std::set<std::string> out;
    for (const GangStatus& g : engine.Gangs(now)) {
      if (g.reason.rfind("draining rack ", 0) == 0) out.insert(g.key.name);
    }
    return out;
  };
  CHECK(draining(1600) == std::set<std::string>{"bert"});
  CHECK(Filter(engine, vip, nodes, 2000).feasible.empty());
  CHECK(Filter(engine, vip, nodes, 3000).feasible.empty());
  CHECK(draining(3000) == std::set<std::string>{"vip"});
  CHECK_THAT(engine.GangOf({"ml", "bert"}, 3000)->reason,
             Catch::Contains("its drain reservation went to gang ml/vip"));
  CHECK(engine.counters().drains == 2);
}

TEST_CASE("a drain ends when its gang is deleted", "[engine][drain]") {
  auto engine = StarvingCluster(1, 1000);
  const auto nodes = AllNodes(engine);
  const Pod bert = GangPod("bert", 2, "bert-0", 8);
  Known(engine, {GangPod("bert", 2, "bert-1", 8)});
  Filter(engine, bert, nodes, 0);
  Filter(engine, bert, nodes, 10);
  CHECK(engine.state().holds().size() == 1);
  engine.RemovePod("uid-bert-1");
  CHECK(engine.state().holds().size() == 1);  // a member is left
  engine.RemovePod(bert.uid);
  CHECK(engine.state().holds().empty());
  CHECK(Filter(engine, Small("small", 2), nodes, 11).feasible.size() == 1);
}

}  // namespace
}  // namespace gangsched::scheduler
