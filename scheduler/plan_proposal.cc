#include "scheduler/plan_proposal.h"

#include <algorithm>
#include <utility>

namespace gangsched::scheduler {

PlanResult PlanRemaining(const ClusterState& state, const GangRecord& g, const GangSpec& spec,
                         const PlannerOptions& options) {
  // A gang with bound members (found so after a restart, or left so by a failed Binding) plans
  // only its other members, in the narrowest domain around the bound ones that fits them
  // (DESIGN.md §3 "Recover"). A gang with nothing bound is planned whole.
  GangSpec rest = spec;
  std::vector<std::size_t> bound_nodes;
  int bound = 0;
  for (const auto& [uid, m] : g.members) {
    if (!m.bound) continue;
    ++bound;
    if (auto n = state.FindNode(m.node)) bound_nodes.push_back(*n);
    for (RoleSpec& r : rest.roles) {
      if (!RoleFits(r, m) || r.replicas <= 0) continue;
      --r.replicas;
      r.min_members = std::max(r.min_members - 1, 0);
      break;
    }
  }
  if (bound == 0) return Planner(options).PlanGang(state, spec);
  if (rest.TotalReplicas() == 0) {
    return Unplaceable{"every member of gang " + g.key.ToString() + " is bound", false};
  }
  rest.quorum = std::max(spec.EffectiveQuorum() - bound, 1);
  const topology::ClusterTopology& topo = state.topology();
  auto covers = [&](int domain) {
    const topology::Domain& d = topo.domain(domain);
    return std::all_of(bound_nodes.begin(), bound_nodes.end(), [&](std::size_t n) {
      const int p = topo.TreePosition(static_cast<int>(n));
      return p >= d.first_node && p < d.end_node;
    });
  };
  int domain = bound_nodes.empty() ? 0 : topo.LeafDomainOf(static_cast<int>(bound_nodes.front()));
  while (domain > 0 && !covers(domain)) domain = topo.domain(domain).parent;
  PlanResult result = Unplaceable{};
  for (; domain >= 0; domain = topo.domain(domain).parent) {
    PlannerOptions confined = options;
    if (domain > 0) {
      const topology::Domain& d = topo.domain(domain);
      std::vector<bool> inside(state.node_count(), false);
      for (int p = d.first_node; p < d.end_node; ++p) inside[topo.NodeAt(p)] = true;
      confined.role_node_mask.resize(rest.roles.size());
      for (std::vector<bool>& mask : confined.role_node_mask) {
        if (mask.empty()) {
          mask = inside;
        } else {
          for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = mask[i] && inside[i];
        }
      }
    }
    result = Planner(confined).PlanGang(state, rest);
    if (std::holds_alternative<Plan>(result)) return result;
  }
  return result;
}

tl::expected<PlanProposal, std::string> ProposePlan(const ClusterState& state, const GangRecord& g,
                                                    const PlannerOptions& options,
                                                    int max_held_binds) {
  const GangSpec& spec = SpecOf(g);
  if (spec.EffectiveQuorum() > max_held_binds) {
    return tl::unexpected(
        "gang " + g.key.ToString() + " needs " + std::to_string(spec.EffectiveQuorum()) +
        " binds held at once; the bind pool allows " + std::to_string(max_held_binds));
  }
  PlanResult result = PlanRemaining(state, g, spec, options);
  if (auto* no = std::get_if<Unplaceable>(&result)) return tl::unexpected(std::move(no->reason));
  PlanProposal proposal;
  proposal.plan = std::move(std::get<Plan>(result));
  const Plan& plan = proposal.plan;
  // A gang whose victims left: its members keep the nodes the victim plan reserved for them
  // (kube-scheduler nominated them there) when the new plan has them.
  const Plan* reserved = g.preemption ? state.HoldOf(g.key) : nullptr;
  // Keep each member's slot when the new plan still has a slot for it on its node.
  std::vector<bool> taken(plan.pods.size(), false);
  for (const auto& [uid, slot] : g.slot_of) {
    const auto member = g.members.find(uid);
    if (member == g.members.end()) continue;
    const GangMember& m = member->second;
    std::string node = m.node;
    if (node.empty() && reserved && slot < static_cast<int>(reserved->pods.size())) {
      node = reserved->pods[slot].node;
    }
    for (std::size_t i = 0; i < plan.pods.size(); ++i) {
      if (!taken[i] && SlotFits(plan.pods[i], m) && plan.pods[i].node == node) {
        taken[i] = true;
        proposal.slot_of[uid] = static_cast<int>(i);
        break;
      }
    }
  }
  return proposal;
}

std::optional<int> FreeSlot(const Plan& plan, const std::map<std::string, int>& slot_of,
                            const GangMember& m) {
  if (auto it = slot_of.find(m.uid); it != slot_of.end()) return it->second;
  std::vector<bool> taken(plan.pods.size(), false);
  for (const auto& [uid, slot] : slot_of) taken[slot] = true;
  int pick = -1;
  for (std::size_t i = 0; i < plan.pods.size(); ++i) {
    if (taken[i] || !SlotFits(plan.pods[i], m)) continue;
    if (pick < 0) pick = static_cast<int>(i);
    if (m.index && plan.pods[i].index == *m.index) {  // its own replica index, when free
      pick = static_cast<int>(i);
      break;
    }
  }
  if (pick < 0) return std::nullopt;
  return pick;
}

std::vector<std::vector<bool>> RoleMask(const GangSpec& spec, const GangMember& member,
                                        const Offer& offer, std::size_t node_count) {
  std::vector<std::vector<bool>> mask(spec.roles.size());
  for (std::size_t r = 0; r < spec.roles.size(); ++r) {
    if (!RoleFits(spec.roles[r], member)) continue;
    mask[r].assign(node_count, false);
    for (std::size_t n : offer.nodes) mask[r][n] = true;
  }
  return mask;
}

}  // namespace gangsched::scheduler
