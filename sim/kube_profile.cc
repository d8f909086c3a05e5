#include "sim/kube_profile.h"

#include <algorithm>

namespace gangsched::sim {
namespace {

class NodeResourcesFitProfile final : public KubeProfile {
 public:
  NodeResourcesFitProfile(std::string_view name, Scoring scoring)
      : name_(name), scoring_(scoring) {}
  std::string_view Name() const override { return name_; }
  bool Filter(const scheduler::Pod& /*pod*/, const scheduler::Node& /*node*/) const override {
    return true;  // NodeResourcesFit's fit is one of the default predicates the model runs
  }
  std::int64_t Score(const scheduler::Pod& /*pod*/, const scheduler::Node& node,
                     const scheduler::Resources& requested) const override {
    return NodeResourcesFitScore(scoring_, node.allocatable, requested);
  }

 private:
  std::string_view name_;
  Scoring scoring_;
};

}  // namespace

std::int64_t NodeResourcesFitScore(Scoring scoring, const scheduler::Resources& allocatable,
                                   const scheduler::Resources& requested) {
  // kubernetes/kubernetes pkg/scheduler/framework/plugins/noderesources: most_allocated.go
  // (mostRequestedScore, commit 046d201c: requested clamped to capacity, requested * 100 /
  // capacity) and least_allocated.go (leastRequestedScore, commit 05c351a9: (capacity - requested)
  // * 100 / capacity, 0 when over); the node score is the weighted mean of the per-resource ones.
  std::int64_t sum = 0, count = 0;
  auto add = [&](std::int64_t cap, std::int64_t req) {
    if (cap <= 0) return;
    const std::int64_t used = std::min(req, cap);
    sum += scoring == Scoring::kLeastAllocated ? (cap - used) * 100 / cap : used * 100 / cap;
    ++count;
  };
  add(allocatable.milli_cpu, requested.milli_cpu);
  add(allocatable.memory_bytes, requested.memory_bytes);
  add(allocatable.gpus, requested.gpus);
  return count == 0 ? 0 : sum / count;
}

std::unique_ptr<KubeProfile> MakeKubeProfile(std::string_view policy) {
  if (policy == "binpack") {
    return std::make_unique<NodeResourcesFitProfile>("binpack", Scoring::kMostAllocated);
  }
  if (policy == "default-scheduler") {
    return std::make_unique<NodeResourcesFitProfile>("default-scheduler", Scoring::kLeastAllocated);
  }
  return nullptr;
}

}  // namespace gangsched::sim
