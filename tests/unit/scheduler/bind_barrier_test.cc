#include "scheduler/bind_barrier.h"

#include <catch2/catch.hpp>

namespace gangsched::scheduler {
namespace {

const GangKey kGang{"ml", "job"};

Plan TwoWorkersOnePs() {
  Plan plan;
  plan.gang = kGang;
  PodPlacement w;
  w.role_name = "worker";
  w.node = "n1";
  PodPlacement w2 = w;
  w2.node = "n2";
  w2.index = 1;
  PodPlacement ps;
  ps.role_name = "ps";
  ps.node = "n1";
  plan.pods = {w, w2, ps};
  return plan;
}

// Every member released; u1 (worker, n1) and u3 (ps) bound, u2's Binding (worker, n2) refused
// (e.g. a webhook denied it).
BindBarrier PartlyBound() {
  BindBarrier barrier;
  barrier.Open(TwoWorkersOnePs(), 1000);
  barrier.Arrive(kGang, "u1", "worker", "n1", 0);
  barrier.Arrive(kGang, "u3", "ps", "n1", 0);
  barrier.Arrive(kGang, "u2", "worker", "n2", 0);
  barrier.BindResult(kGang, "u1", true);
  barrier.BindResult(kGang, "u3", true);
  barrier.BindResult(kGang, "u2", false);
  return barrier;
}

TEST_CASE("no member is bound before every quorum member reached bind", "[barrier]") {
  BindBarrier barrier;
  barrier.Open(TwoWorkersOnePs(), 1000);
  CHECK(barrier.Arrive(kGang, "u1", "worker", "n1", 0).action == BarrierAction::kWait);
  CHECK(barrier.Arrive(kGang, "u3", "ps", "n1", 0).action == BarrierAction::kWait);
  CHECK(barrier.Arrived(kGang) == 2);
  // The notifier requeues only the members that have not reached bind.
  CHECK(barrier.ArrivedUids(kGang) == std::vector<std::string>{"u1", "u3"});
  CHECK(barrier.ArrivedUids(GangKey{"ml", "other"}).empty());
  const auto d = barrier.Arrive(kGang, "u2", "worker", "n2", 0);
  REQUIRE(d.action == BarrierAction::kBind);
  CHECK(d.pods.size() == 3);
  for (const auto& uid : {"u1", "u2", "u3"}) barrier.BindResult(kGang, uid, true);
  CHECK(barrier.Complete(kGang));
}

TEST_CASE("on deadline every held bind fails and nothing is bound", "[barrier]") {
  BindBarrier barrier;
  barrier.Open(TwoWorkersOnePs(), 1000);
  barrier.Arrive(kGang, "u1", "worker", "n1", 0);
  barrier.Arrive(kGang, "u3", "ps", "n1", 0);
  CHECK(barrier.Expire(999).empty());
  const auto out = barrier.Expire(1000);
  REQUIRE(out.size() == 1);
  CHECK(out[0].action == BarrierAction::kReject);
  CHECK(out[0].pods.size() == 2);
  CHECK_THAT(out[0].reason, Catch::Contains("only 2 of 3 members"));
  CHECK_FALSE(barrier.IsOpen(kGang));
  CHECK(barrier.Arrive(kGang, "u2", "worker", "n2", 1001).action == BarrierAction::kReject);
}

TEST_CASE("a member on the wrong node is refused with its planned node", "[barrier]") {
  BindBarrier barrier;
  barrier.Open(TwoWorkersOnePs(), 1000);
  const auto d = barrier.Arrive(kGang, "u3", "ps", "n2", 0);
  CHECK(d.action == BarrierAction::kReject);
  CHECK_THAT(d.reason, Catch::Contains("planned on node n1"));
}

TEST_CASE("a retried bind keeps its slot; progress extends the deadline", "[barrier]") {
  BindBarrier barrier;
  barrier.Open(TwoWorkersOnePs(), 1000);
  barrier.Arrive(kGang, "u1", "worker", "n1", 0);
  CHECK(barrier.Arrive(kGang, "u1", "worker", "n1", 10).action == BarrierAction::kWait);
  CHECK(barrier.Arrived(kGang) == 1);
  barrier.Extend(kGang, 5000);
  CHECK(barrier.Expire(2000).empty());
}

TEST_CASE("a failed bind after release is retried first and a replacement takes the slot",
          "[barrier]") {
  BindBarrier barrier = PartlyBound();
  CHECK_FALSE(barrier.Complete(kGang));
  CHECK(barrier.Expire(10'000).empty());  // a released gang never expires: its capacity stays
  const auto d = barrier.Arrive(kGang, "u2-new", "worker", "n2", 10'000);
  CHECK(d.action == BarrierAction::kBind);
  barrier.BindResult(kGang, "u2-new", true);
  CHECK(barrier.Complete(kGang));
}

TEST_CASE("a deleted waiting member frees its slot for a replacement", "[barrier]") {
  BindBarrier barrier;
  barrier.Open(TwoWorkersOnePs(), 1000);
  barrier.Arrive(kGang, "u1", "worker", "n1", 0);
  const auto w = barrier.Withdraw(kGang, "u1");
  REQUIRE(w);
  CHECK(w->pods[0].pod_uid == "u1");
  CHECK(barrier.Arrived(kGang) == 0);
  barrier.Arrive(kGang, "u1b", "worker", "n1", 1);
  barrier.Arrive(kGang, "u3", "ps", "n1", 1);
  CHECK(barrier.Arrive(kGang, "u2", "worker", "n2", 1).action == BarrierAction::kBind);
}

TEST_CASE("a bound member deleted while its gang is partly bound frees its slot for a replacement",
          "[barrier]") {
  // Found by the soak (issue 11): a gang partly bound (one Binding refused) whose bound member is
  // then deleted and recreated must complete with the replacement in that slot, not be declared
  // complete once the refused member binds.
  BindBarrier barrier = PartlyBound();
  CHECK_FALSE(barrier.Withdraw(kGang, "u1"));  // bound: no held bind to answer
  CHECK(barrier.Bound(kGang) == 1);
  CHECK(barrier.Arrive(kGang, "u1-new", "worker", "n1", 10).action == BarrierAction::kBind);
  CHECK(barrier.Arrive(kGang, "u2", "worker", "n2", 11).action == BarrierAction::kBind);
  barrier.BindResult(kGang, "u2", true);
  CHECK_FALSE(barrier.Complete(kGang));  // the replacement's Binding is not done yet
  barrier.BindResult(kGang, "u1-new", true);
  CHECK(barrier.Complete(kGang));
}

TEST_CASE("re-opening after a re-plan keeps members that still match", "[barrier]") {
  BindBarrier barrier;
  barrier.Open(TwoWorkersOnePs(), 1000);
  barrier.Arrive(kGang, "u1", "worker", "n1", 0);
  barrier.Open(TwoWorkersOnePs(), 2000);
  CHECK(barrier.Arrived(kGang) == 1);
  const auto closed = barrier.Close(kGang, "gang deleted");
  REQUIRE(closed);
  CHECK(closed->pods.size() == 1);
}

}  // namespace
}  // namespace gangsched::scheduler
