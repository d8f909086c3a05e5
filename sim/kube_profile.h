// kube-scheduler's own plugins in a profile without gangsched's extender: what the kube-scheduler
// model (sim/kube_scheduler_model.h) runs for the per-pod baselines of `gangsched simulate`, and
// the seam where other scheduling policies plug into the model (issue 12's topology-aware peers).
// The model always runs kube-scheduler's default predicates itself (NodeUnschedulable,
// TaintToleration, NodeAffinity, NodeResourcesFit's fit); a profile adds its own Filter and
// scores the nodes that are left. A profile with pod groups (coscheduling) also answers
// PreFilter, Permit and PostFilter for a pod of a gang from its group's counts, and the model
// runs the framework around them: pods waiting at Permit, allowed or rejected together, and a
// queue sorted by group. A profile that places groups (the topology-aware peers,
// sim/peer_policies.h) decides every pod of a job at once in the model's group cycle
// (kube_scheduler_groups.cc). Must not keep state between calls: the model keeps it and may ask
// in any order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "scheduler/holds.h"
#include "scheduler/model.h"

namespace gangsched::sim {

using scheduler::Millis;

// A pod group (a gang of the model's workload) as a coscheduling plugin counts it.
struct GroupCounts {
  int pods = 0;        // its pods that exist (the pod lister)
  int assigned = 0;    // waiting at Permit, binding or bound (assignedPodsByPG), this pod included
  int min_member = 0;  // the PodGroup's minMember
};

struct PermitAnswer {
  bool wait = false;  // false: allowed, and every waiting pod of its group with it
  Millis timeout = 0;
};

// The fabric of the model's nodes as the peers' topology APIs see it: levels node < rack < block
// < cluster, from the labels gangsched.io/rack and gangsched.io/block (sim/cluster_builder.h). A
// node without them is a rack (and block) of its own.
struct NodeTopology {
  std::vector<int> rack;                             // per node
  std::vector<int> block;                            // per node
  std::vector<std::vector<std::size_t>> rack_nodes;  // per rack, in node order
  std::vector<std::vector<int>> block_racks;         // per block, in rack order
  static NodeTopology Of(const std::vector<scheduler::Node>& nodes);
};

// One pod of a group to place; pods of one role are alike and come one after the other, roles in
// the order the operator creates them.
struct GroupPod {
  scheduler::Resources requests;
  int role = 0;
};

// What a group placement reads: kube-scheduler's cache when the group cycle starts.
struct GroupView {
  const std::vector<scheduler::Node>& nodes;
  const std::vector<scheduler::Resources>& requested;  // per node: bound and assumed pods
  const std::vector<bool>& usable;  // per node: present and admits the group's pods (cordon,
                                    // taints, node selector)
  const NodeTopology& topology;
  std::mt19937_64& rng;  // ties between equal choices, seeded
};

class KubeProfile {
 public:
  virtual ~KubeProfile() = default;
  virtual std::string_view Name() const = 0;
  // Whether `node`, which passed the default predicates, stays a candidate for `pod`.
  virtual bool Filter(const scheduler::Pod& pod, const scheduler::Node& node) const = 0;
  // The node's score, 0..100 (framework.MaxNodeScore); `requested` is what kube-scheduler's cache
  // counts on the node with `pod` on it. The model takes the highest, ties broken at random.
  virtual std::int64_t Score(const scheduler::Pod& pod, const scheduler::Node& node,
                             const scheduler::Resources& requested) const = 0;

  // ---- Pod groups: asked only for pods of a gang, and only when Groups() ----
  virtual bool Groups() const { return false; }
  // Why the pod cannot be scheduled before any node is looked at; nullopt passes.
  virtual std::optional<std::string> PreFilter(const GroupCounts& /*group*/) const {
    return std::nullopt;
  }
  virtual PermitAnswer Permit(const GroupCounts& /*group*/) const { return {}; }
  // After a pod of the group failed its scheduling cycle: whether every pod of the group waiting
  // at Permit is rejected now.
  virtual bool RejectWaitingOnFailure(const GroupCounts& /*group*/) const { return false; }

  // ---- Group placement: asked only when PlacesGroups() ----
  virtual bool PlacesGroups() const { return false; }
  // The node of every pod of `pods` (indices into view.nodes, in the order of `pods`), or nullopt
  // when the group cannot be placed now. All or nothing: the model assumes and binds every pod.
  virtual std::optional<std::vector<std::size_t>> PlaceGroup(
      const GroupView& /*view*/, const std::vector<GroupPod>& /*pods*/) const {
    return std::nullopt;
  }
};

// NodeResourcesFit's scoring strategies.
enum class Scoring : std::uint8_t { kLeastAllocated, kMostAllocated };

// NodeResourcesFit's score of a node: per resource 0..100, averaged with equal weights over cpu,
// memory and nvidia.com/gpu (a scoringStrategy that lists the GPU; kube-scheduler's default lists
// cpu and memory only). Resources the node has none of are skipped.
std::int64_t NodeResourcesFitScore(Scoring scoring, const scheduler::Resources& allocatable,
                                   const scheduler::Resources& requested);

// A profile with no Filter of its own and NodeResourcesFit scoring: "binpack" (MostAllocated),
// "default-scheduler" (LeastAllocated, kube-scheduler's default strategy), or "coscheduling"
// (MostAllocated with coscheduling's pod groups); a peer that places groups
// (sim/peer_policies.h); nullptr otherwise.
std::unique_ptr<KubeProfile> MakeKubeProfile(std::string_view policy);

}  // namespace gangsched::sim
