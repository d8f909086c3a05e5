#include "scheduler/gang_preemption.h"

#include <algorithm>
#include <map>
#include <utility>

#include "scheduler/plan_proposal.h"

namespace gangsched::scheduler {

std::vector<VictimUnit> VictimUnits(const ClusterState& state, const GangRegistry& gangs,
                                    std::int32_t priority, const GangKey& self) {
  std::vector<VictimUnit> units;
  std::map<GangKey, std::size_t> unit_of_gang;
  for (const auto& [uid, bound] : state.bound_pods()) {
    const GangRecord* gang = gangs.OfPod(uid);
    if (gang != nullptr && gang->PodSource() != GangSource::kSinglePod) {
      // A gang goes whole or not at all, at the priority of its highest member; a gang still
      // binding does not go at all (its members in flight would bind into a broken gang).
      if (gang->key == self || SpecOf(*gang).priority >= priority) continue;
      if (BoundCount(*gang) < DeclaredQuorum(*gang)) continue;
      auto [at, fresh] = unit_of_gang.try_emplace(gang->key, units.size());
      if (fresh)
        units.push_back({"gang " + gang->key.ToString(), {}, SpecOf(*gang).priority, true});
      units[at->second].uids.push_back(uid);
      continue;
    }
    if (bound.priority >= priority) continue;
    units.push_back(
        {"pod " + bound.namespace_name + "/" + bound.name, {uid}, bound.priority, false});
  }
  return units;
}

std::optional<VictimPlan> ProposeVictims(const ClusterState& state, const GangRegistry& gangs,
                                         const GangRecord& g, const PlannerOptions& options) {
  const GangSpec& spec = SpecOf(g);
  if (spec.EffectiveQuorum() <= 1) return std::nullopt;  // a lone pod: kube-scheduler's own
  if (!state.AnyPodBelow(spec.priority)) return std::nullopt;
  std::vector<VictimUnit> units = VictimUnits(state, gangs, spec.priority, g.key);
  if (units.empty()) return std::nullopt;
  auto plan_on = [&](const ClusterState& scratch) {
    return PlanRemaining(scratch, g, spec, options);
  };
  return ChooseVictims(state, g.key, std::move(units), plan_on);
}

std::string DescribePreemption(const ClusterState& state, const GangKey& gang,
                               const VictimPlan& victims) {
  std::vector<std::string> names;
  for (const VictimUnit& u : victims.units) names.push_back(u.name);
  std::string nodes;
  for (const auto& [node, uids] : victims.victims_by_node) {
    nodes += (nodes.empty() ? "" : ", ") + node;
  }
  return "gang " + gang.ToString() + " preempts " + DescribeVictims(victims.pods, names) +
         " holding " + std::to_string(victims.gpus) + " GPUs on node" +
         (victims.victims_by_node.size() == 1 ? " " : "s ") + nodes + "; its placement (" +
         DescribePlan(victims.plan, state.topology().level_names()) +
         ") is reserved until they leave";
}

std::vector<std::string> VictimsOn(const ClusterState& state, const VictimPlan& victims,
                                   const std::string& node) {
  std::vector<std::string> left;
  auto it = victims.victims_by_node.find(node);
  if (it == victims.victims_by_node.end()) return left;
  for (const std::string& uid : it->second) {
    if (state.bound_pods().count(uid)) left.push_back(uid);
  }
  return left;
}

int VictimsLeft(const ClusterState& state, const VictimPlan& victims) {
  int left = 0;
  for (const auto& [node, uids] : victims.victims_by_node) {
    left += static_cast<int>(VictimsOn(state, victims, node).size());
  }
  return left;
}

FilterDecision PreemptionDecision(const ClusterState& state, const GangKey& key,
                                  const VictimPlan& victims, std::optional<int> slot,
                                  const std::string& role) {
  const std::string gang = "gang " + key.ToString();
  if (!slot) {
    return RejectAll{gang + ": every " + role +
                     " slot of its preemption plan is taken by other pods"};
  }
  const std::string& node = victims.plan.pods[*slot].node;
  const std::vector<std::string> here = VictimsOn(state, victims, node);
  // A member whose node needs no eviction gets no candidate: its node is reserved while the other
  // members' victims leave.
  if (here.empty()) {
    return RejectAll{gang + ": node " + node + " is reserved for this pod while " +
                     std::to_string(VictimsLeft(state, victims)) +
                     " lower-priority pods preempted for the gang leave its other nodes"};
  }
  std::vector<std::string> names;
  for (const VictimUnit& u : victims.units) {
    const bool on_node = std::any_of(u.uids.begin(), u.uids.end(), [&](const std::string& uid) {
      return std::find(here.begin(), here.end(), uid) != here.end();
    });
    if (on_node) names.push_back(u.name);
  }
  // Only the planned node is a preemption candidate (FailedNodes); every other offered node stays
  // unresolvable so kube-scheduler's per-pod preemption looks nowhere else (DESIGN.md §3.3).
  return PreemptOn{node,
                   gang + " needs this node after preempting " +
                       DescribeVictims(static_cast<int>(here.size()), names),
                   gang + " planned this pod on node " + node + " after preemption"};
}

std::vector<PreemptCandidate> DropGangBreakers(const GangRegistry& gangs,
                                               std::vector<PreemptCandidate> candidates) {
  std::vector<PreemptCandidate> kept;
  for (auto& c : candidates) {
    std::map<const GangRecord*, int> victims_per_gang;
    for (const auto& uid : c.victim_uids) {
      if (const GangRecord* g = gangs.OfPod(uid)) ++victims_per_gang[g];
    }
    bool breaks_gang = false;
    for (const auto& [gang, victims] : victims_per_gang) {
      const int bound = BoundCount(*gang);
      const int quorum = DeclaredQuorum(*gang);
      if (quorum <= 1) continue;
      // A running gang must keep its quorum; a gang still binding (or partly bound) needs every
      // member it has, so no pod of it is a victim (found by the soak: a plain pod's preemption
      // evicted three members of a gang whose last Bindings were in flight).
      if (bound >= quorum ? bound - victims < quorum : victims > 0) breaks_gang = true;
    }
    if (!breaks_gang) kept.push_back(std::move(c));
  }
  return kept;
}

}  // namespace gangsched::scheduler
