// Cluster state of the core: the node inventory (immutable, shared), per-node usage by bound pods
// and by holds, and the topology index over it. Tentative placement works on copies of the usage
// (cheap vectors), never by patching and restoring shared state (STYLE.md "Shape").
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <unordered_map>
#include <vector>

#include "scheduler/gang.h"
#include "scheduler/model.h"
#include "scheduler/plan.h"
#include "topology/cluster_topology.h"
#include "topology/gpu_topology.h"

namespace gangsched::scheduler {

// Annotation holding a node's `nvidia-smi topo -m` matrix (DESIGN.md §5).
inline constexpr const char* kGpuTopologyAnnotation = "gangsched.io/gpu-topology";
inline constexpr const char* kGpuIdsAnnotation = "gangsched.io/gpu-ids";

struct StateOptions {
  topology::LevelKeys levels = topology::LevelKeys::Defaults();
  // Default GPU matrices per `nvidia.com/gpu.product` label value, for nodes without the
  // annotation.
  std::map<std::string, topology::GpuTopology> default_gpu_topology;
};

// A pod that holds capacity on a node.
struct BoundPod {
  std::size_t node = 0;
  Resources requests;
  std::vector<int> gpu_ids;
  std::int32_t priority = 0;  // spec.priority: who may preempt it (DESIGN.md §3.9)
  std::string namespace_name;
  std::string name;
};

// What one node can still give: allocatable minus bound pods minus holds.
struct NodeUsage {
  Resources used;                // by bound pods
  Resources held;                // by holds of gangs
  std::uint64_t gpus_taken = 0;  // bit i set: GPU i used or held
};

class ClusterState {
 public:
  // Builds the inventory and topology. Fails (naming the node) on a bad GPU-topology annotation or
  // a duplicate node name.
  static tl::expected<ClusterState, std::string> Create(std::vector<Node> nodes,
                                                        const StateOptions& options = {});

  std::size_t node_count() const { return nodes_->size(); }
  const Node& node(std::size_t i) const { return (*nodes_)[i]; }
  std::optional<std::size_t> FindNode(std::string_view name) const;
  // FindNode for many names at once (the next lookups' slots are fetched from memory while one
  // is compared): each name's node index, or -1.
  std::vector<std::int64_t> FindNodes(const std::vector<std::string>& names) const;
  const topology::ClusterTopology& topology() const { return *topology_; }
  const topology::GpuTopology& gpu_topology(std::size_t i) const { return (*gpu_topologies_)[i]; }
  const NodeUsage& usage(std::size_t i) const { return usage_[i]; }
  Resources Free(std::size_t i) const;
  std::uint64_t FreeGpuMask(std::size_t i) const;

  // Running pods: account a bound pod's requests on its node (unknown node: ignored, returns
  // false).
  bool AddPod(const Pod& pod);
  bool RemovePod(const std::string& uid);
  const std::map<std::string, BoundPod>& bound_pods() const { return pods_; }
  // A bound pod as AddPod takes it (to carry it into another state).
  std::optional<Pod> PodOf(const std::string& uid) const;
  // Whether some bound pod has a priority below `priority` (nothing to preempt otherwise: the
  // filter of a waiting gang then skips the victim search over every bound pod).
  bool AnyPodBelow(std::int32_t priority) const {
    return !priorities_.empty() && priorities_.begin()->first < priority;
  }

  // Holds: a plan reserves its capacity until released. Replacing a gang's hold releases the old
  // one.
  void Hold(const Plan& plan);
  void Release(const GangKey& gang);
  const Plan* HoldOf(const GangKey& gang) const;
  const std::map<GangKey, Plan>& holds() const { return holds_; }

  std::int64_t TotalGpus() const;
  std::int64_t FreeGpus() const;

 private:
  void Apply(std::size_t node, const Resources& req, const std::vector<int>& gpu_ids, int sign,
             bool held);
  std::shared_ptr<const std::vector<Node>> nodes_;
  // Name lookups are on every filter call (thousands of offered names): open addressing over
  // the names kept back to back, so a lookup touches two small arrays instead of chasing a
  // hash-map node and then the Node.
  struct NameIndex {
    std::vector<std::uint64_t> slots;   // (hash tag << 32) | (node index + 1); 0: empty
    std::string names;                  // every node name, back to back
    std::vector<std::uint32_t> starts;  // node i's name: names[starts[i], starts[i + 1])
    std::optional<std::size_t> Find(std::string_view name) const { return Find(name, Hash(name)); }
    std::optional<std::size_t> Find(std::string_view name, std::uint64_t hash) const;
    static std::uint64_t Hash(std::string_view name);
  };
  std::shared_ptr<const NameIndex> by_name_;
  std::shared_ptr<const topology::ClusterTopology> topology_;
  std::shared_ptr<const std::vector<topology::GpuTopology>> gpu_topologies_;
  std::vector<NodeUsage> usage_;
  topology::CapacityIndex capacity_;  // free GPUs per node and per domain, kept incrementally
 public:
  const topology::CapacityIndex& capacity() const { return capacity_; }

 private:
  std::map<std::string, BoundPod> pods_;
  std::map<std::int32_t, int> priorities_;  // bound pods per priority
  std::map<GangKey, Plan> holds_;
};

}  // namespace gangsched::scheduler
