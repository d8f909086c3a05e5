// Span waits (scheduler/span_wait.h, EngineOptions::span_wait, DESIGN.md §6 "Span wait") through
// the engine's verbs.
#include "scheduler/span_wait.h"

#include <catch2/catch.hpp>
#include <string>

#include "scheduler/gang_scheduler.h"
#include "tests/support/builders.h"
#include "tests/unit/scheduler/engine_test_support.h"

namespace gangsched::scheduler {
namespace {

using namespace engine_test;  // NOLINT(google-build-using-namespace): the tests' set-up
using testing::MakeCluster;

// One block of two racks of two 8-GPU nodes. Rack r0's nodes have 2 GPUs free each, rack r1 is
// full: a gang of two 2-GPU pods fits only across two nodes of r0, though one node would hold it.
GangScheduler TwoFreePairs(Millis span_wait) {
  EngineOptions options;
  options.span_wait = span_wait;
  auto engine = MakeEngine(MakeCluster(1, 2, 2, 8), options);
  for (int r = 0; r < 2; ++r) {
    for (int n = 0; n < 2; ++n) {
      const std::string name = std::to_string(r) + std::to_string(n);
      engine.UpsertPod(Running("p" + name, "b0-r" + std::to_string(r) + "-n" + std::to_string(n),
                               r == 0 ? 6 : 8, 0));
    }
  }
  return engine;
}

const GangKey kGang{"ml", "pair"};

// The gang's two 2-GPU pods, known to the engine; returns the first.
Pod KnownPair(GangScheduler& engine) {
  const Pod a = GangPod("pair", 2, "pair-0", 2);
  Known(engine, {a, GangPod("pair", 2, "pair-1", 2)});
  return a;
}

TEST_CASE("the narrowest span a gang could have with nothing running", "[engine][span-wait]") {
  auto state = ClusterState::Create(MakeCluster(1, 2, 2, 8));
  REQUIRE(state);
  const auto index = AllocatableIndex(*state);
  auto gang = [](int pods, int gpus) {
    GangSpec spec;
    spec.key = kGang;
    spec.roles.push_back({"worker", pods, pods, {4000, 1LL << 30, gpus, 1}, {}, {}});
    return spec;
  };
  CHECK(NarrowestSpan(*state, index, gang(2, 4)) == 0);  // one node
  CHECK(NarrowestSpan(*state, index, gang(2, 8)) == 1);  // one rack
  CHECK(NarrowestSpan(*state, index, gang(3, 8)) == 2);  // one block
  CHECK(NarrowestSpan(*state, index, gang(5, 8)) == 3);  // more than the cluster: its widest span
  // CPU counts on one node: 64 CPUs each, so 3 pods of 30 CPUs need two nodes.
  GangSpec cpu = gang(3, 1);
  cpu.roles[0].per_pod.milli_cpu = 30'000;
  CHECK(NarrowestSpan(*state, index, cpu) == 1);
}

TEST_CASE("a gang waits for the narrowest span, holding nothing, and takes it when it frees",
          "[engine][span-wait]") {
  auto engine = TwoFreePairs(60'000);
  const auto nodes = AllNodes(engine);
  const Pod a = KnownPair(engine);
  const FilterLists waiting = Filter(engine, a, nodes, 0);
  CHECK(waiting.feasible.empty());
  CHECK_THAT(waiting.unresolvable.begin()->second,
             Catch::Contains("waits up to 60.0s more for one node; the best free now spans one "
                             "rack (b0-r0)"));
  CHECK(engine.state().holds().empty());  // the 4 free GPUs stay free for anyone
  CHECK(engine.NextDeadline() == 60'000);
  // A node frees: the gang goes there, whole, before its wait ends.
  engine.RemovePod("uid-p10");
  CHECK(Narrowed(Filter(engine, a, nodes, 10'000)) == "b0-r1-n0");
  const auto status = engine.GangOf(kGang, 10'000);
  REQUIRE(status->plan);
  CHECK(status->plan->span_level == 0);
  CHECK(engine.NextDeadline() != 60'000);  // no span wait left
}

TEST_CASE("a gang's span wait ends: the next Tick plans it with the best span there is",
          "[engine][span-wait]") {
  auto engine = TwoFreePairs(60'000);
  const auto nodes = AllNodes(engine);
  const Pod a = KnownPair(engine);
  CHECK(Filter(engine, a, nodes, 0).feasible.empty());
  CHECK(Filter(engine, a, nodes, 59'999).feasible.empty());
  CHECK(engine.Tick(59'999).empty());
  CHECK(engine.state().holds().empty());
  engine.Tick(60'000);  // parked members are moved by the plan (the notifier nudges a planned gang)
  const auto status = engine.GangOf(kGang, 60'000);
  CHECK(status->phase == GangPhase::kPlanned);
  REQUIRE(status->plan);
  CHECK(status->plan->span_level == 1);
  CHECK(Narrowed(Filter(engine, a, nodes, 60'001)).rfind("b0-r0-", 0) == 0);
  // It waited once: planned again after its hold expires, it does not wait again.
}

TEST_CASE("without a span wait a gang takes the best span free at once", "[engine][span-wait]") {
  auto engine = TwoFreePairs(0);
  const Pod a = KnownPair(engine);
  CHECK(Narrowed(Filter(engine, a, AllNodes(engine), 0)).rfind("b0-r0-", 0) == 0);
  CHECK(engine.GangOf(kGang, 0)->plan->span_level == 1);
}

}  // namespace
}  // namespace gangsched::scheduler
