#include "scheduler/gang_scheduler.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <variant>

#include "tests/support/builders.h"
#include "tests/unit/scheduler/engine_test_support.h"

namespace gangsched::scheduler {
namespace {

using namespace engine_test;  // NOLINT(google-build-using-namespace): the tests' set-up
using testing::MakeCluster;
using testing::MakeNode;

TEST_CASE("a gang is narrowed member by member and bound whole at the barrier", "[engine]") {
  auto engine = MakeEngine(MakeCluster(1, 2, 4, 8));
  const auto nodes = AllNodes(engine);
  std::vector<Pod> pods;
  for (int i = 0; i < 3; ++i) pods.push_back(GangPod("bert", 3, "bert-" + std::to_string(i), 8));
  // Until all three are known, the gang waits: no role is guessed (DESIGN.md §3.2).
  CHECK_THAT(Filter(engine, pods[0], nodes, 0).unresolvable.begin()->second,
             Catch::Contains("waiting for 2 more pods of gang ml/bert (1 of 3 seen)"));
  CHECK(Filter(engine, pods[1], nodes, 0).feasible.empty());
  CHECK(engine.state().holds().empty());
  // The third member's filter plans the gang; the two rejected ones are narrowed on their retry.
  std::set<std::string> chosen;
  std::set<std::string> racks;
  for (const auto& p : {pods[2], pods[0], pods[1]}) {
    const std::string node = Narrowed(Filter(engine, p, nodes, 0));
    chosen.insert(node);
    racks.insert(node.substr(0, 5));
  }
  CHECK(chosen.size() == 3);  // three 8-GPU pods on three nodes
  CHECK(racks.size() == 1);   // in one rack
  const auto status = engine.GangOf({"ml", "bert"}, 1);
  REQUIRE(status);
  CHECK(status->phase == GangPhase::kPlanned);
  CHECK(engine.state().FreeGpus() == 64 - 24);  // held

  // Binds: nobody is bound until the last member arrives.
  std::vector<std::string> node_of;
  for (const auto& p : pods) node_of.push_back(Narrowed(Filter(engine, p, nodes, 2)));
  CHECK(engine.Bind("ml", "bert-0", "uid-bert-0", node_of[0], 3).action == BarrierAction::kWait);
  CHECK(engine.Bind("ml", "bert-1", "uid-bert-1", node_of[1], 4).action == BarrierAction::kWait);
  const auto d = engine.Bind("ml", "bert-2", "uid-bert-2", node_of[2], 5);
  REQUIRE(d.action == BarrierAction::kBind);
  CHECK(d.pods.size() == 3);
  for (const auto& o : d.pods) {
    CHECK(o.pod_namespace == "ml");  // the binder needs them to post the Binding
    CHECK(o.pod_name == "bert-" + o.pod_uid.substr(9));
  }
  for (const auto& o : d.pods) engine.BindResult(o.pod_uid, true, "", 6);
  CHECK(engine.GangOf({"ml", "bert"}, 7)->phase == GangPhase::kBound);
  CHECK(engine.state().holds().empty());
  CHECK(engine.state().FreeGpus() == 64 - 24);  // now used by bound pods
  CHECK_THAT(engine.PlacementSummary("uid-bert-0"), Catch::Contains("3 pods on 3 nodes in rack"));
}

TEST_CASE("a gang that does not fit is rejected on every node with one reason", "[engine]") {
  auto engine = MakeEngine(MakeCluster(1, 1, 2, 8));
  const auto nodes = AllNodes(engine);
  const auto a = Filter(engine, GangPod("big", 4, "big-0", 8), nodes, 0);
  CHECK(a.feasible.empty());
  REQUIRE(a.unresolvable.size() == nodes.size());
  std::set<std::string> reasons;
  for (const auto& [node, why] : a.unresolvable) reasons.insert(why);
  CHECK(reasons.size() == 1);
  CHECK_THAT(*reasons.begin(), Catch::Contains("gang ml/big"));
  CHECK(engine.GangOf({"ml", "big"}, 0)->phase == GangPhase::kWaiting);
  CHECK(engine.state().FreeGpus() == 16);  // nothing held
}

TEST_CASE("an expired hold fails held binds, releases capacity and backs off", "[engine]") {
  EngineOptions options;
  options.holds.ttl = 1000;
  options.holds.backoff_initial = 5000;
  auto engine = MakeEngine(MakeCluster(1, 1, 2, 8), options);
  const auto nodes = AllNodes(engine);
  const Pod p0 = GangPod("g", 2, "g-0", 8);
  Known(engine, {p0, GangPod("g", 2, "g-1", 8)});
  const std::string n0 = Narrowed(Filter(engine, p0, nodes, 0));
  CHECK(engine.Bind("ml", "g-0", p0.uid, n0, 100).action == BarrierAction::kWait);
  CHECK(engine.Tick(1099).empty());  // progress at 100 moved the deadline to 1100
  const auto out = engine.Tick(1100);
  REQUIRE(out.size() == 1);
  CHECK(out[0].action == BarrierAction::kReject);
  CHECK(out[0].pods.at(0).pod_uid == p0.uid);
  CHECK_THAT(out[0].reason, Catch::Contains("only 1 of 2 members"));
  CHECK(engine.state().FreeGpus() == 16);
  const auto backoff = Filter(engine, p0, nodes, 2000);
  CHECK(backoff.feasible.empty());
  CHECK_THAT(backoff.unresolvable.begin()->second, Catch::Contains("backs off"));
  CHECK(Filter(engine, p0, nodes, 6200).feasible.size() == 1);  // planned again after backoff
}

TEST_CASE("a rejected member's retries do not keep its gang's hold alive", "[engine][issue11]") {
  // kube-scheduler retries a rejected pod on every cluster event; if those filters counted as
  // progress, a gang whose member is never narrowed would pin its capacity for as long as the
  // retries go on (DESIGN.md §3.4).
  EngineOptions options;
  options.holds.ttl = 1000;
  auto engine = MakeEngine(MakeCluster(1, 1, 2, 8), options);
  const auto nodes = AllNodes(engine);
  const Pod p0 = GangPod("g", 2, "g-0", 8);
  const Pod p1 = GangPod("g", 2, "g-1", 8);
  Known(engine, {p0, p1});
  const std::string n0 = Narrowed(Filter(engine, p0, nodes, 0));
  const std::string n1 = Narrowed(Filter(engine, p1, nodes, 0));  // the hold runs until 1000
  const std::string other = n1 == nodes[0] ? nodes[1] : nodes[0];
  REQUIRE(other == n0);
  // g-1's planned node is excluded by kube-scheduler's filters on every retry, and the only
  // offered node is g-0's: it is rejected each time.
  for (Millis t = 100; t < 1000; t += 100) {
    CHECK(Filter(engine, p1, {n0}, t).feasible.empty());
  }
  CHECK(engine.GangOf({"ml", "g"}, 950)->hold_deadline == 1000);
  const auto out = engine.Tick(1000);  // expired on time, capacity released
  CHECK(engine.state().holds().empty());
  CHECK(engine.GangOf({"ml", "g"}, 1000)->phase == GangPhase::kWaiting);
  CHECK(out.empty());  // nothing was held in the barrier
  // A member narrowed to its node is progress: it moves the deadline.
  auto fresh = MakeEngine(MakeCluster(1, 1, 2, 8), options);
  Known(fresh, {p0, p1});
  Narrowed(Filter(fresh, p0, nodes, 0));
  Narrowed(Filter(fresh, p1, nodes, 500));
  CHECK(fresh.GangOf({"ml", "g"}, 600)->hold_deadline == 1500);
}

TEST_CASE("a bound member is accounted at its own request, not its slot's", "[engine][issue11]") {
  // Two plain pods of one gang with no role label: one asks 4 GPUs, one only CPU. They share the
  // role "member", planned at the larger request; once bound, the CPU pod uses no GPU.
  auto engine = MakeEngine(MakeCluster(1, 1, 2, 8));
  const auto nodes = AllNodes(engine);
  const Pod gpu = GangPod("mix", 2, "mix-gpu", 4);
  const Pod cpu = GangPod("mix", 2, "mix-cpu", 0);
  Known(engine, {gpu, cpu});
  const std::string n_gpu = Narrowed(Filter(engine, gpu, nodes, 0));
  const std::string n_cpu = Narrowed(Filter(engine, cpu, nodes, 0));
  CHECK(engine.Bind("ml", "mix-gpu", gpu.uid, n_gpu, 1).action == BarrierAction::kWait);
  const auto d = engine.Bind("ml", "mix-cpu", cpu.uid, n_cpu, 2);
  REQUIRE(d.action == BarrierAction::kBind);
  for (const auto& o : d.pods) engine.BindResult(o.pod_uid, true, "", 3);
  REQUIRE(engine.GangOf({"ml", "mix"}, 4)->phase == GangPhase::kBound);
  CHECK(engine.state().FreeGpus() == 16 - 4);
  // Deleting the CPU pod frees no GPU; deleting the GPU pod frees its 4.
  engine.RemovePod(cpu.uid);
  CHECK(engine.state().FreeGpus() == 12);
  engine.RemovePod(gpu.uid);
  CHECK(engine.state().FreeGpus() == 16);
}

TEST_CASE("two gangs racing for one rack: one holds it, the other waits whole", "[engine]") {
  auto engine = MakeEngine(MakeCluster(1, 1, 4, 8));
  const auto nodes = AllNodes(engine);
  std::set<std::string> a_nodes;
  for (int i = 0; i < 4; ++i) {
    Known(engine, {GangPod("a", 4, "a-" + std::to_string(i), 8),
                   GangPod("b", 4, "b-" + std::to_string(i), 8)});
  }
  for (int i = 0; i < 4; ++i) {
    a_nodes.insert(
        Narrowed(Filter(engine, GangPod("a", 4, "a-" + std::to_string(i), 8), nodes, i)));
    const auto b = Filter(engine, GangPod("b", 4, "b-" + std::to_string(i), 8), nodes, i);
    CHECK(b.feasible.empty());  // no double booking
  }
  CHECK(a_nodes.size() == 4);
  CHECK(engine.GangOf({"ml", "b"}, 5)->phase == GangPhase::kWaiting);
  CHECK_FALSE(engine.GangOf({"ml", "b"}, 5)->reason.empty());
}

TEST_CASE("the nominated-node probe is answered without re-planning", "[engine]") {
  auto engine = MakeEngine(MakeCluster(1, 1, 2, 8));
  const auto nodes = AllNodes(engine);
  Pod p = GangPod("solo", 1, "solo-0", 8);
  const std::string planned = Narrowed(Filter(engine, p, nodes, 0));
  const std::string other = planned == nodes[0] ? nodes[1] : nodes[0];
  p.nominated_node_name = other;
  const auto probe = Filter(engine, p, {other}, 1);
  CHECK(probe.feasible.empty());
  CHECK_THAT(probe.unresolvable.at(other), Catch::Contains("planned this pod on node " + planned));
  p.nominated_node_name = planned;
  CHECK(Narrowed(Filter(engine, p, {planned}, 2)) == planned);
}

TEST_CASE("a member whose planned node was filtered out moves inside the offer", "[engine]") {
  auto engine = MakeEngine(MakeCluster(1, 2, 2, 8));
  const auto nodes = AllNodes(engine);
  const Pod p0 = GangPod("m", 2, "m-0", 8);
  const Pod p1 = GangPod("m", 2, "m-1", 8);
  Known(engine, {p0, p1});
  const std::string n0 = Narrowed(Filter(engine, p0, nodes, 0));
  std::vector<std::string> without;
  for (const auto& n : nodes) {
    if (n != n0) without.push_back(n);
  }
  const std::string moved = Narrowed(Filter(engine, p0, without, 1));
  CHECK(moved != n0);
  const std::string n1 = Narrowed(Filter(engine, p1, nodes, 2));
  CHECK(n1 != moved);
  CHECK(engine.state().FreeGpus() == 32 - 16);  // still exactly one hold's worth
}

TEST_CASE("a member deleted in the barrier is replaced and the gang still binds whole",
          "[engine]") {
  auto engine = MakeEngine(MakeCluster(1, 1, 2, 8));
  const auto nodes = AllNodes(engine);
  const Pod p0 = GangPod("r", 2, "r-0", 8);
  const Pod p1 = GangPod("r", 2, "r-1", 8);
  Known(engine, {p0, p1});
  const std::string n0 = Narrowed(Filter(engine, p0, nodes, 0));
  const std::string n1 = Narrowed(Filter(engine, p1, nodes, 0));
  CHECK(engine.Bind("ml", "r-0", p0.uid, n0, 1).action == BarrierAction::kWait);
  const auto withdrawn = engine.RemovePod(p0.uid);
  REQUIRE(withdrawn);
  CHECK(withdrawn->action == BarrierAction::kReject);
  CHECK(engine.state().FreeGpus() == 0);  // the hold keeps the slot's capacity
  const Pod replacement = GangPod("r", 2, "r-0b", 8);
  CHECK(Narrowed(Filter(engine, replacement, nodes, 2)) == n0);
  CHECK(engine.Bind("ml", "r-1", p1.uid, n1, 3).action == BarrierAction::kWait);
  const auto d = engine.Bind("ml", "r-0b", replacement.uid, n0, 4);
  REQUIRE(d.action == BarrierAction::kBind);
  for (const auto& o : d.pods) engine.BindResult(o.pod_uid, true, "", 5);
  CHECK(engine.GangOf({"ml", "r"}, 6)->phase == GangPhase::kBound);
}

TEST_CASE("a failed bind after release keeps the capacity and is retried", "[engine]") {
  EngineOptions options;
  options.holds.ttl = 1000;
  auto engine = MakeEngine(MakeCluster(1, 1, 2, 8), options);
  const auto nodes = AllNodes(engine);
  const Pod p0 = GangPod("f", 2, "f-0", 8);
  const Pod p1 = GangPod("f", 2, "f-1", 8);
  Known(engine, {p0, p1});
  const std::string n0 = Narrowed(Filter(engine, p0, nodes, 0));
  const std::string n1 = Narrowed(Filter(engine, p1, nodes, 0));
  engine.Bind("ml", "f-0", p0.uid, n0, 1);
  const auto d = engine.Bind("ml", "f-1", p1.uid, n1, 2);
  REQUIRE(d.action == BarrierAction::kBind);
  engine.BindResult(p0.uid, true, "", 3);
  engine.BindResult(p1.uid, false, "admission webhook denied", 3);
  CHECK(engine.GangOf({"ml", "f"}, 4)->phase == GangPhase::kBinding);
  CHECK_THAT(engine.GangOf({"ml", "f"}, 4)->reason, Catch::Contains("retried first"));
  CHECK(engine.Tick(50'000).empty());     // never expires while partly bound
  CHECK(engine.state().FreeGpus() == 0);  // nothing given away
  CHECK(Narrowed(Filter(engine, p1, nodes, 50'001)) == n1);
  const auto retry = engine.Bind("ml", "f-1", p1.uid, n1, 50'002);
  CHECK(retry.action == BarrierAction::kBind);  // straight through: the gang is released
  engine.BindResult(p1.uid, true, "", 50'003);
  CHECK(engine.GangOf({"ml", "f"}, 50'004)->phase == GangPhase::kBound);
}

TEST_CASE("a job roster gives roles and sizes; the gang waits for its quorum of pods", "[engine]") {
  auto engine = MakeEngine(MakeCluster(1, 2, 4, 8));
  GangSpec roster = testing::MakeGang("ml", "tf").Role("ps", 2, 0, 2000).Role("worker", 4, 4);
  roster.kind = "TFJob kubeflow.org/v1";
  engine.UpsertRoster(roster);
  Pod ps;
  ps.uid = "uid-ps0";
  ps.namespace_name = "ml";
  ps.name = "tf-ps-0";
  ps.labels = {{"training.kubeflow.org/job-name", "tf"},
               {"training.kubeflow.org/replica-type", "ps"},
               {"training.kubeflow.org/replica-index", "0"}};
  ps.requests = {2000, 1LL << 30, 0, 1};
  // The roster names six pods; with only the PS known the gang waits, in standalone mode too.
  CHECK_THAT(Filter(engine, ps, AllNodes(engine), 0).unresolvable.begin()->second,
             Catch::Contains("waiting for 5 more pods of gang ml/tf (1 of 6 seen)"));
  CHECK(engine.GangOf({"ml", "tf"}, 0)->quorum == 6);
  auto member = [&](const std::string& role, int index, std::int64_t gpus) {
    Pod p = ps;
    p.uid = "uid-" + role + std::to_string(index);
    p.name = "tf-" + role + "-" + std::to_string(index);
    p.labels["training.kubeflow.org/replica-type"] = role;
    p.labels["training.kubeflow.org/replica-index"] = std::to_string(index);
    p.requests = {1000, 1LL << 30, gpus, 1};
    return p;
  };
  Known(engine, {member("ps", 1, 0), member("worker", 0, 4), member("worker", 1, 4),
                 member("worker", 2, 4), member("worker", 3, 4)});
  const auto a = Filter(engine, ps, AllNodes(engine), 1);
  REQUIRE(a.feasible.size() == 1);
  const auto status = engine.GangOf({"ml", "tf"}, 0);
  REQUIRE(status);
  CHECK(status->quorum == 6);
  REQUIRE(status->plan);
  CHECK(status->plan->pods.size() == 6);
  CHECK(engine.state().FreeGpus() == 64 - 16);
}

TEST_CASE("with the API state source a gang waits for a quorum of pods", "[engine]") {
  EngineOptions options;
  options.require_quorum_pods = true;
  auto engine = MakeEngine(MakeCluster(1, 1, 4, 8), options);
  const auto a = Filter(engine, GangPod("q", 3, "q-0", 8), AllNodes(engine), 0);
  CHECK(a.feasible.empty());
  CHECK_THAT(a.unresolvable.begin()->second, Catch::Contains("waiting for 2 more pods"));
  engine.UpsertPod(GangPod("q", 3, "q-1", 8));
  engine.UpsertPod(GangPod("q", 3, "q-2", 8));
  CHECK(Filter(engine, GangPod("q", 3, "q-0", 8), AllNodes(engine), 1).feasible.size() == 1);
}

TEST_CASE("a pod that is not part of a gang is placed as a gang of one", "[engine]") {
  auto engine = MakeEngine(MakeCluster(1, 1, 2, 8));
  Pod p;
  p.uid = "uid-single";
  p.namespace_name = "default";
  p.name = "single";
  p.requests = {1000, 0, 2, 1};
  const std::string node = Narrowed(Filter(engine, p, AllNodes(engine), 0));
  const auto d = engine.Bind("default", "single", p.uid, node, 1);
  REQUIRE(d.action == BarrierAction::kBind);
  CHECK(engine.PlannedGpuIds(p.uid).size() == 2);
  engine.BindResult(p.uid, true, "", 2);
  CHECK(engine.state().FreeGpus() == 14);
  CHECK(engine.Gangs(3).empty());  // gangs of one are not kept once bound
}

TEST_CASE("binds of unknown pods are refused with a clear reason", "[engine]") {
  auto engine = MakeEngine(MakeCluster(1, 1, 1, 8));
  const auto d = engine.Bind("ml", "ghost", "uid-ghost", "b0-r0-n0", 0);
  CHECK(d.action == BarrierAction::kReject);
  CHECK_THAT(d.reason, Catch::Contains("not filtered by gangsched"));
}

}  // namespace
}  // namespace gangsched::scheduler

namespace gangsched::scheduler {
namespace {

using namespace engine_test;  // NOLINT(google-build-using-namespace)
using testing::MakeCluster;

TEST_CASE("a member offered only a node its gang holds re-plans the whole gang", "[engine]") {
  // chief and worker (8 GPUs each) are planned on two nodes; kube-scheduler then offers the chief
  // only the worker's node (say, its affinity). Moving the chief alone is impossible — that node is
  // held — so the gang is re-planned with the chief confined to its offer.
  auto engine = MakeEngine(MakeCluster(1, 1, 3, 8));
  GangSpec roster = testing::MakeGang("ml", "cw").Role("chief", 1, 8).Role("worker", 1, 8);
  engine.UpsertRoster(roster);
  auto pod = [](const std::string& role) {
    Pod p;
    p.uid = "uid-" + role;
    p.namespace_name = "ml";
    p.name = "cw-" + role + "-0";
    p.labels = {{"training.kubeflow.org/job-name", "cw"},
                {"training.kubeflow.org/replica-type", role},
                {"training.kubeflow.org/replica-index", "0"}};
    p.requests = {1000, 1LL << 30, 8, 1};
    return p;
  };
  const auto nodes = AllNodes(engine);
  Known(engine, {pod("chief"), pod("worker")});
  const std::string chief_node = Narrowed(Filter(engine, pod("chief"), nodes, 0));
  const std::string worker_node = Narrowed(Filter(engine, pod("worker"), nodes, 0));
  REQUIRE(chief_node != worker_node);
  CHECK(Narrowed(Filter(engine, pod("chief"), {worker_node}, 1)) == worker_node);
  const std::string worker_again = Narrowed(Filter(engine, pod("worker"), nodes, 2));
  CHECK(worker_again != worker_node);
  CHECK(engine.state().FreeGpus() == 24 - 16);  // one hold's worth, never two
}

// A pod of the MPIJob ml/mpi with 8 GPUs. No replica index: interchangeable members of a role
// take slots in the order they come.
Pod MpiPod(const std::string& role, const std::string& name, std::int64_t milli_cpu = 1000) {
  Pod p;
  p.uid = "uid-" + name;
  p.namespace_name = "ml";
  p.name = name;
  p.labels = {{"training.kubeflow.org/job-name", "mpi"},
              {"training.kubeflow.org/replica-type", role}};
  p.requests = {milli_cpu, 1LL << 30, 8, 1};
  return p;
}

TEST_CASE("a re-plan that does not answer the member is discarded whole", "[engine]") {
  // An MPI-style job holds three nodes: two workers and a launcher. Its roster then stops counting
  // the launcher in the quorum. kube-scheduler offers the launcher only a worker's node (full), so
  // the gang is re-planned with the launcher confined there; the new plan has no launcher at all
  // and is not taken. Nothing of it may stay behind: the members keep their slots in the plan they
  // were narrowed to, and each pod is accounted on the node it was bound to.
  auto engine = MakeEngine(MakeCluster(1, 1, 3, 8));
  engine.UpsertRoster(testing::MakeGang("ml", "mpi").Role("worker", 2, 8).Role("launcher", 1, 8));
  const Pod worker_a = MpiPod("worker", "mpi-worker-a");
  const Pod worker_b = MpiPod("worker", "mpi-worker-b");
  const Pod launcher = MpiPod("launcher", "mpi-launcher");
  Known(engine, {worker_a, worker_b, launcher});
  const auto nodes = AllNodes(engine);
  const std::string node_a = Narrowed(Filter(engine, worker_a, nodes, 0));
  const std::string node_b = Narrowed(Filter(engine, worker_b, nodes, 1));
  const std::string node_l = Narrowed(Filter(engine, launcher, nodes, 2));
  REQUIRE(std::set<std::string>{node_a, node_b, node_l}.size() == 3);

  engine.UpsertRoster(testing::MakeGang("ml", "mpi")
                          .Role("worker", 2, 8)
                          .Role("launcher", 1, 8)
                          .MinMembers(0)
                          .Quorum(2));
  const auto rejected = Filter(engine, launcher, {node_a}, 3);
  CHECK(rejected.feasible.empty());
  CHECK_THAT(rejected.unresolvable.at(node_a),
             Catch::Contains("planned this pod on node " + node_l));
  const auto status = engine.GangOf({"ml", "mpi"}, 3);
  CHECK(status->phase == GangPhase::kPlanned);
  CHECK(status->reason.empty());
  // Each worker is still planned where it was narrowed.
  for (const auto& [worker, node] : {std::pair{worker_b, node_b}, std::pair{worker_a, node_a}}) {
    const auto scores = engine.Prioritize(worker, nodes, 3);
    CHECK(std::count_if(scores.begin(), scores.end(),
                        [&](const HostScore& s) { return s.host == node && s.score == 10; }) == 1);
  }

  // The workers reach bind on the nodes they were narrowed to, b first; then the launcher.
  CHECK(engine.Bind("ml", worker_b.name, worker_b.uid, node_b, 4).action == BarrierAction::kWait);
  CHECK(engine.Bind("ml", worker_a.name, worker_a.uid, node_a, 5).action == BarrierAction::kWait);
  CHECK(Narrowed(Filter(engine, launcher, nodes, 6)) == node_l);
  const auto d = engine.Bind("ml", launcher.name, launcher.uid, node_l, 7);
  REQUIRE(d.action == BarrierAction::kBind);
  for (const auto& o : d.pods) engine.BindResult(o.pod_uid, true, "", 8);
  CHECK(engine.GangOf({"ml", "mpi"}, 9)->phase == GangPhase::kBound);
  for (const auto& [uid, node] : {std::pair{worker_a.uid, node_a}, std::pair{worker_b.uid, node_b},
                                  std::pair{launcher.uid, node_l}}) {
    CHECK(engine.state().node(engine.state().bound_pods().at(uid).node).name == node);
  }
  // What a finished worker frees is freed where it ran.
  engine.RemovePod(worker_a.uid);
  CHECK(engine.state().Free(*engine.state().FindNode(node_a)).gpus == 8);
  CHECK(engine.state().Free(*engine.state().FindNode(node_b)).gpus == 0);
}

TEST_CASE("members narrowed before a kept re-plan are accounted where they were bound",
          "[engine]") {
  // An MPI-style job: three workers and a launcher on four full nodes. Every worker is narrowed;
  // then kube-scheduler offers the launcher only a worker's node, and the gang is re-planned with
  // the launcher there: the new plan keeps two workers' nodes but lists their slots anew, and the
  // members narrowed before it have no slot in it. Their binds arrive anyway, in any order, and
  // the barrier takes each on the node it binds to: the engine must account each pod there too.
  auto engine = MakeEngine(MakeCluster(1, 1, 4, 8));
  // The launcher asks for more CPU, so it is placed first (largest pods first).
  engine.UpsertRoster(
      testing::MakeGang("ml", "mpi").Role("worker", 3, 8).Role("launcher", 1, 8, 2000));
  const Pod launcher = MpiPod("launcher", "mpi-launcher", 2000);
  const std::vector<Pod> workers = {MpiPod("worker", "mpi-worker-0"),
                                    MpiPod("worker", "mpi-worker-1"),
                                    MpiPod("worker", "mpi-worker-2")};
  Known(engine, workers);
  Known(engine, {launcher});
  const auto nodes = AllNodes(engine);
  Narrowed(Filter(engine, launcher, nodes, 0));
  std::vector<std::string> narrowed;
  for (const Pod& w : workers) narrowed.push_back(Narrowed(Filter(engine, w, nodes, 1)));
  REQUIRE(std::set<std::string>(narrowed.begin(), narrowed.end()).size() == 3);

  // The launcher is offered only worker 0's node: re-planned there, and that plan is kept.
  REQUIRE(Narrowed(Filter(engine, launcher, {narrowed[0]}, 2)) == narrowed[0]);
  // Worker 0's bind to its old node finds no worker slot there; workers 2 and 1 reach bind on
  // the nodes they were narrowed to, which are still the workers' in the new plan.
  CHECK(engine.Bind("ml", workers[0].name, workers[0].uid, narrowed[0], 3).action ==
        BarrierAction::kReject);
  for (int i : {2, 1}) {
    const Pod& w = workers[static_cast<std::size_t>(i)];
    REQUIRE(engine.Bind("ml", w.name, w.uid, narrowed[static_cast<std::size_t>(i)], 4).action ==
            BarrierAction::kWait);
  }
  // Worker 0 is filtered again and goes where the plan has room; then the launcher binds.
  const std::string moved = Narrowed(Filter(engine, workers[0], nodes, 5));
  REQUIRE(engine.Bind("ml", workers[0].name, workers[0].uid, moved, 6).action ==
          BarrierAction::kWait);
  const auto d = engine.Bind("ml", launcher.name, launcher.uid, narrowed[0], 7);
  REQUIRE(d.action == BarrierAction::kBind);
  REQUIRE(d.pods.size() == 4);
  for (const auto& o : d.pods) engine.BindResult(o.pod_uid, true, "", 8);
  REQUIRE(engine.GangOf({"ml", "mpi"}, 9)->phase == GangPhase::kBound);

  // Each pod is accounted on the node its Binding named.
  for (const BindOrder& o : d.pods) {
    INFO(o.pod_uid << " was bound to " << o.node);
    CHECK(engine.state().node(engine.state().bound_pods().at(o.pod_uid).node).name == o.node);
  }
  // What a finished worker frees is freed where it ran, not on another worker's node.
  engine.RemovePod(workers[1].uid);
  CHECK(engine.state().Free(*engine.state().FindNode(narrowed[1])).gpus == 8);
  CHECK(engine.state().Free(*engine.state().FindNode(narrowed[2])).gpus == 0);
}

}  // namespace
}  // namespace gangsched::scheduler

namespace gangsched::scheduler {
namespace {

using namespace engine_test;  // NOLINT(google-build-using-namespace)
using testing::MakeCluster;

TEST_CASE("a kept offer answers like its names, and is resolved again after the inventory changes",
          "[engine]") {
  auto engine = MakeEngine(MakeCluster(1, 1, 4, 8));
  // Unknown names and a name twice are kept in the offer as kube-scheduler sent them.
  std::vector<std::string> names = {"ghost", "b0-r0-n3", "b0-r0-n1", "b0-r0-n1"};
  const Offer offer = engine.ResolveOffer(names);
  CHECK(offer.names == names);
  CHECK(offer.nodes.size() == 3);
  const std::string planned = Narrowed(Filter(engine, GangPod("g", 1, "g-0", 8), offer, 0));
  CHECK((planned == "b0-r0-n3" || planned == "b0-r0-n1"));
  const auto scores = engine.Prioritize(GangPod("g", 1, "g-0", 8), offer, 0);
  REQUIRE(scores.size() == 1);  // the planned node; every other offered node scores 0
  CHECK(names[scores[0].at] == planned);
  CHECK(scores[0].score == 10);
  // The by-name form lists every offered node.
  const auto all = engine.Prioritize(GangPod("g", 1, "g-0", 8), names, 0);
  REQUIRE(all.size() == 4);
  CHECK(std::count_if(all.begin(), all.end(), [](const HostScore& s) { return s.score != 0; }) ==
        1);
  for (const HostScore& s : all) CHECK((s.score == 0 || s.host == planned));

  // A new inventory in another order: the old offer's indices are stale and must not be used.
  std::vector<Node> reversed = MakeCluster(1, 1, 4, 8);
  std::reverse(reversed.begin(), reversed.end());
  const std::uint64_t before = engine.inventory_generation();
  REQUIRE(engine.ReplaceNodes(reversed));
  CHECK(engine.inventory_generation() != before);
  CHECK(Narrowed(Filter(engine, GangPod("g", 1, "g-0", 8), offer, 1)) == planned);
  const auto again = engine.Prioritize(GangPod("g", 1, "g-0", 8), offer, 1);
  REQUIRE(again.size() == 1);
  CHECK(names[again[0].at] == planned);
  const std::string other = Narrowed(
      Filter(engine, GangPod("h", 1, "h-0", 8), engine.ResolveOffer({"b0-r0-n0", "b0-r0-n2"}), 1));
  CHECK((other == "b0-r0-n0" || other == "b0-r0-n2"));
}

TEST_CASE("a gang's shape follows its members as they come, change and go", "[engine]") {
  // The shape is kept between calls; every change to what it is built from must show.
  EngineOptions options;
  options.require_quorum_pods = true;
  auto engine = MakeEngine(MakeCluster(1, 1, 4, 8), options);
  const auto nodes = AllNodes(engine);
  CHECK_THAT(Filter(engine, GangPod("s", 3, "s-0", 4), nodes, 0).unresolvable.begin()->second,
             Catch::Contains("waiting for 2 more pods"));
  engine.UpsertPod(GangPod("s", 3, "s-1", 4));
  CHECK_THAT(Filter(engine, GangPod("s", 3, "s-0", 4), nodes, 1).unresolvable.begin()->second,
             Catch::Contains("waiting for 1 more pods"));
  CHECK(engine.GangOf({"ml", "s"}, 1)->quorum == 3);
  // A smaller size annotation on one member alone does not change the quorum (members that
  // disagree must not flip it, issue 15); declared by every member (a PodGroup's minMember
  // lowered), it lowers the quorum: two pods are now enough.
  CHECK(Filter(engine, GangPod("s", 2, "s-0", 4), nodes, 2).feasible.empty());
  CHECK(engine.GangOf({"ml", "s"}, 2)->quorum == 3);
  engine.UpsertPod(GangPod("s", 2, "s-1", 4));
  CHECK(Filter(engine, GangPod("s", 2, "s-0", 4), nodes, 2).feasible.size() == 1);
  CHECK(engine.GangOf({"ml", "s"}, 2)->quorum == 2);
  const auto plan = engine.GangOf({"ml", "s"}, 2)->plan;
  REQUIRE(plan);
  REQUIRE(plan->pods.size() == 2);
  CHECK(plan->pods[0].requests.gpus == 4);
  // A member removed: one pod is no longer a quorum of two once the hold is released.
  engine.RemovePod("uid-s-1");
  CHECK(engine.GangOf({"ml", "s"}, 3)->members_seen == 1);
  // A member asking for more GPUs: the next plan is for its new size.
  auto expired = engine.Tick(70'000);
  (void)expired;
  engine.UpsertPod(GangPod("s", 2, "s-1", 8));
  CHECK(Filter(engine, GangPod("s", 2, "s-0", 8), nodes, 200'000).feasible.size() == 1);
  const auto bigger = engine.GangOf({"ml", "s"}, 200'000)->plan;
  REQUIRE(bigger);
  for (const PodPlacement& p : bigger->pods) CHECK(p.requests.gpus == 8);
}

// Members rec-0..rec-(bound-1) of gang rec (min-members `min`, 8 GPUs each) found already bound,
// one per node of rack b0-r1 (b0-r1-n0, b0-r1-n1, ...), as the watch reports them after a restart.
void UpsertBoundRecMembers(GangScheduler& engine, int bound, int min) {
  for (int i = 0; i < bound; ++i) {
    Pod pod = GangPod("rec", min, "rec-" + std::to_string(i), 8);
    pod.node_name = "b0-r1-n" + std::to_string(i);
    pod.phase = PodPhase::kRunning;
    engine.UpsertPod(pod);
  }
}

TEST_CASE("a partly bound gang has its remaining members planned next to the bound ones",
          "[engine][recover]") {
  // After a restart gangsched finds 2 of gang rec's 4 members bound in rack b0-r1 (by an earlier
  // instance, or a Binding that failed for the others). Rack b0-r0 is empty; b0-r1 has 2 whole
  // nodes left: the other 2 members go there, and the barrier waits only for them.
  auto engine = MakeEngine(MakeCluster(1, 2, 4, 8));
  const auto nodes = AllNodes(engine);
  UpsertBoundRecMembers(engine, 2, 4);
  const Pod p2 = GangPod("rec", 4, "rec-2", 8);
  const Pod p3 = GangPod("rec", 4, "rec-3", 8);
  engine.UpsertPod(p2);
  engine.UpsertPod(p3);
  const std::string n2 = Narrowed(Filter(engine, p2, nodes, 0));
  const std::string n3 = Narrowed(Filter(engine, p3, nodes, 1));
  CHECK(n2.rfind("b0-r1-", 0) == 0);
  CHECK(n3.rfind("b0-r1-", 0) == 0);
  CHECK(std::set<std::string>{n2, n3} == std::set<std::string>{"b0-r1-n2", "b0-r1-n3"});
  CHECK(engine.state().FreeGpus() == 64 - 32);  // 2 bound + 2 held, nothing counted twice
  CHECK(engine.Bind("ml", "rec-2", "uid-rec-2", n2, 2).action == BarrierAction::kWait);
  const auto d = engine.Bind("ml", "rec-3", "uid-rec-3", n3, 3);
  REQUIRE(d.action == BarrierAction::kBind);
  CHECK(d.pods.size() == 2);
  for (const auto& o : d.pods) engine.BindResult(o.pod_uid, true, "", 4);
  CHECK(engine.GangOf({"ml", "rec"}, 5)->phase == GangPhase::kBound);
  CHECK(engine.state().holds().empty());
}

TEST_CASE("a partly bound gang whose rack is full completes in the nearest domain with room",
          "[engine][recover]") {
  auto engine = MakeEngine(MakeCluster(1, 2, 4, 8));
  const auto nodes = AllNodes(engine);
  UpsertBoundRecMembers(engine, 4, 6);
  const Pod p4 = GangPod("rec", 6, "rec-4", 8);
  const Pod p5 = GangPod("rec", 6, "rec-5", 8);
  engine.UpsertPod(p4);
  engine.UpsertPod(p5);
  CHECK(Narrowed(Filter(engine, p4, nodes, 0)).rfind("b0-r0-", 0) == 0);
  CHECK(Narrowed(Filter(engine, p5, nodes, 1)).rfind("b0-r0-", 0) == 0);
  CHECK(engine.state().FreeGpus() == 64 - 48);
}

TEST_CASE("before posting Bindings every target node is checked against the latest view",
          "[engine][barrier]") {
  for (const char* change : {"filled", "cordoned"}) {
    SECTION(change) {
      auto nodes_in = MakeCluster(1, 1, 2, 8);
      auto engine = MakeEngine(nodes_in);
      const auto nodes = AllNodes(engine);
      const Pod a = GangPod("pair", 2, "pair-0", 4);
      const Pod b = GangPod("pair", 2, "pair-1", 4);
      engine.UpsertPod(a);
      engine.UpsertPod(b);
      const std::string na = Narrowed(Filter(engine, a, nodes, 0));
      const std::string nb = Narrowed(Filter(engine, b, nodes, 1));
      CHECK(na == nb);  // 2 x 4 GPUs on one node
      CHECK(engine.Bind("ml", "pair-0", "uid-pair-0", na, 2).action == BarrierAction::kWait);
      if (std::string(change) == "filled") {
        // Another scheduler's 8-GPU pod lands on the planned node (the watch reports it).
        Pod other;
        other.uid = "uid-other";
        other.namespace_name = "default";
        other.name = "other";
        other.node_name = na;
        other.phase = PodPhase::kRunning;
        other.requests = {1000, 1LL << 30, 8, 1};
        engine.UpsertPod(other);
      } else {
        for (auto& n : nodes_in) n.unschedulable = n.name == na;
        REQUIRE(engine.ReplaceNodes(nodes_in));
      }
      const auto d = engine.Bind("ml", "pair-1", "uid-pair-1", nb, 3);
      REQUIRE(d.action == BarrierAction::kReject);
      CHECK(d.pods.size() == 2);  // both held binds are answered, neither is posted
      CHECK_THAT(d.reason, Catch::Contains(std::string("node ") + na));
      CHECK_THAT(d.reason, Catch::Contains("nothing was bound"));
      CHECK(engine.state().holds().empty());
      const auto status = engine.GangOf({"ml", "pair"}, 4);
      REQUIRE(status);
      CHECK(status->phase == GangPhase::kWaiting);
      // Planned again at once (no backoff), on the other node.
      const std::string again = Narrowed(Filter(engine, a, nodes, 5));
      CHECK(again != na);
    }
  }
}

TEST_CASE("a PodGroup member waits until its PodGroup's size is known", "[engine]") {
  // The pod names its coscheduling PodGroup by label before gangsched has seen the PodGroup (the
  // pods and the group are created together): it must not be planned as a gang of the pods seen.
  // (API state source; standalone, the pods seen are all gangsched can know.)
  EngineOptions api_mode;
  api_mode.require_quorum_pods = true;
  auto engine = MakeEngine(MakeCluster(1, 1, 2, 8), api_mode);
  const auto nodes = AllNodes(engine);
  Pod p0;
  p0.uid = "uid-pg-0";
  p0.namespace_name = "ml";
  p0.name = "pg-0";
  p0.labels["scheduling.x-k8s.io/pod-group"] = "pg";
  p0.requests = {1000, 1LL << 30, 4, 1};
  engine.UpsertPod(p0);
  const auto rejected = Filter(engine, p0, nodes, 0);
  CHECK(rejected.feasible.empty());
  REQUIRE(rejected.unresolvable.size() == 2);
  CHECK_THAT(rejected.unresolvable.begin()->second,
             Catch::Contains("waiting for the coscheduling PodGroup ml/pg"));
  auto status = engine.GangOf({"ml", "pg"}, 1);
  REQUIRE(status);
  CHECK_FALSE(status->size_known);
  CHECK(engine.state().holds().empty());
  // The PodGroup arrives (api/ gives its members the size as gangsched's keys): minMember 2.
  Pod e0 = p0;
  e0.annotations["gangsched.io/gang"] = "pg";
  e0.annotations["gangsched.io/min-members"] = "2";
  Pod e1 = e0;
  e1.uid = "uid-pg-1";
  e1.name = "pg-1";
  engine.UpsertPod(e0);
  engine.UpsertPod(e1);
  CHECK(engine.GangOf({"ml", "pg"}, 2)->size_known);
  CHECK(engine.GangOf({"ml", "pg"}, 2)->quorum == 2);
  CHECK(Narrowed(Filter(engine, e0, nodes, 3)) == Narrowed(Filter(engine, e1, nodes, 4)));
}

TEST_CASE("a Kubeflow job's pod waits for its job object in API mode", "[engine]") {
  EngineOptions api_mode;
  api_mode.require_quorum_pods = true;
  auto engine = MakeEngine(MakeCluster(1, 1, 2, 8), api_mode);
  const auto nodes = AllNodes(engine);
  Pod ps;
  ps.uid = "uid-ps-0";
  ps.namespace_name = "ml";
  ps.name = "mycnnjob-ps-0";
  ps.labels["training.kubeflow.org/job-name"] = "mycnnjob";
  ps.labels["training.kubeflow.org/replica-type"] = "ps";
  ps.labels["training.kubeflow.org/replica-index"] = "0";
  ps.requests = {1000, 1LL << 30, 0, 1};
  engine.UpsertPod(ps);
  const auto rejected = Filter(engine, ps, nodes, 0);
  CHECK(rejected.feasible.empty());
  REQUIRE_FALSE(rejected.unresolvable.empty());
  CHECK_THAT(rejected.unresolvable.begin()->second,
             Catch::Contains("waiting for the Kubeflow job ml/mycnnjob"));
  CHECK(engine.state().holds().empty());
  // Standalone (no API), the pods seen are all there is: planned as before.
  auto standalone = MakeEngine(MakeCluster(1, 1, 2, 8));
  standalone.UpsertPod(ps);
  CHECK(Filter(standalone, ps, nodes, 0).feasible.size() == 1);
}

}  // namespace
}  // namespace gangsched::scheduler
