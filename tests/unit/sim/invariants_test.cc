// The invariant checker catches what it claims to: an over-committed node, a bind to a node the
// engine did not choose, a gang left partly bound, and a gang that fits but waits past the bound.
#include "sim/invariants.h"

#include <catch2/catch.hpp>

#include "sim/cluster_builder.h"
#include "sim/workload.h"

namespace gangsched::sim {
namespace {

scheduler::Pod PodOf(const std::string& name, int gpus) {
  scheduler::Pod pod;
  pod.namespace_name = "ml";
  pod.name = name;
  pod.requests = PodRequests(gpus);
  return pod;
}

TEST_CASE("the invariant checker names what broke", "[kube-model]") {
  InvariantChecker checker(GeneratedCluster(1, 1, 2, 8), {});  // b0-r0-n0, b0-r0-n1
  checker.AddJob(0, "bert", 2);
  checker.PodCreated(0, 0, PodOf("bert-0", 8), 0);
  checker.PodCreated(1, 0, PodOf("bert-1", 8), 0);
  REQUIRE_FALSE(checker.Check(0));

  SECTION("a bind to a node the engine did not narrow the pod to") {
    checker.BindingPosted(0, "b0-r0-n1", {"b0-r0-n0"}, "b0-r0-n0", 1);
    REQUIRE(checker.Check(1));
    CHECK(*checker.Check(1) ==
          "pod ml/bert-0 is bound to node b0-r0-n1, but the engine's filter narrowed it to "
          "b0-r0-n0");
  }
  SECTION("two 8-GPU pods bound on one 8-GPU node") {
    checker.BindingPosted(0, "b0-r0-n0", {"b0-r0-n0"}, "b0-r0-n0", 1);
    checker.BindingPosted(1, "b0-r0-n0", {"b0-r0-n0"}, "b0-r0-n0", 1);
    REQUIRE(checker.Check(1));
    CHECK(*checker.Check(1) ==
          "node b0-r0-n0 is over-committed after binding pod ml/bert-1: 16 GPUs requested, 8 "
          "allocatable");
  }
  SECTION("half a gang bound past the binding window") {
    checker.BindingPosted(0, "b0-r0-n0", {"b0-r0-n0"}, "b0-r0-n0", 1);
    CHECK_FALSE(checker.Check(1 + kBindingWindow));
    REQUIRE(checker.Check(2 + kBindingWindow));
    CHECK(checker.Check(2 + kBindingWindow)->find("gang bert has been partly bound (1 of 2") == 0);
  }
  SECTION("a gang that fits and is never bound") {
    CHECK_FALSE(checker.Check(kLivenessBound));
    REQUIRE(checker.Check(kLivenessBound + 1));
    CHECK(checker.Check(kLivenessBound + 1)->find("job bert (2 pods, 0 bound) has fit") == 0);
  }
  SECTION("a gang bound whole in time breaks nothing") {
    checker.BindingPosted(0, "b0-r0-n0", {"b0-r0-n0"}, "b0-r0-n0", 1);
    checker.BindingPosted(1, "b0-r0-n1", {"b0-r0-n1"}, "b0-r0-n1", 1);
    CHECK_FALSE(checker.Check(10 * kLivenessBound));
  }
}

}  // namespace
}  // namespace gangsched::sim
