// The placement metrics (docs/metrics.md): a gang's queueing clock from its quorum of pods known to
// bound whole, its label values (bounded: job kinds folded, namespaces capped), and the NVLink
// locality classes.
#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "api/gang_waits.h"
#include "api/metrics.h"
#include "tests/support/builders.h"
#include "tests/unit/scheduler/engine_test_support.h"
#include "topology/gpu_topology.h"

namespace gangsched::api {
namespace {

TEST_CASE("job kinds fold into a fixed set of label values", "[metrics]") {
  const auto [kind, label] = GENERATE(table<std::string, std::string>({
      {"TFJob kubeflow.org/v1", "TFJob"},
      {"PyTorchJob kubeflow.org/v1", "PyTorchJob"},
      {"MPIJob kubeflow.org/v2beta1", "MPIJob"},
      {"PodGroup scheduling.x-k8s.io/v1alpha1", "PodGroup"},
      {"coscheduling", "PodGroup"},
      {"volcano", "PodGroup"},
      {"gangsched", "plain"},
      {"single-pod", "plain"},
      {"XGBoostJob kubeflow.org/v1", "other"},
      {"kueue", "other"},
      {"", "other"},
  }));
  CHECK(KindLabel(kind) == label);
}

TEST_CASE("namespaces past the cap are labelled _other, the first ones keep theirs", "[metrics]") {
  GangWaits waits(2);
  CHECK(waits.NamespaceLabel("ml") == "ml");
  CHECK(waits.NamespaceLabel("research") == "research");
  CHECK(waits.NamespaceLabel("team-x") == "_other");
  CHECK(waits.NamespaceLabel("ml") == "ml");
  CHECK(waits.NamespaceLabel("research") == "research");
}

TEST_CASE("a GPU set's NVLink locality counts its NVLink-connected pairs", "[metrics]") {
  // GPU0-GPU1 and GPU0-GPU2 and GPU2-GPU3 are NVLink; the other pairs go over the SMP bus.
  auto topo = topology::ParseNvidiaSmiTopo(
      "\tGPU0\tGPU1\tGPU2\tGPU3\n"
      "GPU0\t X \tNV1\tNV1\tSYS\n"
      "GPU1\tNV1\t X \tSYS\tSYS\n"
      "GPU2\tNV1\tSYS\t X \tNV1\n"
      "GPU3\tSYS\tSYS\tNV1\t X \n");
  REQUIRE(topo.has_value());
  CHECK(NvlinkLocality(*topo, {0, 1}) == "all");
  CHECK(NvlinkLocality(*topo, {0, 1, 2}) == "partial");
  CHECK(NvlinkLocality(*topo, {1, 3}) == "none");
  CHECK(NvlinkLocality(*topo, {2}) == "one_gpu");
  CHECK(NvlinkLocality(topology::GpuTopology::Uniform(8), {0, 1}) == "none");  // no matrix
}

// The two members of gang ml/`gang` (min-members 2), 8 GPUs each.
std::pair<scheduler::Pod, scheduler::Pod> TwoMembers(const std::string& gang) {
  return {scheduler::engine_test::GangPod(gang, 2, gang + "-0", 8),
          scheduler::engine_test::GangPod(gang, 2, gang + "-1", 8)};
}

TEST_CASE("a gang's clock runs from its quorum of pods known to the whole gang bound",
          "[metrics]") {
  using scheduler::BarrierAction;
  using testing::MakeNode;
  scheduler::GangScheduler engine = scheduler::engine_test::MakeEngine(
      {MakeNode("a1").Gpus(8).Rack("r1"), MakeNode("a2").Gpus(8).Rack("r1")});
  const std::vector<std::string> nodes = {"a1", "a2"};
  const scheduler::GangKey key{"ml", "bert"};
  const auto [p0, p1] = TwoMembers("bert");
  GangWaits waits(50);

  engine.Filter(p0, nodes, 1'000);
  waits.Seen(engine, key, 1'000);
  CHECK(waits.waiting() == 0);  // 1 of 2 pods known: no clock yet
  CHECK(waits.Sweep(engine, 1'500) == 0);
  const scheduler::FilterDecision d1 = engine.Filter(p1, nodes, 2'000);
  waits.Seen(engine, key, 2'000);
  REQUIRE(waits.waiting() == 1);
  CHECK(waits.Sweep(engine, 5'000) == 3'000);  // the longest wait so far

  const std::string n0 = std::get<scheduler::Narrow>(engine.Filter(p0, nodes, 6'000)).node;
  const std::string n1 = std::get<scheduler::Narrow>(d1).node;
  REQUIRE(engine.Bind("ml", "bert-0", p0.uid, n0, 7'000).action == BarrierAction::kWait);
  const scheduler::BarrierDecision d = engine.Bind("ml", "bert-1", p1.uid, n1, 8'000);
  REQUIRE(d.action == BarrierAction::kBind);
  engine.BindResult(p0.uid, true, "", 9'000);
  CHECK_FALSE(waits.Bound(engine, key, 9'000));  // half bound: still waiting
  engine.BindResult(p1.uid, true, "", 9'500);
  const std::optional<GangWaits::Wait> wait = waits.Bound(engine, key, 9'500);
  REQUIRE(wait);
  CHECK(wait->waited == 7'500);
  CHECK(wait->namespace_label == "ml");
  CHECK(wait->kind_label == "plain");
  CHECK(waits.waiting() == 0);
  waits.Seen(engine, key, 10'000);  // a bound gang's late filter call starts nothing
  CHECK(waits.waiting() == 0);
}

TEST_CASE("a gang's clock starts over when fewer than its quorum of pods are known again",
          "[metrics]") {
  using testing::MakeNode;
  scheduler::GangScheduler engine =
      scheduler::engine_test::MakeEngine({MakeNode("a1").Gpus(8).Rack("r1")});
  const std::vector<std::string> nodes = {"a1"};
  const scheduler::GangKey key{"ml", "big"};
  const auto [p0, p1] = TwoMembers("big");  // 2 x 8 GPUs on one 8-GPU node: never fits, waits
  GangWaits waits(50);
  engine.Filter(p0, nodes, 1'000);
  engine.Filter(p1, nodes, 2'000);
  waits.Seen(engine, key, 2'000);
  REQUIRE(waits.waiting() == 1);
  CHECK(waits.Sweep(engine, 3'000) == 1'000);

  engine.RemovePod(p1.uid);  // deleted: 1 of 2 pods known
  engine.Filter(p0, nodes, 4'000);
  waits.Seen(engine, key, 4'000);
  CHECK(waits.waiting() == 0);
  engine.Filter(p1, nodes, 5'000);  // created again
  waits.Seen(engine, key, 5'000);
  REQUIRE(waits.waiting() == 1);
  CHECK(waits.Sweep(engine, 6'000) == 1'000);  // from the quorum known again, not from 2'000
}

}  // namespace
}  // namespace gangsched::api
