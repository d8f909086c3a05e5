#include "scheduler/planner.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <set>
#include <sstream>

#include "tests/support/builders.h"

namespace gangsched::scheduler {
namespace {

using testing::MakeCluster;
using testing::MakeGang;
using testing::MakeNode;

ClusterState MakeState(std::vector<Node> nodes) {
  auto state = ClusterState::Create(std::move(nodes));
  REQUIRE(state.has_value());
  return std::move(*state);
}

Plan MustPlan(const ClusterState& state, const GangSpec& gang) {
  PlanResult r = Planner{}.PlanGang(state, gang);
  if (const auto* u = std::get_if<Unplaceable>(&r)) FAIL("unexpected: " << u->reason);
  return std::get<Plan>(r);
}

std::set<std::string> NodesOf(const Plan& plan) {
  std::set<std::string> nodes;
  for (const auto& p : plan.pods) nodes.insert(p.node);
  return nodes;
}

std::set<std::string> RacksOf(const Plan& plan) {
  std::set<std::string> racks;
  for (const auto& p : plan.pods) racks.insert(p.domains.back());
  return racks;
}

// Takes `gpus` GPUs on `node` with a running pod.
void Occupy(ClusterState& state, const std::string& node, int gpus, std::vector<int> ids = {}) {
  static int counter = 0;
  Pod pod;
  pod.uid = "busy-" + std::to_string(++counter);
  pod.node_name = node;
  pod.phase = PodPhase::kRunning;
  pod.requests = {1000, 1LL << 30, gpus, 1};
  pod.gpu_ids = std::move(ids);
  REQUIRE(state.AddPod(pod));
}

TEST_CASE("a gang that fits in one node lands on one node", "[planner]") {
  auto state = MakeState(MakeCluster(1, 2, 4, 8));
  Occupy(state, "b0-r0-n0", 2);  // partly used nodes must not attract a gang that fits whole
  const Plan plan = MustPlan(state, MakeGang("ml", "small").Role("worker", 3, 2));
  CHECK(NodesOf(plan).size() == 1);
  CHECK(plan.span_level == 0);
  CHECK(plan.pods.size() == 3);
  // Best fit: the 6 free GPUs of the partly used node take it, whole nodes stay whole.
  CHECK(*NodesOf(plan).begin() == "b0-r0-n0");
}

TEST_CASE("a gang that fits in a rack lands in one rack, on the fewest nodes", "[planner]") {
  auto state = MakeState(MakeCluster(2, 4, 4, 8));
  const Plan plan = MustPlan(state, MakeGang("ml", "bert").Role("worker", 4, 8));
  CHECK(RacksOf(plan).size() == 1);
  CHECK(NodesOf(plan).size() == 4);
  CHECK(plan.span_level == 1);
}

TEST_CASE("a gang bigger than a rack stays in one block and fills whole racks", "[planner]") {
  auto state = MakeState(MakeCluster(2, 4, 4, 8));
  const Plan plan = MustPlan(state, MakeGang("ml", "big").Role("worker", 6, 8));
  std::set<std::string> blocks;
  for (const auto& p : plan.pods) blocks.insert(p.domains.front());
  CHECK(blocks.size() == 1);
  CHECK(RacksOf(plan).size() == 2);  // 4 + 2 nodes, not spread over more racks
  CHECK(plan.nodes_used == 6);
}

TEST_CASE("parameter servers sit in the same rack as their workers", "[planner]") {
  auto state = MakeState(MakeCluster(1, 4, 4, 8));
  const GangSpec gang = MakeGang("ml", "ps-job").Role("ps", 2, 0, 4000).Role("worker", 8, 4);
  const Plan plan = MustPlan(state, gang);
  CHECK(RacksOf(plan).size() == 1);
  std::set<std::string> worker_nodes;
  for (const auto& p : plan.pods) {
    if (p.role_name == "worker") worker_nodes.insert(p.node);
  }
  for (const auto& p : plan.pods) {
    if (p.role_name == "ps") CHECK(worker_nodes.count(p.node) == 1);  // co-located with workers
  }
}

TEST_CASE("best fit keeps whole nodes free for the next 8-GPU job", "[planner]") {
  auto state = MakeState(MakeCluster(1, 1, 4, 8));
  Occupy(state, "b0-r0-n1", 4);
  Occupy(state, "b0-r0-n3", 6);
  // Four 1-GPU pods one after another: they go to the partly used nodes.
  for (int i = 0; i < 4; ++i) {
    const Plan plan =
        MustPlan(state, MakeGang("ml", "single-" + std::to_string(i)).Role("w", 1, 1));
    CHECK((plan.pods[0].node == "b0-r0-n1" || plan.pods[0].node == "b0-r0-n3"));
    state.Hold(plan);
  }
  // Two whole nodes remain for two 8-GPU jobs.
  const Plan big = MustPlan(state, MakeGang("ml", "big").Role("w", 2, 8));
  CHECK(NodesOf(big) == std::set<std::string>{"b0-r0-n0", "b0-r0-n2"});
}

TEST_CASE("held capacity is never given to another gang", "[planner]") {
  auto state = MakeState(MakeCluster(1, 2, 2, 8));
  const Plan first = MustPlan(state, MakeGang("ml", "a").Role("worker", 2, 8));
  state.Hold(first);
  const Plan second = MustPlan(state, MakeGang("ml", "b").Role("worker", 2, 8));
  std::set<std::string> overlap;
  for (const auto& n : NodesOf(first)) {
    if (NodesOf(second).count(n)) overlap.insert(n);
  }
  CHECK(overlap.empty());
  state.Hold(second);
  const PlanResult third = Planner{}.PlanGang(state, MakeGang("ml", "c").Role("worker", 1, 8));
  REQUIRE(std::holds_alternative<Unplaceable>(third));
}

TEST_CASE("a re-plan may reuse the gang's own hold", "[planner]") {
  auto state = MakeState(MakeCluster(1, 1, 2, 8));
  const GangSpec gang = MakeGang("ml", "a").Role("worker", 2, 8);
  const Plan first = MustPlan(state, gang);
  state.Hold(first);
  const Plan again = MustPlan(state, gang);
  CHECK(NodesOf(again) == NodesOf(first));
}

TEST_CASE("a gang that does not fit gets one gang-level reason", "[planner]") {
  auto state = MakeState(MakeCluster(1, 2, 2, 8));
  Occupy(state, "b0-r0-n0", 5);
  const PlanResult r = Planner{}.PlanGang(state, MakeGang("ml", "bert").Role("worker", 4, 8));
  REQUIRE(std::holds_alternative<Unplaceable>(r));
  const auto& why = std::get<Unplaceable>(r);
  CHECK_FALSE(why.never);
  CHECK_THAT(why.reason, Catch::Contains("gang ml/bert"));
  CHECK_THAT(why.reason, Catch::Contains("4 worker pods × 8 GPUs = 32 GPUs"));
  CHECK_THAT(why.reason, Catch::Contains("27 free GPUs"));
}

TEST_CASE("the reason names the gangs that hold capacity the gang cannot use", "[planner]") {
  auto state = MakeState(MakeCluster(1, 2, 2, 8));  // 4 nodes x 8 GPUs
  state.Hold(MustPlan(state, MakeGang("ml", "gpt").Role("worker", 2, 8)));
  state.Hold(MustPlan(state, MakeGang("cv", "resnet").Role("worker", 1, 4)));
  const PlanResult r = Planner{}.PlanGang(state, MakeGang("ml", "bert").Role("worker", 2, 8));
  REQUIRE(std::holds_alternative<Unplaceable>(r));
  const std::string& why = std::get<Unplaceable>(r).reason;
  CHECK_THAT(why, Catch::Contains("20 GPUs are held for other gangs: ml/gpt (16), cv/resnet (4)"));
  // Its own hold does not count against it.
  auto alone = MakeState(MakeCluster(1, 1, 1, 8));
  alone.Hold(MustPlan(alone, MakeGang("ml", "bert").Role("worker", 1, 8)));
  const PlanResult own = Planner{}.PlanGang(alone, MakeGang("ml", "bert").Role("worker", 2, 8));
  REQUIRE(std::holds_alternative<Unplaceable>(own));
  CHECK_THAT(std::get<Unplaceable>(own).reason, !Catch::Contains("held for other gangs"));
}

TEST_CASE("a pod bigger than every node is reported as never fitting", "[planner]") {
  auto state = MakeState(MakeCluster(1, 1, 2, 8));
  const PlanResult r = Planner{}.PlanGang(state, MakeGang("ml", "huge").Role("worker", 1, 16));
  REQUIRE(std::holds_alternative<Unplaceable>(r));
  CHECK(std::get<Unplaceable>(r).never);
  CHECK_THAT(std::get<Unplaceable>(r).reason, Catch::Contains("largest node it may use has 8"));
}

TEST_CASE("taints, selectors and cordons are honoured", "[planner]") {
  std::vector<Node> nodes = {
      MakeNode("tainted").Gpus(8).Rack("r").Taint("gangsched.io/gpu", "true"),
      MakeNode("cordoned").Gpus(8).Rack("r").Cordoned(),
      MakeNode("other").Gpus(8).Rack("r").Label("pool", "b"),
      MakeNode("ok").Gpus(8).Rack("r").Label("pool", "a")};
  auto state = MakeState(nodes);
  CHECK(MustPlan(state, MakeGang("ml", "x").Role("w", 1, 8).Selector("pool", "a")).pods[0].node ==
        "ok");
  const Plan tolerating =
      MustPlan(state, MakeGang("ml", "y").Role("w", 2, 8).Tolerate("gangsched.io/gpu"));
  CHECK(NodesOf(tolerating).count("cordoned") == 0);
  const PlanResult r = Planner{}.PlanGang(state, MakeGang("ml", "z").Role("w", 4, 8));
  CHECK(std::holds_alternative<Unplaceable>(r));  // without the toleration only 2 nodes are usable
}

TEST_CASE("CPU and memory limits move pods to other nodes", "[planner]") {
  std::vector<Node> nodes = {MakeNode("small-cpu").Gpus(8).Cpu(2000).Rack("r"),
                             MakeNode("big-cpu").Gpus(8).Cpu(64000).Rack("r")};
  auto state = MakeState(nodes);
  const Plan plan = MustPlan(state, MakeGang("ml", "x").Role("w", 2, 2, 8000));
  CHECK(NodesOf(plan) == std::set<std::string>{"big-cpu"});
}

TEST_CASE("a role mask from kube-scheduler's filters narrows the plan", "[planner]") {
  auto state = MakeState(MakeCluster(1, 1, 4, 8));
  PlannerOptions options;
  options.role_node_mask = {{false, false, true, true}};
  const PlanResult r = Planner{options}.PlanGang(state, MakeGang("ml", "m").Role("w", 2, 8));
  REQUIRE(std::holds_alternative<Plan>(r));
  CHECK(NodesOf(std::get<Plan>(r)) == std::set<std::string>{"b0-r0-n2", "b0-r0-n3"});
}

TEST_CASE("GPU ids are distinct per node and match the request", "[planner]") {
  auto state = MakeState(MakeCluster(1, 1, 2, 8));
  Occupy(state, "b0-r0-n0", 3, {0, 1, 2});
  const Plan plan = MustPlan(state, MakeGang("ml", "g").Role("w", 2, 2));
  std::set<int> ids;
  for (const auto& p : plan.pods) {
    CHECK(p.gpu_ids.size() == 2);
    for (int g : p.gpu_ids) CHECK(ids.insert(g).second);
    for (int g : p.gpu_ids) CHECK(g >= 3);
  }
}

std::string ReadShared(const std::string& rel) {
  std::ifstream in(std::string(GANGSCHED_SHARED_DIR) + "/" + rel);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST_CASE("on a DGX A100 with GPUs 1 and 2 taken a 2-GPU pod gets a PCIe-switch pair",
          "[planner]") {
  const std::string matrix = ReadShared("data/topology/dgx_a100_topo_m.tsv");
  REQUIRE_FALSE(matrix.empty());
  auto state = MakeState({MakeNode("dgx").Gpus(8).Annotation(kGpuTopologyAnnotation, matrix)});
  Occupy(state, "dgx", 2, {1, 2});
  const Plan plan = MustPlan(state, MakeGang("ml", "pair").Role("w", 1, 2));
  const auto ids = plan.pods[0].gpu_ids;
  CHECK((ids == std::vector<int>{4, 5} || ids == std::vector<int>{6, 7}));
}

TEST_CASE("an NVLink node beats a PCIe-only node for a 4-GPU pod", "[planner]") {
  const std::string nv = ReadShared("data/topology/hgx_h100_topo_m_gpu_rows.tsv");
  auto state =
      MakeState({MakeNode("pcie").Gpus(8).Rack("r"),
                 MakeNode("nvlink").Gpus(8).Rack("r").Annotation(kGpuTopologyAnnotation, nv)});
  Occupy(state, "pcie", 4);  // best fit alone would pick the PCIe node
  const Plan plan = MustPlan(state, MakeGang("ml", "four").Role("w", 1, 4));
  CHECK(plan.pods[0].node == "nvlink");
  CHECK(plan.pods[0].gpu_ids == std::vector<int>{0, 1, 2, 3});  // one NUMA node
}

TEST_CASE("the same input gives the same plan", "[planner]") {
  auto state = MakeState(MakeCluster(2, 3, 4, 8));
  Occupy(state, "b0-r1-n2", 3);
  const GangSpec gang = MakeGang("ml", "d").Role("ps", 1, 0).Role("worker", 5, 4);
  const Plan a = MustPlan(state, gang);
  const Plan b = MustPlan(state, gang);
  REQUIRE(a.pods.size() == b.pods.size());
  for (std::size_t i = 0; i < a.pods.size(); ++i) {
    CHECK(a.pods[i].node == b.pods[i].node);
    CHECK(a.pods[i].gpu_ids == b.pods[i].gpu_ids);
  }
}

TEST_CASE("a flat cluster without fabric labels still places gangs whole", "[planner]") {
  std::vector<Node> nodes;
  for (int i = 0; i < 6; ++i) nodes.push_back(MakeNode("n" + std::to_string(i)).Gpus(4));
  auto state = MakeState(nodes);
  CHECK(state.topology().level_count() == 0);
  const Plan plan = MustPlan(state, MakeGang("ml", "f").Role("w", 5, 4));
  CHECK(plan.nodes_used == 5);
}

TEST_CASE("quorum below the replica count places only the quorum", "[planner]") {
  auto state = MakeState(MakeCluster(1, 1, 2, 8));
  const Plan plan = MustPlan(state, MakeGang("ml", "elastic").Role("w", 8, 2).Quorum(3));
  CHECK(plan.pods.size() == 3);
}

}  // namespace
}  // namespace gangsched::scheduler

namespace gangsched::scheduler {
namespace {

TEST_CASE("a role no node is open to is told which taint or selector blocks it", "[planner]") {
  auto state =
      ClusterState::Create({testing::MakeNode("g1").Gpus(8).Taint("gangsched.io/gpu", "true"),
                            testing::MakeNode("g2").Gpus(8).Taint("gangsched.io/gpu", "true")});
  REQUIRE(state);
  const PlanResult r = Planner{}.PlanGang(*state, testing::MakeGang("ml", "t").Role("w", 1, 1));
  REQUIRE(std::holds_alternative<Unplaceable>(r));
  CHECK(std::get<Unplaceable>(r).never);
  CHECK_THAT(std::get<Unplaceable>(r).reason,
             Catch::Contains("2 taint gangsched.io/gpu=true:NoSchedule not tolerated"));
}

}  // namespace
}  // namespace gangsched::scheduler

namespace gangsched::scheduler {
namespace {

// Found by the simulator's comparison with CBC (gap instances 49 and 34): a gang that has to span
// racks must still use the fewest nodes, not fill the first rack greedily.
TEST_CASE("a gang spanning racks uses the fewest nodes", "[planner]") {
  SECTION("7 pods x 2 GPUs over free r0 = {4, 8}, r1 = {6, 0}") {
    auto state = MakeState(MakeCluster(1, 2, 2, 8));
    Occupy(state, "b0-r0-n0", 4);
    Occupy(state, "b0-r1-n0", 2);
    Occupy(state, "b0-r1-n1", 8);
    const Plan plan = MustPlan(state, MakeGang("ml", "g").Role("w", 7, 2));
    CHECK(plan.nodes_used == 2);
    CHECK(NodesOf(plan) == std::set<std::string>{"b0-r0-n1", "b0-r1-n0"});
  }
  SECTION("3 pods x 4 GPUs over free r0 = {3, 2, 4, 5}, r1 = {1, 8, 1, 2}") {
    auto state = MakeState(MakeCluster(1, 2, 4, 8));
    const int used[2][4] = {{5, 6, 4, 3}, {7, 0, 7, 6}};
    for (int r = 0; r < 2; ++r) {
      for (int n = 0; n < 4; ++n) {
        if (used[r][n] > 0) {
          Occupy(state, "b0-r" + std::to_string(r) + "-n" + std::to_string(n), used[r][n]);
        }
      }
    }
    const Plan plan = MustPlan(state, MakeGang("ml", "h").Role("w", 3, 4));
    CHECK(plan.nodes_used == 2);
    CHECK(NodesOf(plan).count("b0-r1-n1") == 1);
  }
}

}  // namespace
}  // namespace gangsched::scheduler
