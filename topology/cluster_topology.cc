#include "topology/cluster_topology.h"

#include <algorithm>
#include <array>
#include <tuple>
#include <utility>

namespace gangsched::topology {

LevelKeys LevelKeys::Defaults() {
  LevelKeys keys;
  keys.levels.push_back({"zone", {"topology.kubernetes.io/zone"}});
  keys.levels.push_back(
      {"block",
       {"gangsched.io/block", "cloud.google.com/gce-topology-block",
        "network.topology.nvidia.com/spine", "fabric.topograph.run/tier-1",
        "topology.k8s.aws/network-node-layer-2", "oci.oraclecloud.com/host.network_block_id"}});
  keys.levels.push_back({"rack",
                         {"gangsched.io/rack", "cloud.google.com/gce-topology-subblock",
                          "network.topology.nvidia.com/leaf", "fabric.topograph.run/tier-0",
                          "topology.k8s.aws/network-node-layer-3",
                          "oci.oraclecloud.com/host.rack_id", "nvidia.com/gpu.clique"}});
  return keys;
}

namespace {

// The value of the first key of `level` present on the node, or "" when none is.
std::string LevelValue(const NodeInput& node, const Level& level) {
  for (const auto& key : level.keys) {
    auto it = node.labels.find(key);
    if (it != node.labels.end() && !it->second.empty()) return it->second;
  }
  return {};
}

}  // namespace

ClusterTopology ClusterTopology::Build(const std::vector<NodeInput>& nodes, const LevelKeys& keys) {
  ClusterTopology t;
  const int n = static_cast<int>(nodes.size());

  // Keep only levels at least one node carries.
  std::vector<const Level*> levels;
  for (const auto& level : keys.levels) {
    bool any = std::any_of(nodes.begin(), nodes.end(),
                           [&](const NodeInput& node) { return !LevelValue(node, level).empty(); });
    if (any) {
      levels.push_back(&level);
      t.level_names_.push_back(level.name);
    }
  }
  const int depth = static_cast<int>(levels.size());

  // Each node's path of values; a missing value becomes a singleton domain named after the node.
  std::vector<std::vector<std::string>> paths(n);
  for (int i = 0; i < n; ++i) {
    for (const Level* level : levels) {
      std::string value = LevelValue(nodes[i], *level);
      if (value.empty()) value = nodes[i].name + "/no-" + level->name;
      paths[i].push_back(std::move(value));
    }
  }

  // Tree order: sort nodes by (path, name).
  t.tree_order_.resize(n);
  for (int i = 0; i < n; ++i) t.tree_order_[i] = i;
  std::sort(t.tree_order_.begin(), t.tree_order_.end(), [&](int a, int b) {
    return std::tie(paths[a], nodes[a].name) < std::tie(paths[b], nodes[b].name);
  });
  t.tree_pos_.resize(n);
  for (int pos = 0; pos < n; ++pos) t.tree_pos_[t.tree_order_[pos]] = pos;

  // Domains: walk nodes in tree order, opening a new domain whenever the path prefix changes.
  Domain root;
  root.id = 0;
  root.level = -1;
  root.end_node = n;
  t.domains_.push_back(root);
  t.node_domain_.assign(n, 0);
  auto& g = t.graph_;
  std::vector<Graph::vertex_descriptor> domain_vertex;
  domain_vertex.push_back(boost::add_vertex(VertexProps{VertexKind::kRoot, -1, "cluster", -1}, g));

  std::vector<int> open(depth, -1);  // current domain id per level
  std::vector<std::string> open_path;
  for (int pos = 0; pos < n; ++pos) {
    const int node = t.tree_order_[pos];
    const auto& path = paths[node];
    int first_diff = 0;
    while (first_diff < depth && first_diff < static_cast<int>(open_path.size()) &&
           open_path[first_diff] == path[first_diff]) {
      ++first_diff;
    }
    for (int l = first_diff; l < depth; ++l) {
      const int parent = l == 0 ? 0 : open[l - 1];
      // Close the previous domain at this level.
      if (open[l] >= 0) t.domains_[open[l]].end_node = pos;
      Domain d;
      d.id = static_cast<int>(t.domains_.size());
      d.level = l;
      d.name = path[l];
      d.parent = parent;
      d.first_node = pos;
      d.end_node = n;
      t.domains_[parent].children.push_back(d.id);
      t.domains_.push_back(d);
      domain_vertex.push_back(
          boost::add_vertex(VertexProps{VertexKind::kDomain, l, path[l], d.id}, g));
      boost::add_edge(domain_vertex[parent], domain_vertex[d.id], EdgeProps{EdgeKind::kFabric}, g);
      open[l] = d.id;
    }
    open_path = path;
    const int leaf = depth == 0 ? 0 : open[depth - 1];
    t.node_domain_[node] = leaf;
    t.domains_[leaf].nodes.push_back(node);
    auto nv = boost::add_vertex(VertexProps{VertexKind::kNode, -1, nodes[node].name, node}, g);
    boost::add_edge(domain_vertex[leaf], nv, EdgeProps{EdgeKind::kNodeUplink}, g);
    for (int gpu = 0; gpu < nodes[node].gpus; ++gpu) {
      auto gv =
          boost::add_vertex(VertexProps{VertexKind::kGpu, -1, "gpu" + std::to_string(gpu), gpu}, g);
      boost::add_edge(nv, gv, EdgeProps{EdgeKind::kGpuAttach}, g);
    }
  }
  for (int l = 0; l < depth; ++l) {
    if (open[l] >= 0) t.domains_[open[l]].end_node = n;
  }
  return t;
}

int ClusterTopology::DomainAt(int node, int level) const {
  int d = node_domain_[node];
  while (d > 0 && domains_[d].level > level) d = domains_[d].parent;
  return d;
}

std::vector<std::string> ClusterTopology::PathNames(int node) const {
  std::vector<std::string> names(level_names_.size());
  for (int d = node_domain_[node]; d > 0; d = domains_[d].parent) {
    names[domains_[d].level] = domains_[d].name;
  }
  return names;
}

int ClusterTopology::Distance(int a, int b) const {
  if (a == b) return 0;
  int da = node_domain_[a];
  int db = node_domain_[b];
  int distance = 1;
  while (da != db) {  // both at the same level: climb together
    da = domains_[da].parent;
    db = domains_[db].parent;
    ++distance;
  }
  return distance;
}

CapacityIndex::CapacityIndex(const ClusterTopology& topology, const std::vector<int>& free_gpus)
    : free_(free_gpus) {
  max_gpus_ = 0;
  for (int f : free_gpus) max_gpus_ = std::max(max_gpus_, f);
  const auto domains = topology.domains().size();
  domain_free_.assign(domains, 0);
  hist_.assign(domains * static_cast<std::size_t>(max_gpus_ + 1), 0);
  for (int node = 0; node < static_cast<int>(free_.size()); ++node) {
    for (int d = topology.LeafDomainOf(node);; d = topology.domain(d).parent) {
      domain_free_[d] += free_[node];
      ++hist_[static_cast<std::size_t>(d) * (max_gpus_ + 1) + free_[node]];
      if (d == 0) break;
    }
  }
}

void CapacityIndex::SetFree(const ClusterTopology& topology, int node, int free_gpus) {
  free_gpus = std::clamp(free_gpus, 0, max_gpus_);
  const int old = free_[node];
  if (old == free_gpus) return;
  free_[node] = free_gpus;
  const std::size_t row = max_gpus_ + 1;
  for (int d = topology.LeafDomainOf(node);; d = topology.domain(d).parent) {
    domain_free_[d] += free_gpus - old;
    --hist_[d * row + old];
    ++hist_[d * row + free_gpus];
    if (d == 0) break;
  }
}

int CapacityIndex::NodesWithFree(int domain, int f) const {
  if (f < 0 || f > max_gpus_) return 0;
  return hist_[static_cast<std::size_t>(domain) * (max_gpus_ + 1) + f];
}

int CapacityIndex::MaxNodeFree(int domain) const {
  for (int f = max_gpus_; f > 0; --f) {
    if (NodesWithFree(domain, f) > 0) return f;
  }
  return 0;
}

std::int64_t CapacityIndex::PodsThatFit(int domain, int g) const {
  if (g <= 0) return 0;
  std::int64_t pods = 0;
  for (int f = g; f <= max_gpus_; ++f)
    pods += static_cast<std::int64_t>(NodesWithFree(domain, f)) * (f / g);
  return pods;
}

bool CapacityIndex::FitsDemand(int domain,
                               const std::vector<std::pair<int, std::int64_t>>& demand) const {
  std::array<std::int64_t, 65> hist{};  // a node has at most 64 GPUs (GPU sets are 64-bit masks)
  for (int f = 1; f <= max_gpus_; ++f) hist[f] = NodesWithFree(domain, f);
  for (const auto& [g, count] : demand) {
    std::int64_t need = count;
    for (int f = g; f <= max_gpus_ && need > 0; ++f) {
      if (hist[f] == 0) continue;
      const int per = f / g;
      const std::int64_t full = std::min<std::int64_t>(hist[f], need / per);
      hist[f] -= full;
      hist[f - per * g] += full;
      need -= full * per;
      if (need > 0 && need < per && hist[f] > 0) {
        --hist[f];
        ++hist[f - static_cast<int>(need) * g];
        need = 0;
      }
    }
    if (need > 0) return false;
  }
  return true;
}

}  // namespace gangsched::topology
