// kube-scheduler's own plugins in a profile without gangsched's extender: what the kube-scheduler
// model (sim/kube_scheduler_model.h) runs for the per-pod baselines of `gangsched simulate`, and
// the seam where other scheduling policies plug into the model (issue 12's topology-aware peers).
// The model always runs kube-scheduler's default predicates itself (NodeUnschedulable,
// TaintToleration, NodeAffinity, NodeResourcesFit's fit); a profile adds its own Filter and
// scores the nodes that are left. A profile with pod groups (coscheduling) also answers
// PreFilter, Permit and PostFilter for a pod of a gang from its group's counts, and the model
// runs the framework around them: pods waiting at Permit, allowed or rejected together, and a
// queue sorted by group. Must not keep state between calls: the model keeps it and may ask in any
// order.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

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
// (MostAllocated with coscheduling's pod groups); nullptr otherwise.
std::unique_ptr<KubeProfile> MakeKubeProfile(std::string_view policy);

}  // namespace gangsched::sim
