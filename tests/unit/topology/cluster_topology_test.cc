#include "topology/cluster_topology.h"

#include <catch2/catch.hpp>

namespace gangsched::topology {
namespace {

NodeInput Node(const std::string& name, const std::string& block, const std::string& rack,
               int gpus = 8) {
  NodeInput n{name, {}, gpus};
  if (!block.empty()) n.labels["gangsched.io/block"] = block;
  if (!rack.empty()) n.labels["gangsched.io/rack"] = rack;
  return n;
}

TEST_CASE("distances follow the fabric tree", "[topology]") {
  const auto t = ClusterTopology::Build(
      {Node("a", "b1", "r1"), Node("b", "b1", "r1"), Node("c", "b1", "r2"), Node("d", "b2", "r3")},
      LevelKeys::Defaults());
  CHECK(t.level_names() == std::vector<std::string>{"block", "rack"});  // zone dropped: unused
  CHECK(t.Distance(0, 0) == 0);
  CHECK(t.Distance(0, 1) == 1);
  CHECK(t.Distance(0, 2) == 2);
  CHECK(t.Distance(0, 3) == 3);
  CHECK(t.PathNames(2) == std::vector<std::string>{"b1", "r2"});
  CHECK(t.domain(t.DomainAt(3, 0)).name == "b2");
}

TEST_CASE("the graph holds domains, nodes and GPUs", "[topology]") {
  const auto t = ClusterTopology::Build({Node("a", "b1", "r1", 8), Node("b", "b1", "r2", 4)},
                                        LevelKeys::Defaults());
  // root + block + 2 racks + 2 nodes + 12 GPUs
  CHECK(boost::num_vertices(t.graph()) == 1 + 1 + 2 + 2 + 12);
  CHECK(boost::num_edges(t.graph()) == boost::num_vertices(t.graph()) - 1);  // a tree
}

TEST_CASE("a node missing a level gets its own domain there", "[topology]") {
  const auto t =
      ClusterTopology::Build({Node("a", "b1", "r1"), Node("b", "b1", "")}, LevelKeys::Defaults());
  CHECK(t.Distance(0, 1) == 2);  // same block, not the same rack
}

TEST_CASE("other providers' label keys are read", "[topology]") {
  NodeInput gke{"g1",
                {{"cloud.google.com/gce-topology-block", "blk"},
                 {"cloud.google.com/gce-topology-subblock", "sb"}},
                8};
  NodeInput eks{"e1",
                {{"topology.k8s.aws/network-node-layer-2", "blk"},
                 {"topology.k8s.aws/network-node-layer-3", "sb"}},
                8};
  const auto t = ClusterTopology::Build({gke, eks}, LevelKeys::Defaults());
  CHECK(t.level_count() == 2);
  CHECK(t.Distance(0, 1) == 1);
}

TEST_CASE("subtree nodes are contiguous in tree order", "[topology]") {
  const auto t = ClusterTopology::Build(
      {Node("z", "b2", "r9"), Node("a", "b1", "r1"), Node("m", "b2", "r9"), Node("q", "b1", "r2")},
      LevelKeys::Defaults());
  for (const auto& d : t.domains()) {
    for (int pos = d.first_node; pos < d.end_node; ++pos) {
      const int node = t.NodeAt(pos);
      if (d.level >= 0) CHECK(t.DomainAt(node, d.level) == d.id);
    }
  }
}

TEST_CASE("the capacity index answers per-domain questions incrementally", "[topology]") {
  const auto t = ClusterTopology::Build(
      {Node("a", "b1", "r1"), Node("b", "b1", "r1"), Node("c", "b1", "r2")}, LevelKeys::Defaults());
  CapacityIndex idx(t, {8, 8, 8});
  const int r1 = t.DomainAt(0, 1);
  CHECK(idx.DomainFree(0) == 24);
  CHECK(idx.PodsThatFit(r1, 4) == 4);
  idx.SetFree(t, 0, 3);
  CHECK(idx.DomainFree(r1) == 11);
  CHECK(idx.DomainFree(0) == 19);
  CHECK(idx.PodsThatFit(r1, 4) == 2);
  CHECK(idx.PodsThatFit(r1, 1) == 11);
  CHECK(idx.MaxNodeFree(r1) == 8);
  CHECK(idx.NodesWithFree(r1, 3) == 1);
}

}  // namespace
}  // namespace gangsched::topology
