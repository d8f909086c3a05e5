// Gang-wide victim plans (DESIGN.md §3.9): where a gang that does not fit would go if pods of
// lower priority were evicted, and which of them to evict. Pure: works on scratch copies of the
// cluster state and plans with the caller's planner, so the placement follows the same topology
// objective as an ordinary plan. Owns the choice of victims; must not touch live state, nor know
// how victims are evicted (kube-scheduler's preempt verb, api/).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "scheduler/cluster_state.h"
#include "scheduler/plan.h"

namespace gangsched::scheduler {

// What is evicted as a whole: a pod of its own, or every bound pod of a gang (a gang is never
// evicted in part, so it is never left running below its quorum).
struct VictimUnit {
  std::string name;               // "pod ml/x" or "gang ml/old"
  std::vector<std::string> uids;  // its bound pods (keys of ClusterState::bound_pods)
  std::int32_t priority = 0;
  bool gang = false;
};

struct VictimPlan {
  Plan plan;                      // the preemptor's placement once the victims are gone
  std::vector<VictimUnit> units;  // the chosen victims, least disruptive first
  // Node name -> victim pod UIDs on it. Every victim is on a node of the plan: kube-scheduler
  // evicts only pods of the node it nominates (reference/extender-protocol.md §2.6).
  std::map<std::string, std::vector<std::string>> victims_by_node;
  int pods = 0;
  std::int64_t gpus = 0;
};

// Plans the preemptor on a given state (the caller's planner and options, same objective).
using PlanOn = std::function<PlanResult(const ClusterState&)>;

// The preemptor's plan on capacity where `units` (all of strictly lower priority) are removable,
// with the least disruptive set of victims that makes it fit; nothing when even evicting every
// unit does not make room. `preemptor`'s own hold in `state` is not counted as taken.
std::optional<VictimPlan> ChooseVictims(const ClusterState& state, const GangKey& preemptor,
                                        std::vector<VictimUnit> units, const PlanOn& plan_on);

// "2 lower-priority pods (gang ml/old)" for people.
std::string DescribeVictims(int pods, const std::vector<std::string>& unit_names);

}  // namespace gangsched::scheduler
