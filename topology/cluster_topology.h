// The cluster graph (DESIGN.md §5): fabric domains (zone -> block -> rack, from node labels), nodes
// and each node's GPUs as one Boost.Graph, plus the incremental free-capacity index over its
// domains. Owns: building the tree from label keys, node-to-node distance in O(depth), domain
// membership. Must not know about pods, gangs or Kubernetes objects; takes plain label maps.
#pragma once

#include <boost/graph/adjacency_list.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace gangsched::topology {

// One fabric level, broad to narrow: the first key present on a node names its domain at that
// level.
struct Level {
  std::string name;               // "zone", "block", "rack"
  std::vector<std::string> keys;  // label keys, first present wins
};

struct LevelKeys {
  std::vector<Level> levels;  // broad to narrow
  // zone: topology.kubernetes.io/zone; block: gangsched.io/block, GKE block, EKS layer-1/2,
  // topograph spine; rack: gangsched.io/rack, GKE subblock, EKS layer-3, topograph leaf/tier-0,
  // nvidia.com/gpu.clique.
  static LevelKeys Defaults();
};

enum class VertexKind : std::uint8_t { kRoot, kDomain, kNode, kGpu };
enum class EdgeKind : std::uint8_t { kFabric, kNodeUplink, kGpuAttach };

struct VertexProps {
  VertexKind kind = VertexKind::kRoot;
  int level = -1;    // domain level index (broad to narrow), -1 otherwise
  std::string name;  // domain value, node name, or "gpuN"
  int index = -1;    // node index for kNode, GPU index for kGpu
};
struct EdgeProps {
  EdgeKind kind = EdgeKind::kFabric;
};

using Graph =
    boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, VertexProps, EdgeProps>;

// A domain of the tree: the root (level -1), or a zone/block/rack. Ids are dense: 0 is the root.
struct Domain {
  int id = 0;
  int level = -1;
  std::string name;
  int parent = -1;
  std::vector<int> children;  // child domain ids (sorted by name)
  std::vector<int> nodes;     // nodes directly under this domain (only at the narrowest level, or
                              // at the root when there are no levels)
  int first_node = 0;  // nodes of the subtree are the contiguous range [first_node, end_node)
  int end_node = 0;    // in the topology's node order
};

struct NodeInput {
  std::string name;
  std::map<std::string, std::string> labels;
  int gpus = 0;
};

class ClusterTopology {
 public:
  // Builds the tree. Levels no node carries a key for are dropped (a flat fabric there); a node
  // missing a level that others carry gets its own singleton domain at that level ("<node>/-").
  // Node order in the topology follows the tree (depth-first), see NodeOrder().
  static ClusterTopology Build(const std::vector<NodeInput>& nodes, const LevelKeys& keys);

  const Graph& graph() const { return graph_; }
  int level_count() const { return static_cast<int>(level_names_.size()); }
  const std::vector<std::string>& level_names() const { return level_names_; }
  const std::vector<Domain>& domains() const { return domains_; }
  const Domain& domain(int id) const { return domains_[id]; }
  int node_count() const { return static_cast<int>(node_domain_.size()); }

  // Input node index -> position in tree order, and back.
  int TreePosition(int node) const { return tree_pos_[node]; }
  int NodeAt(int tree_position) const { return tree_order_[tree_position]; }
  // The narrowest domain a node belongs to (the root when there are no levels).
  int LeafDomainOf(int node) const { return node_domain_[node]; }
  // The node's domain at `level` (broad to narrow), in O(depth).
  int DomainAt(int node, int level) const;
  // Domains of the node, broad to narrow (names), for output.
  std::vector<std::string> PathNames(int node) const;
  // Distance between two nodes: 0 same node; 1 same narrowest domain; ...; level_count()+1 when
  // they share only the root. O(depth).
  int Distance(int a, int b) const;

 private:
  Graph graph_;
  std::vector<std::string> level_names_;
  std::vector<Domain> domains_;
  std::vector<int> node_domain_;
  std::vector<int> tree_pos_;
  std::vector<int> tree_order_;
};

// Free GPUs per node and, for every domain, a histogram of its nodes by free GPU count, updated
// incrementally in O(depth) per change. A histogram answers "how many pods of g GPUs fit in this
// domain" in O(max GPUs per node) without visiting nodes.
class CapacityIndex {
 public:
  CapacityIndex() = default;
  CapacityIndex(const ClusterTopology& topology, const std::vector<int>& free_gpus);

  int max_gpus() const { return max_gpus_; }
  int free_gpus(int node) const { return free_[node]; }
  void SetFree(const ClusterTopology& topology, int node, int free_gpus);
  std::int64_t DomainFree(int domain) const { return domain_free_[domain]; }
  // Number of nodes of the domain with exactly f free GPUs (f in [0, max_gpus]).
  int NodesWithFree(int domain, int f) const;
  // Largest number of free GPUs on one node of the domain.
  int MaxNodeFree(int domain) const;
  // How many pods of g GPUs (g >= 1) the domain can host, counting whole pods per node.
  std::int64_t PodsThatFit(int domain, int g) const;
  // Whether pods of these sizes fit the domain's histogram together: `demand` lists (GPUs per pod,
  // pods), GPUs descending; first fit over free counts ascending (best fit), several pods per
  // node. Says nothing about CPU or memory.
  bool FitsDemand(int domain, const std::vector<std::pair<int, std::int64_t>>& demand) const;

 private:
  int max_gpus_ = 0;
  std::vector<int> free_;                  // per node
  std::vector<std::int64_t> domain_free_;  // per domain
  std::vector<int> hist_;                  // domains x (max_gpus_ + 1)
};

}  // namespace gangsched::topology
