// kube-scheduler's own plugins in a profile without gangsched's extender: what the kube-scheduler
// model (sim/kube_scheduler_model.h) runs for the per-pod baselines of `gangsched simulate`, and
// the seam where other scheduling policies plug into the model (issue 12's topology-aware peers).
// The model always runs kube-scheduler's default predicates itself (NodeUnschedulable,
// TaintToleration, NodeAffinity, NodeResourcesFit's fit); a profile adds its own Filter and
// scores the nodes that are left. It has no Permit step yet: a gang baseline built on one
// (coscheduling's wait at Permit) needs the model to hold assumed pods, which it does not do.
// Must not keep state between calls: the model may ask in any order.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "scheduler/model.h"

namespace gangsched::sim {

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
};

// NodeResourcesFit's scoring strategies.
enum class Scoring : std::uint8_t { kLeastAllocated, kMostAllocated };

// NodeResourcesFit's score of a node: per resource 0..100, averaged with equal weights over cpu,
// memory and nvidia.com/gpu (a scoringStrategy that lists the GPU; kube-scheduler's default lists
// cpu and memory only). Resources the node has none of are skipped.
std::int64_t NodeResourcesFitScore(Scoring scoring, const scheduler::Resources& allocatable,
                                   const scheduler::Resources& requested);

// A profile with no Filter of its own and NodeResourcesFit scoring: "binpack" (MostAllocated) or
// "default-scheduler" (LeastAllocated, kube-scheduler's default strategy); nullptr otherwise.
std::unique_ptr<KubeProfile> MakeKubeProfile(std::string_view policy);

}  // namespace gangsched::sim
