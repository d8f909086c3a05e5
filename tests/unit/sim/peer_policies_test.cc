// The topology-aware peers (sim/peer_policies.h): on small clusters a hand count can check, each
// places a job where its documented rule says; and through the kube-scheduler model, over random
// workloads, every peer binds a job whole and conserves GPUs.
#include "sim/peer_policies.h"

#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "sim/cluster_builder.h"
#include "sim/model_simulation.h"
#include "tests/unit/sim/sim_test_jobs.h"

namespace gangsched::sim {
namespace {

using scheduler::Resources;

// A pod of `gpus` GPUs with the trace's CPU and memory.
GroupPod Pod(int gpus, int role = 0) { return {{kPodMilliCpu, kPodMemoryBytes, gpus, 1}, role}; }

std::vector<GroupPod> Pods(int count, int gpus, int role = 0) {
  return std::vector<GroupPod>(static_cast<std::size_t>(count), Pod(gpus, role));
}

// A cluster and kube-scheduler's cache on it, for PlaceGroup.
struct Cache {
  std::vector<scheduler::Node> nodes;
  std::vector<Resources> requested;
  std::vector<bool> usable;
  NodeTopology topology;
  std::mt19937_64 rng{1};

  explicit Cache(std::vector<scheduler::Node> n)
      : nodes(std::move(n)),
        requested(nodes.size()),
        usable(nodes.size(), true),
        topology(NodeTopology::Of(nodes)) {}
  // `gpus` GPUs of node `name` taken by one pod.
  Cache& Used(const std::string& name, int gpus) {
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (nodes[i].name == name) requested[i] += Pod(gpus).requests;
    }
    return *this;
  }
  std::optional<std::vector<std::string>> Place(const char* policy,
                                                const std::vector<GroupPod>& pods) {
    const auto profile = MakePeerProfile(policy);
    REQUIRE(profile);
    REQUIRE(profile->PlacesGroups());
    const auto placed = profile->PlaceGroup({nodes, requested, usable, topology, rng}, pods);
    if (!placed) return std::nullopt;
    REQUIRE(placed->size() == pods.size());
    std::vector<std::string> names;
    for (std::size_t n : *placed) names.push_back(nodes[n].name);
    return names;
  }
};

std::string RackOf(const std::string& node) { return node.substr(0, node.rfind('-')); }

std::set<std::string> Racks(const std::vector<std::string>& nodes) {
  std::set<std::string> out;
  for (const auto& n : nodes) out.insert(RackOf(n));
  return out;
}

scheduler::Node OneGpuNode(const std::string& name, const std::string& block,
                           const std::string& rack) {
  scheduler::Node node;
  node.name = name;
  node.allocatable = {64'000, 512LL << 30, 1, 110};
  node.labels[kBlockLabel] = block;
  node.labels[kRackLabel] = rack;
  return node;
}

TEST_CASE("kueue-tas BestFit takes the fullest rack that holds the whole podset", "[sim][peers]") {
  // Racks of two 8-GPU nodes with 4, 8 and 16 GPUs free: 2, 4 and 8 two-GPU pods fit. A podset
  // of four takes the tightest rack that holds it (b0-r1), and there the node with room for all.
  for (const char* policy : {"kueue-tas", "kueue-tas-preferred"}) {
    Cache cache(GeneratedCluster(1, 3, 2, 8));
    cache.Used("b0-r0-n0", 8).Used("b0-r0-n1", 4).Used("b0-r1-n0", 8);
    const auto placed = cache.Place(policy, Pods(4, 2));
    INFO(policy);
    REQUIRE(placed);
    CHECK(*placed == std::vector<std::string>(4, "b0-r1-n1"));
  }
}

TEST_CASE("kueue-tas required waits rather than span racks; preferred falls back up",
          "[sim][peers]") {
  // Two racks with one 8-GPU node free each: two 8-GPU pods fit the block, no rack.
  Cache cache(GeneratedCluster(1, 2, 2, 8));
  cache.Used("b0-r0-n0", 8).Used("b0-r1-n1", 8);
  CHECK_FALSE(cache.Place("kueue-tas", Pods(2, 8)));
  const auto preferred = cache.Place("kueue-tas-preferred", Pods(2, 8));
  REQUIRE(preferred);
  CHECK(std::set<std::string>(preferred->begin(), preferred->end()) ==
        std::set<std::string>{"b0-r0-n1", "b0-r1-n0"});
  // Inside a rack, Kueue fills the node with the most room first (fewest nodes).
  Cache rack(GeneratedCluster(1, 1, 2, 8));
  rack.Used("b0-r0-n0", 6);
  CHECK(*rack.Place("kueue-tas", Pods(5, 1)) == std::vector<std::string>(5, "b0-r0-n1"));
}

TEST_CASE("kueue-tas places each role as its own podset", "[sim][peers]") {
  // A PS podset (CPU only) and a worker podset: the workers go to the tightest rack for GPUs.
  Cache cache(GeneratedCluster(1, 2, 1, 8));
  cache.Used("b0-r1-n0", 4);
  std::vector<GroupPod> pods = Pods(1, 0, 0);
  for (const auto& w : Pods(4, 1, 1)) pods.push_back(w);
  const auto placed = cache.Place("kueue-tas", pods);
  REQUIRE(placed);
  for (std::size_t i = 1; i < placed->size(); ++i) CHECK((*placed)[i] == "b0-r1-n0");
}

TEST_CASE("volcano-hypernode never spans beyond the allowed tier and packs hypernodes",
          "[sim][peers]") {
  // Two blocks of two racks of two 8-GPU nodes; one node of every rack is full. 24 GPUs are
  // free in the cluster but 16 per block: a 3 x 8 job does not fit tier 2 and waits.
  Cache cache(GeneratedCluster(2, 2, 2, 8));
  for (const char* n : {"b0-r0-n0", "b0-r1-n0", "b1-r0-n0", "b1-r1-n0"}) cache.Used(n, 8);
  CHECK_FALSE(cache.Place("volcano-hypernode", Pods(3, 8)));
  // 2 x 8 fits no rack (tier 1) but a block (tier 2): both pods in one block.
  const auto two = cache.Place("volcano-hypernode", Pods(2, 8));
  REQUIRE(two);
  CHECK(two->at(0).substr(0, 2) == two->at(1).substr(0, 2));
  CHECK(Racks(*two).size() == 2);
  // A job that fits a rack goes to the fullest rack that holds it (hypernode binpack).
  cache.Used("b1-r1-n1", 4);
  const auto one = cache.Place("volcano-hypernode", Pods(1, 4));
  REQUIRE(one);
  CHECK(one->front() == "b1-r1-n1");
}

TEST_CASE("kai packs domains and keeps a job's pods in the emptiest rack of its domain",
          "[sim][peers]") {
  // docs/topology/README.md's example: block A has rack A1 of two 1-GPU nodes and racks A2-A4 of
  // one; block B three racks of two. A job of three 1-GPU pods fits no rack; block A (5 GPUs) is
  // fuller for it than B (6) and is taken; in it rack A1, with the most room, gets two pods.
  std::vector<scheduler::Node> nodes = {
      OneGpuNode("a1-x", "A", "A1"), OneGpuNode("a1-y", "A", "A1"), OneGpuNode("a2-x", "A", "A2"),
      OneGpuNode("a3-x", "A", "A3"), OneGpuNode("a4-x", "A", "A4"), OneGpuNode("b1-x", "B", "B1"),
      OneGpuNode("b1-y", "B", "B1"), OneGpuNode("b2-x", "B", "B2"), OneGpuNode("b2-y", "B", "B2"),
      OneGpuNode("b3-x", "B", "B3"), OneGpuNode("b3-y", "B", "B3")};
  Cache cache(nodes);
  const auto placed = cache.Place("kai", Pods(3, 1));
  REQUIRE(placed);
  std::map<char, int> by_block;
  int in_a1 = 0;
  for (const auto& n : *placed) {
    ++by_block[n[0]];
    if (n.rfind("a1-", 0) == 0) ++in_a1;
  }
  CHECK(by_block['a'] == 3);
  CHECK(in_a1 == 2);
  // Required block: a job larger than any block waits.
  CHECK_FALSE(cache.Place("kai", Pods(7, 1)));
}

TEST_CASE("native-tas takes the rack placement with the best bin-packing score", "[sim][peers]") {
  // Racks with 4, 8 and 16 GPUs free: four 1-GPU pods fit each; the fullest placement after
  // them is b0-r0. A job that fits no single rack waits (the constraint is required).
  Cache cache(GeneratedCluster(1, 3, 2, 8));
  cache.Used("b0-r0-n0", 8).Used("b0-r0-n1", 4).Used("b0-r1-n0", 8);
  const auto placed = cache.Place("native-tas", Pods(4, 1));
  REQUIRE(placed);
  CHECK(Racks(*placed) == std::set<std::string>{"b0-r0"});
  CHECK_FALSE(cache.Place("native-tas", Pods(3, 8)));
}

TEST_CASE("gang-binpack-model places a gang whole or not at all", "[sim][peers]") {
  Cache cache(GeneratedCluster(1, 1, 2, 8));
  cache.Used("b0-r0-n0", 4).Used("b0-r0-n1", 4);
  CHECK_FALSE(cache.Place("gang-binpack-model", Pods(2, 8)));
  const auto placed = cache.Place("gang-binpack-model", Pods(2, 4));
  REQUIRE(placed);
  CHECK(std::set<std::string>(placed->begin(), placed->end()).size() == 2);
}

TEST_CASE("through the model every peer binds jobs whole and conserves GPUs", "[sim][peers]") {
  // Racks of 32 GPUs hold every job, so each peer finishes all of them. The model checks after
  // every event that no gang stays partly bound (a violation fails the run); a job's pods are
  // bound at one moment, so no sample holds GPUs of a job that has not started.
  const auto nodes = GeneratedCluster(2, 2, 4, 8);  // 128 GPUs
  const unsigned seed = GENERATE(3u, 4u);
  const auto jobs = RandomJobs(seed, 80);
  for (const std::string& policy : PeerPolicyNames()) {
    INFO(policy << ", seed " << seed);
    const auto report = SimulateOnModel(nodes, jobs, policy);
    INFO((report ? std::string() : report.error()));
    REQUIRE(report.has_value());
    CHECK(report->summary.finished == 80);
    CHECK(report->summary.gangs_bound == 80);
    CHECK(report->summary.max_idle_partial_gpus == 0);
    for (const Sample& s : report->samples) {
      CHECK(s.allocated_gpus + s.free_gpus == 128);
      CHECK(s.idle_partial_gpus == 0);
    }
    for (const JobRecord& r : report->jobs) {
      REQUIRE(r.bound_ms >= r.last_created_ms);
      CHECK(r.placed_pods == 0);  // finished: nothing left bound
    }
  }
}

TEST_CASE("a peer's group waits whole and is bound whole once room frees", "[sim][peers]") {
  // One rack of two 8-GPU nodes: "b" (2 x 8 GPUs) arrives while "a" holds the rack and is bound
  // only when "a" has finished, both its pods at one moment.
  const auto nodes = GeneratedCluster(1, 1, 2, 8);
  const std::vector<SimJob> jobs = {Job("a", 0, 100, 2, 8), Job("b", 10, 100, 2, 8)};
  for (const std::string& policy : PeerPolicyNames()) {
    INFO(policy);
    const auto report = SimulateOnModel(nodes, jobs, policy);
    REQUIRE(report.has_value());
    const JobRecord& a = report->jobs[0];
    const JobRecord& b = report->jobs[1];
    REQUIRE(a.finish > 0);
    CHECK(b.bound_ms >= a.finish * 1000);
    CHECK(b.bound_ms < a.finish * 1000 + 2'000);
    CHECK(report->summary.finished == 2);
  }
}

}  // namespace
}  // namespace gangsched::sim
