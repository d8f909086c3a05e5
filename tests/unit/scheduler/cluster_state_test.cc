#include "scheduler/cluster_state.h"

#include <catch2/catch.hpp>

#include "tests/support/builders.h"

namespace gangsched::scheduler {
namespace {

using testing::MakeCluster;
using testing::MakeNode;

Pod Running(const std::string& uid, const std::string& node, int gpus) {
  Pod p;
  p.uid = uid;
  p.node_name = node;
  p.phase = PodPhase::kRunning;
  p.requests = {500, 1LL << 30, gpus, 1};
  return p;
}

TEST_CASE("node names are found one by one and many at once, and only exact names", "[state]") {
  auto state = ClusterState::Create(MakeCluster(2, 5, 100, 8));  // 1,000 nodes
  REQUIRE(state);
  std::vector<std::string> names;
  for (std::size_t i = 0; i < state->node_count(); ++i) names.push_back(state->node(i).name);
  // Unknown names: a prefix, an extension, another case, empty, one byte off, a long one.
  const std::vector<std::string> unknown = {"b0-r0-n", "b0-r0-n10x", "B0-R0-N1",
                                            "",        "b0-r0-n1 ",  std::string(100, 'b')};
  for (const std::string& u : unknown) CHECK_FALSE(state->FindNode(u).has_value());
  std::vector<std::string> asked = unknown;
  asked.insert(asked.end(), names.rbegin(), names.rend());
  asked.push_back(names[7]);  // twice
  const std::vector<std::int64_t> found = state->FindNodes(asked);
  REQUIRE(found.size() == asked.size());
  for (std::size_t i = 0; i < asked.size(); ++i) {
    const auto one = state->FindNode(asked[i]);
    CHECK(found[i] == (one ? static_cast<std::int64_t>(*one) : -1));
    if (one) CHECK(state->node(*one).name == asked[i]);
  }
  CHECK(found.back() == 7);
  CHECK(state->FindNodes({}).empty());
}

TEST_CASE("running pods take capacity and give it back", "[state]") {
  auto state = ClusterState::Create(MakeCluster(1, 1, 2, 8));
  REQUIRE(state);
  CHECK(state->FreeGpus() == 16);
  CHECK(state->AddPod(Running("a", "b0-r0-n0", 3)));
  CHECK(state->FreeGpus() == 13);
  CHECK(state->Free(*state->FindNode("b0-r0-n0")).gpus == 5);
  CHECK(state->FreeGpuMask(*state->FindNode("b0-r0-n0")) == 0b11111000);
  CHECK(state->AddPod(Running("a", "b0-r0-n0", 3)));  // the same pod again replaces, not adds
  CHECK(state->FreeGpus() == 13);
  CHECK(state->RemovePod("a"));
  CHECK(state->FreeGpus() == 16);
  CHECK_FALSE(state->RemovePod("a"));
}

TEST_CASE("finished pods, pending pods and unknown nodes take nothing", "[state]") {
  auto state = ClusterState::Create(MakeCluster(1, 1, 1, 8));
  REQUIRE(state);
  Pod done = Running("d", "b0-r0-n0", 8);
  done.phase = PodPhase::kSucceeded;
  CHECK_FALSE(state->AddPod(done));
  Pod pending = Running("p", "", 8);
  CHECK_FALSE(state->AddPod(pending));
  CHECK_FALSE(state->AddPod(Running("x", "nowhere", 8)));
  CHECK(state->FreeGpus() == 8);
}

TEST_CASE("annotated GPU ids are kept when free", "[state]") {
  auto state = ClusterState::Create(MakeCluster(1, 1, 1, 8));
  REQUIRE(state);
  Pod p = Running("a", "b0-r0-n0", 2);
  p.gpu_ids = {4, 6};
  CHECK(state->AddPod(p));
  CHECK(state->FreeGpuMask(0) == 0b10101111);
}

TEST_CASE("cordoned nodes offer no GPUs", "[state]") {
  auto state = ClusterState::Create({MakeNode("a").Gpus(8).Cordoned(), MakeNode("b").Gpus(8)});
  REQUIRE(state);
  CHECK(state->FreeGpus() == 8);
}

TEST_CASE("bad inventories are refused with the node named", "[state]") {
  auto dup = ClusterState::Create({MakeNode("a").Gpus(8), MakeNode("a").Gpus(8)});
  REQUIRE_FALSE(dup);
  CHECK_THAT(dup.error(), Catch::Contains("node a appears twice"));
  auto bad = ClusterState::Create(
      {MakeNode("n7").Gpus(2).Annotation(kGpuTopologyAnnotation, "GPU0\tGPU1\nGPU0\t X \tNV1\n")});
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error(), Catch::Contains("node n7"));
}

TEST_CASE("holds reserve capacity until released", "[state]") {
  auto state = ClusterState::Create(MakeCluster(1, 1, 2, 8));
  REQUIRE(state);
  Plan plan;
  plan.gang = {"ml", "a"};
  PodPlacement p;
  p.node = "b0-r0-n1";
  p.gpu_ids = {0, 1, 2, 3};
  p.requests = {1000, 0, 4, 1};
  plan.pods = {p, p};
  plan.pods[1].gpu_ids = {4, 5, 6, 7};
  state->Hold(plan);
  CHECK(state->FreeGpus() == 8);
  CHECK(state->HoldOf(plan.gang) != nullptr);
  state->Hold(plan);  // replacing a hold does not double it
  CHECK(state->FreeGpus() == 8);
  state->Release(plan.gang);
  CHECK(state->FreeGpus() == 16);
  CHECK(state->HoldOf(plan.gang) == nullptr);
}

TEST_CASE("bound pods' priorities say whether anything could be preempted", "[state]") {
  auto state = ClusterState::Create({MakeNode("n1").Gpus(8)});
  REQUIRE(state);
  CHECK_FALSE(state->AnyPodBelow(100));
  Pod low;
  low.uid = "low";
  low.node_name = "n1";
  low.phase = PodPhase::kRunning;
  low.requests = {1000, 0, 2, 1};
  low.priority = 5;
  Pod high = low;
  high.uid = "high";
  high.priority = 500;
  state->AddPod(low);
  state->AddPod(high);
  state->AddPod(low);  // again: counted once
  CHECK(state->AnyPodBelow(6));
  CHECK_FALSE(state->AnyPodBelow(5));
  CHECK(state->PodOf("low")->priority == 5);
  state->RemovePod("low");
  CHECK_FALSE(state->AnyPodBelow(100));
  CHECK(state->AnyPodBelow(501));
}

}  // namespace
}  // namespace gangsched::scheduler
