#include "scheduler/drain.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

#include "scheduler/fit.h"

namespace gangsched::scheduler {

std::int64_t NeedGpus(const GangSpec& spec) {
  std::int64_t gpus = 0;
  for (const auto& [role, index] : spec.QuorumMembers()) gpus += spec.roles[role].per_pod.gpus;
  return gpus;
}

std::optional<int> DrainDomain(const ClusterState& state, const GangRegistry& gangs,
                               const std::set<GangKey>& draining, const GangRecord& g) {
  const topology::ClusterTopology& topo = state.topology();
  const GangSpec& spec = SpecOf(g);
  const std::int64_t need = NeedGpus(spec);
  // Per node: the GPUs the gang may ever use there, and those free or freeable now (free, its own
  // reservation, and pods of lower priority).
  std::vector<std::int64_t> capacity(state.node_count(), 0);
  std::vector<std::int64_t> soon(state.node_count(), 0);
  for (std::size_t n = 0; n < state.node_count(); ++n) {
    const Node& node = state.node(n);
    const bool eligible = std::any_of(spec.roles.begin(), spec.roles.end(), [&](auto& r) {
      return r.per_pod.gpus > 0 && Admits(node, r);
    });
    if (!eligible) continue;
    capacity[n] = node.allocatable.gpus;
    soon[n] = std::max<std::int64_t>(0, state.Free(n).gpus);
  }
  if (const Plan* own = g.drain ? state.HoldOf(g.key) : nullptr) {
    for (const PodPlacement& p : own->pods) {
      if (auto n = state.FindNode(p.node)) soon[*n] += p.requests.gpus;
    }
  }
  const bool freeable = state.AnyPodBelow(spec.priority);
  for (const auto& [uid, bound] : state.bound_pods()) {
    if (!freeable) break;
    if (bound.priority < spec.priority && capacity[bound.node] > 0) {
      soon[bound.node] += bound.requests.gpus;
    }
  }
  // The drains that outrank this gang are the same for every candidate domain: found once, on the
  // first domain that needs them (ranks compare gang keys, which cost more than domain overlaps).
  std::optional<std::vector<int>> stronger;
  const auto outranked = [&](const topology::Domain& d) {
    if (!stronger) {
      stronger.emplace();
      const auto rank = DrainRank(g);
      for (const GangKey& key : draining) {
        const GangRecord& other = gangs.at(key);
        if (&other != &g && DrainRank(other) < rank) stronger->push_back(*other.drain);
      }
    }
    return std::any_of(stronger->begin(), stronger->end(),
                       [&](int domain) { return Overlap(topo.domain(domain), d); });
  };
  // The planner's objective: the narrowest level whose domains can hold the gang at all; there the
  // domain where it would fit soonest, with the most GPUs free and freeable.
  for (int level = topo.level_count() - 1; level >= 0; --level) {
    std::optional<int> best;
    std::int64_t best_soon = -1;
    for (const topology::Domain& d : topo.domains()) {
      if (d.level != level) continue;
      std::int64_t cap = 0;
      std::int64_t free = 0;
      for (int p = d.first_node; p < d.end_node; ++p) {
        cap += capacity[topo.NodeAt(p)];
        free += soon[topo.NodeAt(p)];
      }
      if (cap < need || free <= best_soon || outranked(d)) continue;
      best = d.id;
      best_soon = free;
    }
    if (best) return best;
  }
  return std::nullopt;
}

Plan DrainPlan(const ClusterState& state, const GangKey& gang, int domain, std::int64_t need) {
  const topology::ClusterTopology& topo = state.topology();
  const topology::Domain& d = topo.domain(domain);
  std::map<std::size_t, std::pair<std::int64_t, std::uint64_t>> own;  // node -> (GPUs, mask)
  if (const Plan* held = state.HoldOf(gang)) {
    for (const PodPlacement& p : held->pods) {
      const auto n = state.FindNode(p.node);
      if (!n) continue;
      own[*n].first += p.requests.gpus;
      for (int gpu : p.gpu_ids) own[*n].second |= std::uint64_t{1} << gpu;
    }
  }
  auto free_gpus = [&](std::size_t n) {
    const auto it = own.find(n);
    return state.Free(n).gpus + (it == own.end() ? 0 : it->second.first);
  };
  auto free_mask = [&](std::size_t n) {
    const auto it = own.find(n);
    return state.FreeGpuMask(n) | (it == own.end() ? 0 : it->second.second);
  };
  std::vector<std::pair<std::int64_t, int>> free;  // (-free GPUs, tree position)
  for (int p = d.first_node; p < d.end_node; ++p) {
    const auto n = static_cast<std::size_t>(topo.NodeAt(p));
    if (state.node(n).unschedulable) continue;
    if (const std::int64_t f = free_gpus(n); f > 0) free.emplace_back(-f, p);
  }
  std::sort(free.begin(), free.end());
  Plan plan;
  plan.gang = gang;
  plan.span_level = topo.level_count() - d.level;
  plan.span_domain = d.name;
  std::int64_t reserved = 0;
  for (const auto& [minus_free, p] : free) {
    if (reserved >= need) break;
    const auto n = static_cast<std::size_t>(topo.NodeAt(p));
    PodPlacement hold;
    hold.role_name = "drain";
    hold.node = state.node(n).name;
    hold.requests.gpus = std::min(-minus_free, need - reserved);
    const std::uint64_t mask = free_mask(n);
    for (int gpu = 0; gpu < 64 && std::ssize(hold.gpu_ids) < hold.requests.gpus; ++gpu) {
      if (mask & (std::uint64_t{1} << gpu)) hold.gpu_ids.push_back(gpu);
    }
    reserved += hold.requests.gpus;
    plan.pods.push_back(std::move(hold));
  }
  plan.nodes_used = static_cast<int>(plan.pods.size());
  return plan;
}

std::string DescribeDrain(const topology::ClusterTopology& topo, int domain, const GangKey& gang,
                          const Plan& plan, std::int64_t need) {
  std::int64_t reserved = 0;
  for (const PodPlacement& p : plan.pods) reserved += p.requests.gpus;
  const topology::Domain& d = topo.domain(domain);
  return "draining " + topo.level_names()[d.level] + " " + d.name + " for gang " + gang.ToString() +
         ": " + std::to_string(reserved) + " of " + std::to_string(need) + " GPUs free";
}

}  // namespace gangsched::scheduler
