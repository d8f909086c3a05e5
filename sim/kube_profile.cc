#include "sim/kube_profile.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "sim/cluster_builder.h"
#include "sim/peer_policies.h"

namespace gangsched::sim {
namespace {

class NodeResourcesFitProfile : public KubeProfile {
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

// kubernetes-sigs/scheduler-plugins pkg/coscheduling (coscheduling.go and core/core.go, commit
// 903da7df, v0.35.4-devel): PreFilter rejects a pod while fewer pods of its group exist than
// minMember; Permit lets a pod wait until minMember pods of its group are assigned (waiting,
// binding or bound), then allows every waiting one; the wait is PodGroup scheduleTimeoutSeconds,
// else permitWaitingTimeSeconds (DefaultWaitTime 60 s), and a pod that times out is unreserved,
// which rejects every waiting pod of its group; PostFilter rejects the group's waiting pods when
// a pod of it fails and the share not yet assigned exceeds podGroupRejectPercentage (0 by
// default: any). The model runs the framework around these answers and sorts its queue by group
// (Less: priority, then the group's creation or last failure time). podGroupBackoffSeconds (0 by
// default) and minResources (unset for the model's gangs) are not modelled.
class CoschedulingProfile final : public NodeResourcesFitProfile {
 public:
  CoschedulingProfile() : NodeResourcesFitProfile("coscheduling", Scoring::kMostAllocated) {}
  bool Groups() const override { return true; }
  std::optional<std::string> PreFilter(const GroupCounts& group) const override {
    if (group.pods >= group.min_member) return std::nullopt;
    return "cannot find enough sibling pods, current pods number: " + std::to_string(group.pods) +
           ", minMember of group: " + std::to_string(group.min_member);
  }
  PermitAnswer Permit(const GroupCounts& group) const override {
    if (group.assigned >= group.min_member) return {};
    return {true, kPermitWaitingTime};
  }
  bool RejectWaitingOnFailure(const GroupCounts& group) const override {
    return group.assigned < group.min_member;
  }

 private:
  static constexpr Millis kPermitWaitingTime = 60'000;
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
  if (policy == "coscheduling") return std::make_unique<CoschedulingProfile>();
  if (policy == "default-scheduler") {
    return std::make_unique<NodeResourcesFitProfile>("default-scheduler", Scoring::kLeastAllocated);
  }
  return MakePeerProfile(policy);
}

NodeTopology NodeTopology::Of(const std::vector<scheduler::Node>& nodes) {
  NodeTopology t;
  std::map<std::string, int> blocks;
  std::map<std::pair<int, std::string>, int> racks;
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    auto label = [&](const char* key) -> std::string {
      const auto it = nodes[n].labels.find(key);
      return it == nodes[n].labels.end() ? "\n" + nodes[n].name : it->second;
    };
    const auto [b, new_block] = blocks.emplace(label(kBlockLabel), static_cast<int>(blocks.size()));
    if (new_block) t.block_racks.emplace_back();
    const auto [r, new_rack] =
        racks.emplace(std::pair{b->second, label(kRackLabel)}, static_cast<int>(racks.size()));
    if (new_rack) {
      t.rack_nodes.emplace_back();
      t.block_racks[static_cast<std::size_t>(b->second)].push_back(r->second);
    }
    t.block.push_back(b->second);
    t.rack.push_back(r->second);
    t.rack_nodes[static_cast<std::size_t>(r->second)].push_back(n);
  }
  return t;
}

}  // namespace gangsched::sim
