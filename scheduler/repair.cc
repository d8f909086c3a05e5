#include "scheduler/repair.h"

#include <tuple>
#include <utility>

#include "scheduler/fit.h"

namespace gangsched::scheduler {

std::optional<std::size_t> ChooseNear(const ClusterState& state, const Resources& req,
                                      const GangMember& m, const std::vector<std::size_t>& offered,
                                      const std::vector<int>& near) {
  const auto& topo = state.topology();
  std::optional<std::size_t> best;
  std::tuple<std::int64_t, std::int64_t> best_key{};
  for (std::size_t n : offered) {
    if (!Admits(state.node(n), m.tolerations, m.node_selector)) continue;
    const Resources free = state.Free(n);
    if (!free.Fits(req)) continue;
    std::int64_t distance = 0;
    for (int other : near) distance += topo.Distance(static_cast<int>(n), other);
    const std::tuple<std::int64_t, std::int64_t> key{distance,
                                                     free.gpus};  // closest, then best fit
    if (!best || key < best_key) {
      best = n;
      best_key = key;
    }
  }
  return best;
}

bool AssignNode(const ClusterState& state, PodPlacement& p, std::size_t node) {
  std::vector<int> ids;
  if (p.requests.gpus > 0) {
    ids = state.gpu_topology(node).BestSet(state.FreeGpuMask(node),
                                           static_cast<int>(p.requests.gpus));
    if (ids.empty()) return false;
  }
  p.node = state.node(node).name;
  p.domains = state.topology().PathNames(static_cast<int>(node));
  p.gpu_ids = std::move(ids);
  return true;
}

std::optional<Plan> MoveSlot(const ClusterState& state, const Plan& held, int slot,
                             const GangMember& m, const std::vector<std::size_t>& offered) {
  Plan plan = held;
  std::vector<int> near;
  for (std::size_t i = 0; i < plan.pods.size(); ++i) {
    if (static_cast<int>(i) == slot) continue;
    if (auto n = state.FindNode(plan.pods[i].node)) near.push_back(static_cast<int>(*n));
  }
  PodPlacement& p = plan.pods[slot];
  const auto node = ChooseNear(state, p.requests, m, offered, near);
  if (!node || !AssignNode(state, p, *node)) return std::nullopt;
  return plan;
}

std::optional<Plan> PlaceExtra(const ClusterState& state, const GangRecord& g, const GangMember& m,
                               const std::vector<std::size_t>& offered) {
  std::vector<int> near;
  for (const auto& [uid, other] : g.members) {
    if (!other.bound) continue;
    if (auto n = state.FindNode(other.node)) near.push_back(static_cast<int>(*n));
  }
  Plan plan;
  plan.gang = g.key;
  PodPlacement p;
  p.role_name = m.role;
  p.index = m.index.value_or(0);
  p.requests = m.requests;
  const auto node = ChooseNear(state, p.requests, m, offered, near);
  if (!node || !AssignNode(state, p, *node)) return std::nullopt;
  plan.pods.push_back(std::move(p));
  plan.nodes_used = 1;
  return plan;
}

}  // namespace gangsched::scheduler
