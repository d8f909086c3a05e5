#include "sim/policy.h"

#include <map>
#include <optional>
#include <variant>

#include "scheduler/planner.h"
#include "sim/kube_profile.h"

namespace gangsched::sim {
namespace {

using scheduler::ClusterState;
using scheduler::GangSpec;
using scheduler::Resources;

// gangsched: the real planner, unchanged.
class GangschedPolicy final : public Policy {
 public:
  std::string_view Name() const override { return "gangsched"; }
  bool IsGang() const override { return true; }
  std::vector<PodAssignment> Place(const ClusterState& state, const GangSpec& gang,
                                   const std::vector<std::pair<int, int>>& /*pending*/,
                                   std::mt19937& /*rng*/) const override {
    const auto result = planner_.PlanGang(state, gang);
    const auto* plan = std::get_if<scheduler::Plan>(&result);
    if (plan == nullptr) return {};
    std::vector<PodAssignment> out;
    for (const auto& p : plan->pods) {
      out.push_back({p.role, p.index, *state.FindNode(p.node), p.gpu_ids, p.requests});
    }
    return out;
  }

 private:
  scheduler::Planner planner_;
};

// Per-pod placement over a scratch overlay of what this decision already took: the shared state is
// never modified (STYLE.md "Shape").
class PerPodPolicy : public Policy {
 public:
  PerPodPolicy(std::string_view name, Scoring scoring, bool gang)
      : name_(name), scoring_(scoring), gang_(gang) {}
  std::string_view Name() const override { return name_; }
  bool IsGang() const override { return gang_; }

  std::vector<PodAssignment> Place(const ClusterState& state, const GangSpec& gang,
                                   const std::vector<std::pair<int, int>>& pending,
                                   std::mt19937& rng) const override {
    std::map<std::size_t, std::pair<Resources, std::uint64_t>> taken;  // node -> (requests, GPUs)
    std::vector<PodAssignment> out;
    for (const auto& [role_index, index] : pending) {
      const auto& role = gang.roles[static_cast<std::size_t>(role_index)];
      Resources req = role.per_pod;
      req.pods = 1;
      std::optional<std::size_t> best;
      std::int64_t best_score = -1;
      int ties = 0;
      for (std::size_t n = 0; n < state.node_count(); ++n) {
        const auto& node = state.node(n);
        if (node.unschedulable || !scheduler::ToleratesAll(node.taints, role.tolerations) ||
            !scheduler::MatchesSelector(node.labels, role.node_selector)) {
          continue;
        }
        Resources free = state.Free(n);
        if (auto it = taken.find(n); it != taken.end()) free -= it->second.first;
        if (!free.Fits(req)) continue;
        const Resources requested = node.allocatable - free + req;
        const std::int64_t score = NodeResourcesFitScore(scoring_, node.allocatable, requested);
        if (score > best_score) {
          best_score = score;
          best = n;
          ties = 1;
        } else if (score == best_score && std::uniform_int_distribution<int>(0, ties++)(rng) == 0) {
          best = n;  // reservoir sampling: uniform among the best-scored nodes
        }
      }
      if (!best) {
        if (gang_) return {};
        continue;
      }
      auto& [node_taken, node_gpus] = taken[*best];
      std::uint64_t mask = state.FreeGpuMask(*best) & ~node_gpus;
      std::vector<int> ids;  // the lowest free GPUs, as a device plugin without topology picks
      for (int g = 0; g < 64 && static_cast<std::int64_t>(ids.size()) < req.gpus; ++g) {
        if (mask & (std::uint64_t{1} << g)) {
          ids.push_back(g);
          node_gpus |= std::uint64_t{1} << g;
        }
      }
      node_taken += req;
      out.push_back({role_index, index, *best, std::move(ids), req});
    }
    return out;
  }

 private:
  std::string_view name_;
  Scoring scoring_;
  bool gang_;
};

}  // namespace

std::vector<std::string> PolicyNames() {
  return {"gangsched", "gang-binpack", "binpack", "default-scheduler"};
}

std::unique_ptr<Policy> MakePolicy(std::string_view name) {
  if (name == "gangsched") return std::make_unique<GangschedPolicy>();
  if (name == "gang-binpack") {
    return std::make_unique<PerPodPolicy>("gang-binpack", Scoring::kMostAllocated, true);
  }
  if (name == "binpack") {
    return std::make_unique<PerPodPolicy>("binpack", Scoring::kMostAllocated, false);
  }
  if (name == "default-scheduler") {
    return std::make_unique<PerPodPolicy>("default-scheduler", Scoring::kLeastAllocated, false);
  }
  return nullptr;
}

}  // namespace gangsched::sim
